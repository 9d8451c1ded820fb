/**
 * The onboarding HTTP API under /api/onboarding (docs/onboarding.md). Every
 * request carries `Authorization: Bearer <onboarding token>` (server/auth/AccessToken.ts;
 * a call token is refused); the token's `sub` is the user id that owns sessions,
 * jobs and avatars. Other users' resources answer 404, exactly like missing ones.
 * Errors are `{ error: { code, message } }` with a 4xx status.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { TokenAuthority } from '../auth/TokenAuthority';
import { readBoundedBody } from '../http/readBoundedBody';
import { EncoderModels, encoderModelInfo, type EncoderModel } from '../encoder/EncoderModels';
import { Logger } from '../Logger';
import { OnboardingError } from './OnboardingError';
import { publicJob } from './OnboardingProgress';
import type { AvatarView, OnboardingService } from './OnboardingService';
import { UserRateLimiter } from './UserRateLimiter';

const logger = new Logger('onboarding');
const JSON_LIMIT = '16kb';

function sendError(res: Response, status: number, code: string, message: string): void {
  if (res.headersSent) return;
  res.status(status).json({ error: { code, message } });
}

function user(res: Response): string {
  return res.locals.user as string;
}

/** A body up to `max` bytes; over it, a 413 frame_too_large (readBoundedBody). */
function readBody(req: Request, max: number): Promise<Buffer> {
  return readBoundedBody(req, max, () => new OnboardingError(413, 'frame_too_large', `frame upload is over the limit of ${max} bytes`));
}

type Handler = (req: Request, res: Response) => unknown;

/** Jobs are sent without server paths, pids or trainer stderr (as on the progress channel). */
function publicView(view: AvatarView): Omit<AvatarView, 'job'> & { job?: ReturnType<typeof publicJob> } {
  return view.job ? { ...view, job: publicJob(view.job) } : view;
}

/** Runs a sync or async handler and routes what it throws to the error handler. */
const wrap = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => {
  Promise.resolve().then(() => handler(req, res)).catch(next);
};

export function onboardingRouter(service: OnboardingService, tokens: TokenAuthority): express.Router {
  const router = express.Router();
  const limiter = new UserRateLimiter(service.limits.requestsPerSecond, service.limits.requestBurst);
  const json = express.json({ limit: JSON_LIMIT });

  router.use((req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([^\s]+)$/.exec(header);
    if (!match) { sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <onboarding token>'); return; }
    const check = tokens.verifyOnboarding(match[1]!);
    if (!check.ok) { sendError(res, 401, 'unauthorized', `token refused (${check.reason}): ${check.message}`); return; }
    if (!limiter.take(check.claims.sub)) {
      res.setHeader('Retry-After', '1');
      sendError(res, 429, 'rate_limited', `over ${service.limits.requestsPerSecond} requests per second; slow down`);
      return;
    }
    res.locals.user = check.claims.sub;
    next();
  });

  router.post('/sessions', json, wrap((req, res) => {
    res.status(201).json({ session: service.createSession(user(res), req.body), limits: service.limits });
  }));
  router.get('/sessions', wrap((_req, res) => {
    res.json({ sessions: service.sessions.list(user(res)) });
  }));
  router.get('/sessions/:id', wrap((req, res) => {
    const { session, indices, bytes } = service.frames(user(res), String(req.params.id));
    res.json({ session, frames: indices, bytes });
  }));
  router.put('/sessions/:id/frames/:index', wrap(async (req, res) => {
    const id = String(req.params.id), index = /^\d{1,9}$/.test(String(req.params.index)) ? Number(req.params.index) : Number.NaN;
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    // Checked before reading: the index, the session, and the declared size against every byte limit.
    if (service.admitFrame(user(res), id, index, declared).duplicate) {
      req.resume();
      res.status(200).json({ index, stored: false });
      return;
    }
    const body = await readBody(req, service.limits.maxFrameBytes);
    const result = await service.putFrame(user(res), id, index, body);
    res.status(result.stored ? 201 : 200).json(result);
  }));
  router.put('/sessions/:id/plates/:index', wrap(async (req, res) => {
    const id = String(req.params.id), index = /^\d{1,9}$/.test(String(req.params.index)) ? Number(req.params.index) : Number.NaN;
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (service.admitPlate(user(res), id, index, declared).duplicate) {
      req.resume();
      res.status(200).json({ index, stored: false });
      return;
    }
    const body = await readBody(req, service.limits.maxPlateBytes);
    const result = await service.putPlate(user(res), id, index, body);
    res.status(result.stored ? 201 : 200).json(result);
  }));
  router.post('/sessions/:id/finish', json, wrap(async (req, res) => {
    const { avatarId, job } = await service.finish(user(res), String(req.params.id), req.body);
    res.status(202).json({ avatarId, job: publicJob(job) });
  }));
  router.delete('/sessions/:id', wrap((req, res) => {
    service.deleteSession(user(res), String(req.params.id));
    res.status(204).end();
  }));
  router.get('/avatars', wrap((_req, res) => {
    res.json({ avatars: service.avatars(user(res)).map(publicView) });
  }));
  router.get('/avatars/:id', wrap((req, res) => {
    res.json({ avatar: publicView(service.avatar(user(res), String(req.params.id))) });
  }));
  // The avatar's expression encoder for its owner's page (issue 16, docs/fidelity.md): what it
  // is and its sha256 ({ encoder: null } for an avatar without one: every owner's page asks, and a
  // 404 there would be a console error on every blendshape avatar's page), then the ONNX bytes
  // (404 no_encoder without one).
  const encoders = new EncoderModels();
  const modelOf = (req: Request, res: Response) => encoders.get(service.drivableAvatarFile(user(res), String(req.params.id)));
  const encoderOf = (req: Request, res: Response): EncoderModel => {
    const model = modelOf(req, res);
    if (!model) throw new OnboardingError(404, 'no_encoder', `avatar '${String(req.params.id).slice(0, 64)}' has no expression encoder`);
    return model;
  };
  router.get('/avatars/:id/encoder', wrap((req, res) => {
    const model = modelOf(req, res);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ encoder: model ? encoderModelInfo(model) : null });
  }));
  router.get('/avatars/:id/encoder.onnx', wrap((req, res) => {
    const model = encoderOf(req, res);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('X-Voxface-Sha256', model.sha256);
    res.end(Buffer.from(model.onnx.buffer, model.onnx.byteOffset, model.onnx.byteLength));
  }));
  router.delete('/avatars/:id', wrap(async (req, res) => {
    await service.deleteAvatar(user(res), String(req.params.id));
    res.status(204).end();
  }));
  router.get('/jobs/:id', wrap((req, res) => {
    res.json({ job: publicJob(service.job(user(res), String(req.params.id))) });
  }));
  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such onboarding endpoint'));

  // Express recognises error handlers by their four parameters.
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof OnboardingError) {
      if (error.status === 413 && !req.complete) {
        // Refused before the whole body arrived: reply, drain the rest, and close the connection.
        res.setHeader('Connection', 'close');
        req.resume();
      }
      sendError(res, error.status, error.code, error.message);
      return;
    }
    const status = (error as { status?: unknown; type?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // body-parser: too large or malformed JSON.
      sendError(res, status, status === 413 ? 'body_too_large' : 'bad_request', error instanceof Error ? error.message : 'bad request');
      return;
    }
    logger.error(`${req.method} ${req.originalUrl} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    sendError(res, 500, 'internal', 'internal error');
  });
  return router;
}
