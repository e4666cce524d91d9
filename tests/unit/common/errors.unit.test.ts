import { describe, expect, it } from 'vitest';
import { ConfigError, FramesiftError, UserError } from '../../../src/common/errors.js';
import { FrameFormatError, decodeFrame } from '../../../src/common/wire/header.js';
import { ProtocolError } from '../../../src/stream/server/protocol-error.js';
import { CameraPollError } from '../../../src/stream/sources/camera.js';

describe('error classes', () => {
  it('each sets its name and carries a stable code', () => {
    const cases: Array<[FramesiftError, string, string]> = [
      [new UserError('x'), 'UserError', 'user-error'],
      [new ConfigError('x'), 'ConfigError', 'bad-config'],
      [new ProtocolError('unknown-session', 'x'), 'ProtocolError', 'unknown-session'],
      [new CameraPollError('timeout', 'x'), 'CameraPollError', 'camera-timeout'],
    ];
    for (const [err, name, code] of cases) {
      expect(err).toBeInstanceOf(FramesiftError);
      expect(err.name).toBe(name);
      expect(err.code).toBe(code);
    }
    expect(new ConfigError('x').exitCode).toBe(2);
  });

  it('a frame format error is coded by its reason', () => {
    let caught: unknown;
    try {
      decodeFrame(Buffer.from([1, 2, 3]));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FrameFormatError);
    expect(caught).toMatchObject({
      name: 'FrameFormatError',
      code: 'short-message',
      reason: 'short-message',
    });
  });
});
