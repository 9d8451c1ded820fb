/**
 * /api/backgrounds: a user's background images (BackgroundImages.ts).
 *   PUT    /api/backgrounds?room=<room>   body: the PNG or JPEG bytes -> 201 { id, width, height }
 *   GET    /api/backgrounds?room=<room>   -> { backgrounds: [id, ...] } (oldest first)
 *   DELETE /api/backgrounds/<id>?room=<room> -> 204
 * `Authorization: Bearer <token>`: the call token the page joined `room` with, or an
 * onboarding token (then no room); its `sub` owns the images. Another user's id answers
 * 404 like a missing one. Errors are `{ error: { code, message } }` with a 4xx status.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { TokenAuthority } from '../auth/TokenAuthority';
import { readBoundedBody } from '../http/readBoundedBody';
import { Logger } from '../Logger';
import { UserRateLimiter } from '../onboarding/UserRateLimiter';
import { BackgroundError, type BackgroundImages } from './BackgroundImages';

const logger = new Logger('backgrounds');

function sendError(res: Response, status: number, code: string, message: string): void {
  if (!res.headersSent) res.status(status).json({ error: { code, message } });
}

const wrap = (handler: (req: Request, res: Response) => unknown) => (req: Request, res: Response, next: NextFunction) => {
  Promise.resolve().then(() => handler(req, res)).catch(next);
};

export function backgroundsRouter(images: BackgroundImages, tokens: TokenAuthority): express.Router {
  const router = express.Router();
  // Each upload runs ffmpeg: a few a second per user is plenty for people picking a picture.
  const limiter = new UserRateLimiter(2, 6);

  router.use((req, res, next) => {
    const match = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
    if (!match) { sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <call token> (with ?room=) or <onboarding token>'); return; }
    const room = typeof req.query.room === 'string' ? req.query.room : undefined;
    const check = room ? tokens.verifyCall(match[1]!, room) : tokens.verifyOnboarding(match[1]!);
    if (!check.ok) { sendError(res, 401, 'unauthorized', `token refused (${check.reason}): ${check.message}`); return; }
    if (!limiter.take(check.claims.sub)) {
      res.setHeader('Retry-After', '1');
      sendError(res, 429, 'rate_limited', 'too many background requests; slow down');
      return;
    }
    res.locals.user = check.claims.sub;
    next();
  });

  router.put('/', wrap(async (req, res) => {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > images.limits.maxBytes) {
      req.resume();
      throw new BackgroundError(413, 'too_large', `the upload is ${declared} bytes, over the limit of ${images.limits.maxBytes}`);
    }
    const added = await images.add(res.locals.user as string, await readBoundedBody(req, images.limits.maxBytes, () => new BackgroundError(413, 'too_large', `the upload is over the limit of ${images.limits.maxBytes} bytes`)));
    res.status(201).json(added);
  }));
  router.get('/', (_req, res) => {
    res.json({ backgrounds: images.list(res.locals.user as string) });
  });
  router.delete('/:id', (req, res) => {
    if (!images.remove(res.locals.user as string, String(req.params.id))) { sendError(res, 404, 'not_found', 'no such background'); return; }
    res.status(204).end();
  });

  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof BackgroundError) {
      sendError(res, error.status, error.code, error.message);
      return;
    }
    logger.warn(`background request failed: ${String(error)}`);
    sendError(res, 500, 'internal', 'the background could not be stored');
  });
  return router;
}
