import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/common/errors.js';
import { OPTIONS, configurationTable, resolveConfig } from '../../../src/common/config.js';

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('applies defaults when neither flag nor variable is set', () => {
    const config = resolveConfig('serve', {}, {});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      framesPort: 6000,
      controlPort: 7000,
      sessionTimeoutMs: 30_000,
      resultsDir: 'out/server',
    });
    expect(config.source).toBeUndefined();
  });

  it('takes good values from the environment, coerced to their types', () => {
    const config = resolveConfig(
      'serve',
      {},
      {
        FRAMESIFT_FRAMES_PORT: '0',
        FRAMESIFT_SESSION_TIMEOUT_MS: '250',
        FASHION_MNIST_DIR: '/data/fm',
        CAMERA_TIMEOUT: '2.5',
      },
    );
    expect(config).toMatchObject({
      framesPort: 0,
      sessionTimeoutMs: 250,
      fashionMnistDir: '/data/fm',
      cameraTimeout: 2.5,
    });
  });

  it('prefers a flag over the variable, and the variable over the default', () => {
    const env = { FRAMESIFT_CONTROL_PORT: '7100', FRAMESIFT_HOST: '0.0.0.0' };
    expect(resolveConfig('serve', { controlPort: '7200' }, env)).toMatchObject({
      controlPort: 7200,
      host: '0.0.0.0',
    });
    expect(resolveConfig('serve', {}, env).controlPort).toBe(7100);
    expect(resolveConfig('serve', {}, { FRAMESIFT_CONTROL_PORT: '' }).controlPort).toBe(7000);
  });

  it('rejects bad values with a ConfigError naming the variable or flag and the expected form', () => {
    const port = configError(() => resolveConfig('serve', {}, { FRAMESIFT_FRAMES_PORT: '70000' }));
    expect(port.message).toBe(
      'FRAMESIFT_FRAMES_PORT="70000": expected an integer port 0-65535 (0 = any free port)',
    );
    expect(port.exitCode).toBe(2);
    expect(configError(() => resolveConfig('serve', { sessionTimeoutMs: '-5' }, {})).message).toContain(
      '--session-timeout-ms="-5": expected a positive integer',
    );
    expect(configError(() => resolveConfig('run', {}, { FRAMESIFT_FPS: 'fast' })).message).toContain(
      'FRAMESIFT_FPS="fast"',
    );
    expect(configError(() => resolveConfig('dataset', {}, { FRAMESIFT_SPLIT: 'validation' })).message).toBe(
      'FRAMESIFT_SPLIT="validation": expected test or train',
    );
    expect(configError(() => resolveConfig('serve', {}, { CAMERA_ADDRESS: 'not a url' })).message).toContain(
      'CAMERA_ADDRESS',
    );
  });

  // Both used to pass the schema and fail only after a whole session had been streamed.
  it('checks --save-name and --change-options at start-up, naming the problem (exit 2)', () => {
    const dedupe = { mode: 'dedupe' };
    const name = configError(() => resolveConfig('run', { ...dedupe, saveName: '../orders' }, {}));
    expect(name.exitCode).toBe(2);
    expect(name.message).toBe(
      '--save-name="../orders": expected an order number or name: at most 100 characters and 200 UTF-8 bytes; no path separators, "..", leading dot, <>:"|?*, control, bidi or other invisible characters (save name "../orders": path separators (/ or \\) are not allowed)',
    );
    expect(
      configError(() => resolveConfig('run', dedupe, { FRAMESIFT_SAVE_NAME: '.hidden' })).message,
    ).toContain('must not start with "."');
    const change = configError(() => resolveConfig('run', { changeOptions: 'speed=3' }, {}));
    expect(change.exitCode).toBe(2);
    expect(change.message).toContain('--change-options="speed=3": expected comma-separated key=number pairs');
    expect(change.message).toContain('expected one of resize, border');
    expect(
      configError(() => resolveConfig('dedupe', {}, { FRAMESIFT_CHANGE_OPTIONS: 'pixel=300' })).message,
    ).toContain('pixel=300: expected an integer 0-255');
    // Saving needs a dedupe mode.
    expect(configError(() => resolveConfig('run', { saveName: '4711' }, {})).message).toContain(
      'saving uniques needs --mode dedupe or both',
    );
    expect(
      resolveConfig('run', { ...dedupe, saveName: ' 4711 ', changeOptions: 'pixel=40' }, {}),
    ).toMatchObject({
      saveName: ' 4711 ',
      changeOptions: 'pixel=40',
    });
  });

  it('resolves only the options of the command', () => {
    expect(resolveConfig('dataset', {}, { FRAMESIFT_FRAMES_PORT: 'ignored' })).not.toHaveProperty(
      'framesPort',
    );
  });

  it('lists every option in the README table', () => {
    const table = configurationTable();
    for (const spec of Object.values(OPTIONS)) expect(table).toContain(`\`${spec.env}\``);
  });
});
