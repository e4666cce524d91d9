/**
 * Browser tests drive Debian's chromium (/usr/bin/chromium) through playwright-core; never a browser
 * download. In CI (CI=true) a missing chromium fails the test with a clear message; elsewhere the tests
 * skip with the reason shown.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../../bench/chromium.js';

export { CHROMIUM };

export const chromiumMissing = !existsSync(CHROMIUM);
if (chromiumMissing && process.env.CI === 'true') {
  throw new Error(
    `${CHROMIUM} is missing: the browser tests need Debian's chromium (apt-get install chromium)`,
  );
}
export const skipReason = chromiumMissing ? `skipped: ${CHROMIUM} is not installed` : '';

export function launchBrowser(): Promise<Browser> {
  return launchChromium();
}

/** How long a browser test waits for the page to show something (a loaded shared machine is slow). */
export const SLOW = 20_000;
