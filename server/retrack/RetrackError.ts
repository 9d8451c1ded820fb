/**
 * A re-tracking failure the user can fix (no Chromium, no model file, an image
 * of the wrong size): one sentence, no stack. It extends PrepareError so the
 * `voxface` command line already prints it alone and exits with status 2.
 */
import { PrepareError } from '../dataset/PrepareError';

export class RetrackError extends PrepareError {
  override name = 'RetrackError';
}
