/**
 * What the server and the trainers use of an avatar store (issue 15): the folder
 * store (AvatarStore.ts, a local or shared mounted folder) implements it today, so
 * an object store can follow without touching its users. Kept to the calls they
 * make; the ownership rules are the folder store's (docs/onboarding.md, Identity):
 * an owned avatar is never visible without its owner, and an avatar without an
 * owner is the operator's. Types only.
 */

export interface AvatarEntry {
  id: string;
  bytes: number;
  modifiedAt: string;
}

export interface AvatarStorage {
  /** A local file of avatar `id` to render from, or a clear error when there is none. */
  existing(id: string): string;
  /** Whether `userId` may drive avatar `id` in a call (an operator's avatar: everyone; an owned one: its owner). */
  canDrive(userId: string, id: string): boolean;
  /** The owner's user id, or undefined for an operator's avatar. */
  ownerOf(id: string): string | undefined;
  /** The operator's avatars (no owner), listed to everyone. */
  listPublic(): AvatarEntry[];
  /** The avatars `owner` owns. */
  listFor(owner: string): AvatarEntry[];
  /**
   * Publishes `sourceFile` (a local file) as avatar `id` of `owner`, replacing an
   * earlier version atomically: readers see the old or the new version, never a
   * part. Refuses an id that belongs to someone else or to the operator.
   */
  installFor(owner: string, id: string, sourceFile: string): void;
  /** Deletes avatar `id` of `owner` and the caller's `alsoRemove` paths; false when `owner` has no such avatar. */
  deleteFor(owner: string, id: string, alsoRemove?: readonly string[]): boolean;
}
