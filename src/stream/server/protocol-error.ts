import type { ControlErrorCode } from '../../common/wire/control.js';

/** A bad control request: answered with an `error` carrying `code`; the connection stays open. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}
