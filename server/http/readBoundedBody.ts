import type { Request } from 'express';

/**
 * Reads a request body up to `max` bytes. Over the limit it stops buffering at once and
 * rejects with `tooLarge()` (the router answers 413); the rest of the body is drained into
 * nothing rather than held in memory.
 */
export function readBoundedBody(req: Request, max: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0, failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)); });
    req.on('error', (error) => { if (!failed) { failed = true; reject(error); } });
  });
}
