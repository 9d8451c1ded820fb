/**
 * A body of several binary parts, each preceded by its length as a little-endian
 * u32: how capture pages and onboarding uploads send a frame's header, JPEG, mask and
 * landmarks in one request without base64. No Node or browser APIs.
 */
export function packParts(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + 4 + part.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const part of parts) {
    view.setUint32(at, part.length, true);
    out.set(part, at + 4);
    at += 4 + part.length;
  }
  return out;
}

/** Exactly `count` parts (views into `body`), or what is wrong with the body. */
export function unpackParts(body: Uint8Array, count: number): { parts: Uint8Array[] } | { error: string } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < count; i += 1) {
    if (at + 4 > body.length) return { error: `truncated: part ${i + 1} of ${count} missing` };
    const length = view.getUint32(at, true);
    if (at + 4 + length > body.length) return { error: `truncated inside part ${i + 1}` };
    parts.push(body.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== body.length) return { error: `${body.length - at} bytes after its ${count} parts` };
  return { parts };
}
