import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup-env.ts'],
    // Real sockets, real models, real images: integration tests take seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: parallel files fight over ONNX threads; forks keep native addons isolated.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 80 },
    },
  },
});
