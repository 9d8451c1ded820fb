/**
 * The local HTTP server the capture page talks to: it serves the built client
 * (dist/client), MediaPipe's wasm folder, the two models and the decoded frames,
 * and receives results by POST. Bound to 127.0.0.1 on a free port; nothing
 * outside this machine can reach it.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json',
  '.wasm': 'application/wasm', '.jpg': 'image/jpeg', '.task': 'application/octet-stream', '.tflite': 'application/octet-stream',
};

export interface CaptureServerRoutes {
  /** URL prefix (e.g. '/mediapipe/wasm/') to folder. */
  folders: Record<string, string>;
  /** Exact URL path to file. */
  files: Record<string, string>;
  /** POST path to handler of the whole body; a thrown error answers 500 with its message. */
  posts: Record<string, (body: Buffer) => void>;
}

export interface CaptureServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

function sendFile(res: ServerResponse, path: string): void {
  if (!existsSync(path) || !statSync(path).isFile()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  createReadStream(path).pipe(res);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startCaptureServer(routes: CaptureServerRoutes): Promise<CaptureServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (req.method === 'POST') {
      const handler = routes.posts[path];
      if (!handler) { res.writeHead(404).end('not found'); return; }
      try {
        handler(await readBody(req));
        res.writeHead(204).end();
      } catch (error) {
        res.writeHead(500).end(error instanceof Error ? error.message : String(error));
      }
      return;
    }
    const file = routes.files[path];
    if (file) { sendFile(res, file); return; }
    for (const [prefix, folder] of Object.entries(routes.folders)) {
      if (!path.startsWith(prefix)) continue;
      const target = normalize(join(folder, path.slice(prefix.length)));
      // No escaping the folder with '..'.
      if (target !== folder && !target.startsWith(folder.endsWith(sep) ? folder : folder + sep)) break;
      sendFile(res, target);
      return;
    }
    res.writeHead(404).end('not found');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => { if (!res.headersSent) res.writeHead(500).end(error.message); });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
