/**
 * The SFU node's side of one avatar session hosted on a render node: a PipeTransport
 * (SCTP on) on the room's router, connected to the render node's end; the peer's
 * coefficient data producer consumed onto it (the render node produces it on its end,
 * as router.pipeToRouter() does within a process); and the avatar's video, consumed on
 * the render node's end, produced here with the same id and published as the peer's
 * `avatar` producer exactly as a local AvatarSession publishes its own (receivers cannot
 * tell). A new producer (the render node's encoder restarted) replaces the previous one
 * as VideoInjector's restarts do: the old one closes, the new one is announced.
 *
 * Lost (`onEnded`): the render node says the session ended, it died (the registry), or
 * no media came through the pipe for SILENCE_MS once the video flowed (a SIGKILLed
 * node is heard of here within ~1.1 s rather than the registry's TTL of ~3 s).
 */
import type { types } from 'mediasoup';
import { Logger } from '../../Logger';
import type { Peer } from '../../rooms/Peer';
import type { Room } from '../../rooms/Room';
import type { HostedAvatarSession } from '../../avatar/AvatarServiceTypes';
import type { RenderNoticeData } from './renderMessages';

const logger = new Logger('RemoteAvatar');

/**
 * No media through the pipe this long (the video runs at the avatar's frame rate, a
 * stalled face repeats its last frame) means the render node is gone. The 5 s a moved
 * avatar may take (issue 15) are spent as: this, the local session's start and its
 * announcement through the room (~1 s on a loaded 2-core machine), and the receiver's
 * consume and first keyframe (~2 s there); 1.2 s left a pause of 4.6 s. A render node
 * whose encoder restarts (VideoInjector's 200 ms pause and ffmpeg's start) or stalls
 * this long loses the session too: its avatar renders on the SFU node, no tile goes black.
 */
export const SILENCE_MS = 1000;
/** How often the pipe's received bytes are read (one worker request per session). */
const SILENCE_POLL_MS = 100;
/** A render node that sent no video this long after the session was placed has failed it (loading an avatar takes ~1-3 s). */
export const FIRST_VIDEO_TIMEOUT_MS = 15_000;

export interface RemoteAvatarOptions {
  room: Room;
  peer: Peer;
  /** The render node hosting it. */
  node: string;
  transport: types.PipeTransport;
  /** The pipe data consumer carrying the coefficients to the render node. */
  dataConsumer: types.DataConsumer;
  /** Tells the render node the session ends (a notice on the bus). */
  drop: () => void;
  /** Asks the render node to reload the avatar. */
  reload: () => Promise<boolean>;
  /** It was lost (before the service hears of it): why. */
  lost: (reason: string) => void;
}

export class RemoteAvatar implements HostedAvatarSession {
  /** The session's id on the bus (the SFU node chose it when it asked the render node). */
  readonly id: string;
  readonly room: Room;
  readonly peer: Peer;
  readonly node: string;
  readonly #transport: types.PipeTransport;
  readonly #options: RemoteAvatarOptions;
  #producer?: types.Producer;
  #producing: Promise<void> = Promise.resolve();
  #listener?: (reason: string) => void;
  #silence?: NodeJS.Timeout;
  #lastBytes = -1;
  #lastBytesAt = 0;
  readonly #firstVideo: NodeJS.Timeout;
  /** Producers received (the first, then one per encoder restart on the render node). */
  producers = 0;
  #closed = false;

  constructor(id: string, options: RemoteAvatarOptions) {
    this.id = id;
    this.room = options.room;
    this.peer = options.peer;
    this.node = options.node;
    this.#transport = options.transport;
    this.#options = options;
    this.#firstVideo = setTimeout(() => this.#lost(`no video from render node ${this.node} within ${FIRST_VIDEO_TIMEOUT_MS} ms`), FIRST_VIDEO_TIMEOUT_MS);
    this.#firstVideo.unref();
    // The coefficients stop (the peer's data producer closed): the service ends the session itself.
    this.#transport.observer.once('close', () => this.#lost('the pipe to the render node closed'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The avatar's video producer on this node (the piped one), once the render node sent it. */
  get producer(): types.Producer | undefined {
    return this.#producer;
  }

  onEnded(listener: (reason: string) => void): void {
    this.#listener = listener;
  }

  reload(): Promise<boolean> {
    return this.#closed ? Promise.resolve(false) : this.#options.reload();
  }

  /** The render node's video producer: produce it here and publish it as the peer's avatar. */
  useProducer(data: RenderNoticeData<'hostedAvatarProducer'>): void {
    // In order: a later producer replaces an earlier one only once that one is up.
    this.#producing = this.#producing.then(() => this.#useProducer(data)).catch((error: unknown) => {
      this.#lost(`the avatar video of render node ${this.node} could not be produced: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /** The render node's face status: the room's pages show it, as a local session's. */
  useStatus(status: RenderNoticeData<'hostedAvatarStatus'>['status']): void {
    if (!this.#closed && !this.room.closed) this.room.broadcast('avatarStatus', { peerId: this.peer.id, status });
  }

  /** It ended on the render node, or the render node is gone. */
  lost(reason: string): void {
    this.#lost(reason);
  }

  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#end();
    this.#options.drop();
    logger.debug('hosted avatar of %s on %s closed (%s)', this.peer.id, this.node, reason);
  }

  async #useProducer(data: RenderNoticeData<'hostedAvatarProducer'>): Promise<void> {
    if (this.#closed) return;
    const producer = await this.#transport.produce({
      id: data.producerId,
      kind: 'video',
      rtpParameters: data.rtpParameters as unknown as types.RtpParameters,
      paused: data.paused,
      // The SFU node says whose it is, not the render node.
      appData: { peerId: this.peer.id, source: 'avatar' },
    });
    if (this.#closed || this.peer.closed) {
      producer.close();
      return;
    }
    const previous = this.#producer;
    this.#producer = producer;
    this.producers += 1;
    clearTimeout(this.#firstVideo);
    // As VideoInjector's restart: the previous producer closes (its consumers hear consumerClosed), then the new one is announced.
    previous?.close();
    this.peer.adoptProducer(producer);
    this.room.announceProducer(this.peer, producer);
    // The owner consumes it too: the self-view shows exactly what the others see.
    this.peer.notify('newProducer', { peerId: this.peer.id, producer: { id: producer.id, kind: producer.kind, appData: { ...producer.appData } } });
    this.#watchSilence();
  }

  #watchSilence(): void {
    if (this.#silence) return;
    this.#lastBytesAt = performance.now();
    this.#silence = setInterval(() => {
      this.#transport.getStats().then((stats) => {
        const bytes = stats.reduce((sum, stat) => sum + Number((stat as { bytesReceived?: number }).bytesReceived ?? 0), 0);
        const now = performance.now();
        if (bytes !== this.#lastBytes) {
          this.#lastBytes = bytes;
          this.#lastBytesAt = now;
        } else if (now - this.#lastBytesAt >= SILENCE_MS) {
          this.#lost(`no media from render node ${this.node} for ${Math.round(now - this.#lastBytesAt)} ms`);
        }
      }, () => undefined);
    }, SILENCE_POLL_MS);
    this.#silence.unref();
  }

  #lost(reason: string): void {
    if (this.#closed) return;
    this.#end();
    // It may still live (a stuck node, a failed produce): it must not render for nobody.
    this.#options.drop();
    logger.warn(`avatar of ${this.peer.id} lost on render node ${this.node}: ${reason}`);
    this.#options.lost(reason);
    this.#listener?.('render-node-lost');
  }

  #end(): void {
    this.#closed = true;
    clearTimeout(this.#firstVideo);
    clearInterval(this.#silence);
    this.#producer?.close();
    if (!this.#options.dataConsumer.closed) this.#options.dataConsumer.close();
    if (!this.#transport.closed) this.#transport.close();
  }
}
