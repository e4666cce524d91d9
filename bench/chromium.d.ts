// Types of bench/chromium.js for the browser tests (tests/e2e/helpers.ts).
import type { Browser } from 'playwright-core';

export const CHROMIUM: string;
export const CHROMIUM_ARGS: string[];
export function launchChromium(): Promise<Browser>;
