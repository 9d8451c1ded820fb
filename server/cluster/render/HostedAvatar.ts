/**
 * The render node's side of one avatar session an SFU node placed here: the peer
 * stands in this node's room of the same id (a Room and Peer of its own, so the
 * AvatarService and AvatarSession run exactly as on one server), its coefficient data
 * producer is produced on this node's end of the pipe (the SFU node consumed the
 * browser's onto its end), and each video producer the session makes (a new one after
 * an encoder restart) is consumed onto the pipe and announced to the SFU node with
 * `hostedAvatarProducer`. The face status goes back as `hostedAvatarStatus`; the session
 * ending here (renderer or encoder failure, the avatar could not load) as `hostedAvatarEnded`.
 */
import type { types } from 'mediasoup';
import { Logger } from '../../Logger';
import type { AvatarService } from '../../avatar/AvatarService';
import type { AvatarSession } from '../../avatar/AvatarSession';
import type { Peer } from '../../rooms/Peer';
import type { Room } from '../../rooms/Room';
import type { RoomManager } from '../../rooms/RoomManager';
import type { NodeBus } from '../sfu/NodeBus';
import type { RenderNoticeData, RenderReplyData, RenderRequestData } from './renderMessages';

const logger = new Logger('HostedAvatar');

export interface HostedAvatarOptions {
  bus: NodeBus;
  rooms: RoomManager;
  avatars: AvatarService;
  /** Where this node's pipe transports listen, and the address SFU nodes send to. */
  listenIp: string;
  announcedAddress: string;
  enableSrtp: boolean;
  /** Called once when it ends, whatever ended it. */
  closed: (hosted: HostedAvatar) => void;
}

export class HostedAvatar {
  readonly id: string;
  /** The SFU node that placed it. */
  readonly from: string;
  readonly avatarId: string;
  readonly room: Room;
  readonly peer: Peer;
  readonly #transport: types.PipeTransport;
  readonly #options: HostedAvatarOptions;
  #session?: AvatarSession;
  /** Producers sent to the SFU node (the first, then one per encoder restart). */
  producersSent = 0;
  #closed = false;

  private constructor(id: string, from: string, avatarId: string, room: Room, peer: Peer, transport: types.PipeTransport, options: HostedAvatarOptions) {
    this.id = id;
    this.from = from;
    this.avatarId = avatarId;
    this.room = room;
    this.peer = peer;
    this.#transport = transport;
    this.#options = options;
  }

  /**
   * Joins the peer to this node's room, connects this node's end of the pipe, produces
   * the coefficients on it and starts loading the avatar; answers this end's address.
   */
  static async open(from: string, data: RenderRequestData<'hostAvatar'>, options: HostedAvatarOptions): Promise<{ hosted: HostedAvatar; reply: RenderReplyData<'hostAvatar'> }> {
    let hosted: HostedAvatar | undefined;
    const notify = ((method: string, payload: { peerId?: string; status?: 'waiting' | 'live' | 'lost' | 'stalled' }) => {
      if (method === 'avatarStatus' && hosted && payload.peerId === hosted.peer.id && payload.status) {
        options.bus.notice(from, 'hostedAvatarStatus', { session: data.session, status: payload.status });
      }
    }) as Parameters<RoomManager['join']>[3];
    const { room, peer } = await options.rooms.join(data.room, data.peer.id, data.peer.displayName, notify, data.peer.user);
    let transport: types.PipeTransport | undefined;
    let dataProducer: types.DataProducer;
    try {
      transport = await room.router.createPipeTransport({
        listenIp: { ip: options.listenIp, announcedIp: options.announcedAddress === options.listenIp ? undefined : options.announcedAddress },
        enableSctp: true,
        // Coefficient packets are 63 bytes; nothing larger is expected from the SFU node.
        maxSctpMessageSize: 4096,
        enableRtx: false,
        enableSrtp: options.enableSrtp,
        appData: { purpose: 'render-pipe' },
      });
      await transport.connect({ ip: data.ip, port: data.port, srtpParameters: data.srtpParameters });
      dataProducer = await transport.produceData({
        id: data.data.dataProducerId,
        sctpStreamParameters: data.data.sctpStreamParameters,
        label: data.data.label,
        protocol: data.data.protocol,
        appData: { source: 'coefficients', peerId: peer.id },
      });
      peer.dataProducers.set(dataProducer.id, dataProducer);
      dataProducer.observer.on('close', () => peer.dataProducers.delete(dataProducer.id));
      hosted = new HostedAvatar(data.session, from, data.avatarId, room, peer, transport, options);
    } catch (error) {
      transport?.close();
      room.leave(peer);
      options.rooms.closeIfEmpty(room);
      throw error;
    }
    const made = hosted;
    // The pipe closes with the room (its worker died): the SFU node hears it ended.
    transport.observer.once('close', () => made.fail('video-router-closed', 'the render node\'s room closed'));
    // The ingest consumes it on the room's DirectTransport, as a browser's (rate limit and checks included).
    room.announceDataProducer(peer, dataProducer);
    options.avatars.enable(room, peer, data.avatarId, data.background).catch((error: unknown) => {
      made.fail('start-failed', error instanceof Error ? error.message : String(error));
    });
    return { hosted: made, reply: { ip: options.announcedAddress, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters as RenderReplyData<'hostAvatar'>['srtpParameters'] } };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The session rendering it here, once started. */
  get session(): AvatarSession | undefined {
    return this.#session;
  }

  /** The AvatarService started this peer's session: its video goes to the SFU node, now and after each encoder restart. */
  useSession(session: AvatarSession): void {
    if (this.#closed) return;
    this.#session = session;
    void this.#sendProducer(session.producer);
    session.on('producer', (producer) => void this.#sendProducer(producer));
  }

  /** It ended here (not asked by the SFU node): tell the SFU node, then close. */
  fail(reason: string, message: string): void {
    if (this.#closed) return;
    logger.warn(`hosted avatar of ${this.peer.id} (from ${this.from}) ended: ${reason}: ${message}`);
    this.#options.bus.notice(this.from, 'hostedAvatarEnded', { session: this.id, reason: reason.slice(0, 64), message: message.slice(0, 512) });
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The peer leaving ends its avatar (the AvatarService listens) and closes its producers.
    this.room.leave(this.peer);
    if (!this.#transport.closed) this.#transport.close();
    this.#options.rooms.closeIfEmpty(this.room);
    this.#options.closed(this);
  }

  async #sendProducer(producer: types.Producer): Promise<void> {
    if (this.#closed || producer.closed) return;
    try {
      const consumer = await this.#transport.consume({ producerId: producer.id });
      if (this.#closed) return;
      this.producersSent += 1;
      this.#options.bus.notice(this.from, 'hostedAvatarProducer', {
        session: this.id, producerId: producer.id,
        rtpParameters: consumer.rtpParameters as unknown as RenderNoticeData<'hostedAvatarProducer'>['rtpParameters'],
        paused: consumer.producerPaused,
      });
    } catch (error) {
      // A producer replaced meanwhile is not an error: its successor is sent.
      if (!producer.closed) this.fail('video-encoder-failed', `the avatar video could not be piped: ${String(error)}`);
    }
  }
}
