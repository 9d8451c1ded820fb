/**
 * A refusal the client caused and can act on: the HTTP status, a stable machine
 * code and a one-line message. The routes turn it into `{ error: { code, message } }`;
 * anything else thrown is a bug and answers 500 without details.
 */
export class OnboardingError extends Error {
  override name = 'OnboardingError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}
