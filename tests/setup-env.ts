/**
 * Test environment defaults. Tests read only what the repository ships (tests/test-data.ts), so nothing
 * here points outside the clone; explicit environment variables always win.
 */
process.env.LOG_LEVEL ??= 'warn';
