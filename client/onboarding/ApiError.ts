/**
 * A refused or failed onboarding request, as the page handles it: the HTTP status
 * (0 without an answer), the server's machine code and message. The server answers
 * refusals with `{ error: { code, message } }` (server/onboarding/onboardingRouter.ts).
 */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The code and message of a refusal from its parsed JSON body, with `http_<status>` when it has none. */
export function refusalOf(status: number, body: unknown): { code: string; message: string } {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    code: typeof error?.code === 'string' ? error.code : `http_${status}`,
    message: typeof error?.message === 'string' ? error.message : `HTTP ${status}`,
  };
}
