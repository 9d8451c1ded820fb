/**
 * Where trained avatars live: `<dir>/<id>.vxa`. Ids are checked against the
 * project's id pattern before any path is built, so an id cannot leave the folder.
 *
 * Avatars trained by onboarding belong to a user: `<dir>/<id>.owner.json`
 * (`{ owner, createdAt }`) is written atomically BEFORE the avatar file is
 * renamed into place, so an owned avatar is never visible without its owner.
 * Avatars without an owner file are the operator's (`voxface train`).
 * Writes are durable (fsync of file and folder); temporary files left by a
 * crashed writer are removed when the store is opened. It implements
 * AvatarStorage, what the server and the trainers use of a store.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ID_PATTERN } from '../../shared/signaling/limits';
import { copyFileAtomic, fsyncFolder, sweepStalePartials, writeFileAtomic } from '../atomicFile';
import { Logger } from '../Logger';
import type { AvatarEntry, AvatarStorage } from './AvatarStorage';

export type { AvatarEntry } from './AvatarStorage';

const logger = new Logger('AvatarStore');

export const AVATAR_EXTENSION = '.vxa';
export const OWNER_EXTENSION = '.owner.json';

/** The folder store: every node of a cluster mounts the same folder (docs/cluster.md). */
export class AvatarStore implements AvatarStorage {
  readonly dir: string;

  /**
   * `shared`: other nodes write into this folder too (a cluster, docs/cluster.md). Then
   * nothing is swept at open: a temporary file's pid may be a live writer on another
   * node, which this one cannot see.
   */
  constructor(dir: string, options: { shared?: boolean } = {}) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    if (options.shared) return;
    // Only a dead writer's: `voxface train --out` may be writing into the store right now.
    const swept = sweepStalePartials(dir);
    if (swept.length) logger.warn(`removed ${swept.length} temporary file(s) left by an interrupted write: ${swept.join(', ')}`);
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

  /** The owner's user id, or undefined for an operator's avatar (no owner file, or an unreadable one). */
  ownerOf(id: string): string | undefined {
    const path = this.#ownerPath(id);
    if (!existsSync(path)) return undefined;
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as { owner?: unknown };
      return typeof parsed.owner === 'string' ? parsed.owner : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether `userId` may drive avatar `id` in a call: an operator's avatar (no owner
   * file) is open to everyone, an owned one only to its owner, and an owner file that
   * cannot be read refuses everyone rather than making the avatar public.
   */
  canDrive(userId: string, id: string): boolean {
    if (!existsSync(this.#ownerPath(id))) return true;
    return this.ownerOf(id) === userId;
  }

  /** Avatars without an owner: the operator's, listed to everyone. */
  listPublic(): AvatarEntry[] {
    return this.list().filter((entry) => !existsSync(this.#ownerPath(entry.id)));
  }

  /** The avatars `owner` owns. */
  listFor(owner: string): AvatarEntry[] {
    return this.list().filter((entry) => this.ownerOf(entry.id) === owner);
  }

  /**
   * Copies `sourceFile` in as avatar `id` of `owner`, replacing an earlier version
   * of the same avatar (a better checkpoint) atomically. Refuses an id that
   * belongs to someone else or to the operator.
   */
  installFor(owner: string, id: string, sourceFile: string): void {
    const path = this.pathOf(id);
    const current = this.ownerOf(id);
    if (existsSync(path) && current !== owner) throw new Error(`avatar '${id}' exists and is not ${owner}'s`);
    writeFileAtomic(this.#ownerPath(id), Buffer.from(`${JSON.stringify({ owner, createdAt: new Date().toISOString() })}\n`));
    copyFileAtomic(sourceFile, path);
  }

  /**
   * Deletes avatar `id` of `owner` and `alsoRemove` (its dataset, uploads, training
   * folder: paths the caller owns). False when there is no such avatar of that
   * owner, so another user's id and a missing id look the same.
   */
  deleteFor(owner: string, id: string, alsoRemove: readonly string[] = []): boolean {
    if (this.ownerOf(id) !== owner) return false;
    for (const extra of alsoRemove) rmSync(extra, { recursive: true, force: true });
    // The avatar first, the owner file last: a crash in between leaves an owner file without an avatar, never an unowned avatar.
    rmSync(this.pathOf(id), { force: true });
    fsyncFolder(this.dir);
    rmSync(this.#ownerPath(id), { force: true });
    fsyncFolder(this.dir);
    return true;
  }

  #ownerPath(id: string): string {
    if (!ID_PATTERN.test(id)) throw new TypeError(`invalid avatar id '${id.slice(0, 64)}'`);
    return join(this.dir, `${id}${OWNER_EXTENSION}`);
  }

  /** The file of an existing avatar, or a clear error. */
  existing(id: string): string {
    const path = this.pathOf(id);
    if (!existsSync(path)) throw new Error(`no avatar '${id}' in the store`);
    return path;
  }
}
