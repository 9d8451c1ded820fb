/**
 * Training progress over socket.io, namespace `/onboarding`. A client connects with
 * `auth: { token }` (an onboarding token; its `sub` is the user) and receives only its
 * own jobs' events:
 *
 *   jobs      { jobs: TrainingJob[] }     once, on connect (to redraw after a reload)
 *   progress  { job: TrainingJob }        every stage change, progress line and snapshot
 *   preview   { jobId, avatarId, step, psnr, elapsedMs, png }   render | ground truth PNG
 *
 *   expired   { message }                 the token expired; the server disconnects next
 *
 * The channel only sends: clients act through the HTTP API. Anything a client emits
 * is ignored; a bad or expired token is refused at the handshake (`connect_error`
 * with a message starting `unauthorized`), and a socket is disconnected when its
 * token expires (a token is the user's right to hear about their jobs, not only to
 * start listening).
 */
import type { Namespace, Server as SocketIoServer } from 'socket.io';
import type { TokenAuthority } from '../auth/TokenAuthority';
import { Logger } from '../Logger';
import type { TrainingJobQueue } from './TrainingJobQueue';
import type { TrainingJob, TrainingQueueEvents } from './TrainingJobTypes';

const logger = new Logger('OnboardingProgress');
export const ONBOARDING_NAMESPACE = '/onboarding';

const ownerRoom = (owner: string) => `owner:${owner}`;

/** What clients see of a job: no server paths, pids or trainer stderr. */
export function publicJob(job: TrainingJob): Omit<TrainingJob, 'dataset' | 'workDir' | 'pid' | 'stderrTail'> {
  const { dataset: _dataset, workDir: _workDir, pid: _pid, stderrTail: _stderr, ...rest } = job;
  return rest;
}

export class OnboardingProgress {
  readonly #namespace: Namespace;
  readonly #queue: TrainingJobQueue;
  readonly #onProgress: (e: TrainingQueueEvents['progress']) => void;
  readonly #onPreview: (e: TrainingQueueEvents['preview']) => void;
  #closed = false;

  constructor(io: SocketIoServer, queue: TrainingJobQueue, tokens: TokenAuthority) {
    this.#queue = queue;
    this.#namespace = io.of(ONBOARDING_NAMESPACE);
    this.#namespace.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string') { next(new Error('unauthorized: send auth { token }')); return; }
      const check = tokens.verifyOnboarding(token);
      if (!check.ok) { next(new Error(`unauthorized: token refused (${check.reason}): ${check.message}`)); return; }
      socket.data.owner = check.claims.sub;
      socket.data.exp = check.claims.exp;
      next();
    });
    this.#namespace.on('connection', (socket) => {
      const owner = socket.data.owner as string;
      void socket.join(ownerRoom(owner));
      socket.emit('jobs', { jobs: this.#queue.list(owner).map(publicJob) });
      const untilExpiry = (socket.data.exp as number) * 1000 - Date.now();
      // Beyond setTimeout's range (~24.8 days) the token outlives any training job.
      if (untilExpiry < 2 ** 31 - 1) {
        const timer = setTimeout(() => {
          socket.emit('expired', { message: 'onboarding token expired: reload the page for a new one' });
          socket.disconnect(true);
        }, Math.max(0, untilExpiry));
        timer.unref();
        socket.on('disconnect', () => clearTimeout(timer));
      }
      logger.debug('progress channel open for %s', owner);
    });
    this.#onProgress = ({ job }) => {
      this.#namespace.to(ownerRoom(job.owner)).emit('progress', { job: publicJob(job) });
    };
    this.#onPreview = ({ job, png, step, psnr, elapsedMs }) => {
      this.#namespace.to(ownerRoom(job.owner)).emit('preview', { jobId: job.id, avatarId: job.avatarId, step, psnr, elapsedMs, png });
    };
    queue.on('progress', this.#onProgress);
    queue.on('preview', this.#onPreview);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.off('progress', this.#onProgress);
    this.#queue.off('preview', this.#onPreview);
    // Sockets are not told to disconnect: closing the server drops them as a lost
    // transport, which socket.io clients answer by reconnecting (to a restarted server).
  }
}
