/**
 * `/metrics` and `/api/coefficient-streams` name rooms and peers, so they are not
 * public. They are served on the admin listener (VOXFACE_ADMIN_HOST, loopback by
 * default: a private address the operator chooses), and on the main port only to
 * `Authorization: Bearer $VOXFACE_METRICS_TOKEN` when that is set. The main port
 * never trusts the caller's address: behind a reverse proxy every request comes
 * from loopback.
 */
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Metrics } from '../metrics';
import type { CoefficientIngest } from '../streams/CoefficientIngest';

export const INTERNAL_PATHS = ['/metrics', '/api/coefficient-streams'] as const;

export function internalRouter(metrics: Metrics, coefficients: CoefficientIngest): express.Router {
  const router = express.Router();
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  router.get('/api/coefficient-streams', (_req, res) => {
    const now = Date.now();
    res.json(coefficients.streams().map((s) => ({ room: s.roomId, peer: s.peerId, ...s.stream.stats(now) })));
  });
  return router;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (\S+)$/.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  // Compare equal lengths only (timingSafeEqual's rule); the length of a secret token is not the secret.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The main port's gate in front of the internal paths: the metrics token, or a refusal that says where they are. */
export function internalGate(metricsToken: string | undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!metricsToken) {
      res.status(404).json({ error: `${req.baseUrl || req.path} is served on the admin listener (VOXFACE_ADMIN_HOST, VOXFACE_ADMIN_PORT), or here with VOXFACE_METRICS_TOKEN set` });
      return;
    }
    if (!bearerMatches(req.headers.authorization, metricsToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      res.status(401).json({ error: 'send Authorization: Bearer <VOXFACE_METRICS_TOKEN>' });
      return;
    }
    next();
  };
}
