/**
 * Where trained avatars live: `<dir>/<id>.vxa`. Ids are checked against the
 * project's id pattern before any path is built, so an id cannot leave the folder.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN } from '../../shared/signaling/limits';

export const AVATAR_EXTENSION = '.vxa';

export interface AvatarEntry {
  id: string;
  bytes: number;
  modifiedAt: string;
}

export class AvatarStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  list(): AvatarEntry[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(AVATAR_EXTENSION))
      .map((name) => name.slice(0, -AVATAR_EXTENSION.length))
      .filter((id) => ID_PATTERN.test(id))
      .map((id) => {
        const stat = statSync(this.pathOf(id));
        return { id, bytes: stat.size, modifiedAt: stat.mtime.toISOString() };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The file of avatar `id` (which may not exist yet). */
  pathOf(id: string): string {
    if (!ID_PATTERN.test(id)) throw new TypeError(`invalid avatar id '${id.slice(0, 64)}'`);
    return join(this.dir, `${id}${AVATAR_EXTENSION}`);
  }

  /** The file of an existing avatar, or a clear error. */
  existing(id: string): string {
    const path = this.pathOf(id);
    if (!existsSync(path)) throw new Error(`no avatar '${id}' in the store`);
    return path;
  }
}
