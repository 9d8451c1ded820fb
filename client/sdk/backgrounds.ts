/**
 * Background images for an avatar's video: `uploadBackground` sends a PNG or JPEG to the
 * server (PUT /api/backgrounds, with the call token the page joins `room` with) and
 * resolves with its id, for `room.enableAvatar(avatarId, { background: { kind: 'image', id } })`.
 * The server converts it to 1280x720 (scaled to cover, centred) and keeps it for this
 * user only; docs/engine.md.
 */
export interface BackgroundUploadOptions {
  /** The server's origin ('' for this page's). */
  url?: string;
  /** The room of the call token; absent when `token` is an onboarding token. */
  room?: string;
  /** The call token for `room`, or an onboarding token. */
  token: string;
}

/** Largest upload the server takes by default (its VOXFACE limit may differ). */
export const MAX_BACKGROUND_BYTES = 8 * 1024 * 1024;

export async function uploadBackground(options: BackgroundUploadOptions, image: Blob): Promise<string> {
  if (image.size > MAX_BACKGROUND_BYTES) throw new RangeError(`the picture is ${image.size} bytes; backgrounds are at most ${MAX_BACKGROUND_BYTES}`);
  const query = options.room === undefined ? '' : `?room=${encodeURIComponent(options.room)}`;
  const reply = await fetch(`${options.url ?? ''}/api/backgrounds${query}`, {
    method: 'PUT', body: image, headers: { authorization: `Bearer ${options.token}`, 'content-type': image.type || 'application/octet-stream' },
  });
  const body = (await reply.json().catch(() => ({}))) as { id?: string; error?: { message?: string } };
  if (!reply.ok || typeof body.id !== 'string') throw new Error(`background upload failed (${reply.status}): ${body.error?.message ?? 'no reason given'}`);
  return body.id;
}
