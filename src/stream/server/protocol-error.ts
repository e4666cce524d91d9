import { FramesiftError } from '../../common/errors.js';
import type { ControlErrorCode } from '../../common/wire/control.js';

/** A bad control request: answered with an `error` carrying `code`; the connection stays open. */
export class ProtocolError extends FramesiftError {
  declare readonly code: ControlErrorCode;

  constructor(code: ControlErrorCode, message: string) {
    super(message, code);
  }
}
