/**
 * An error about the user's input or environment (not a bug): the CLI prints
 * its message alone, without a stack, and exits with status 2.
 */
export class PrepareError extends Error {
  override name = 'PrepareError';
}
