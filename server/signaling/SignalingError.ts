import type { SignalingErrorCode } from '../../shared/signaling/messages';

/** An error whose code and message go back to the client as they are. */
export class SignalingError extends Error {
  readonly code: SignalingErrorCode;

  constructor(code: SignalingErrorCode, message: string) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
  }
}
