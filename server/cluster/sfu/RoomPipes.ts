/**
 * Piping a room's producers between SFU nodes: what router.pipeToRouter() does within a
 * process, across processes. Per room and per pair of nodes there is one link, a
 * PipeTransport on each node's router of that room, the two connected to each other's
 * ip:port (and SRTP keys) exchanged over the node bus; every producer piped between the
 * two nodes for that room rides it. The producer's node consumes it on its end
 * (a pipe consumer), the other node produces it on its end with the same id, kind, RTP
 * parameters and appData, so its own peers consume it as if it were local.
 *
 * Piped on demand: the first consume of a remote producer on this node pipes it, and
 * the last consumer of a piped producer closing unpipes it (both ends close). A producer
 * closing on its node closes the piped one (its consumers hear consumerClosed); a link
 * closes with its room's router on either node, or when the other node dies.
 */
import type { types } from 'mediasoup';
import { Logger } from '../../Logger';
import type { Room } from '../../rooms/Room';
import type { ClusterNoticeData, ClusterNoticeMethod, ClusterReplyData, ClusterRequestData } from './clusterMessages';
import { ClusterRequestError, type NodeBus } from './NodeBus';

const logger = new Logger('RoomPipes');

export interface RoomPipesOptions {
  bus: NodeBus;
  nodeName: string;
  /** Where this node's pipe transports listen, and the address other nodes send to. */
  listenIp: string;
  announcedAddress: string;
  enableSrtp: boolean;
  /** This node's open room with this id, if any. */
  room: (roomId: string) => Room | undefined;
  /** How long a link may take to open before its waiters fail (the bus's timeout, twice by default). */
  openTimeoutMs?: number;
}

interface Link {
  readonly key: string;
  readonly room: string;
  readonly node: string;
  /** This node asked for it (the other node answers openPipe). */
  readonly outgoing: boolean;
  transport?: types.PipeTransport;
  settled: boolean;
  /** Closed because the other node said so or died: nothing to tell it. */
  closedByRemote: boolean;
  readonly ready: Promise<types.PipeTransport>;
  resolve(transport: types.PipeTransport): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface PipedProducer {
  readonly room: string;
  readonly node: string;
  readonly producer: types.Producer;
  readonly consumers: Set<string>;
  /** Consumes in progress with it (it must not be unpiped under them). */
  pending: number;
}

const linkKey = (room: string, node: string) => `${room}\n${node}`;
const producerKey = (room: string, producerId: string) => `${room}\n${producerId}`;
const pipeConsumerKey = (room: string, node: string, producerId: string) => `${room}\n${node}\n${producerId}`;

export class RoomPipes {
  readonly #options: RoomPipesOptions;
  readonly #links = new Map<string, Link>();
  /** This node's end of producers piped in from other nodes. */
  readonly #piped = new Map<string, PipedProducer>();
  readonly #piping = new Map<string, Promise<PipedProducer>>();
  /** Pipe consumers of this node's producers, feeding other nodes. */
  readonly #pipeConsumers = new Map<string, types.Consumer>();
  /** Times both nodes opened the same link at once (one open won, the other was answered 'conflict'). */
  openConflicts = 0;
  #closed = false;

  constructor(options: RoomPipesOptions) {
    this.#options = options;
  }

  /** Counts for tests and metrics: open links, producers piped in, pipe consumers feeding out. */
  stats(): { links: number; pipedIn: number; pipedOut: number } {
    return { links: [...this.#links.values()].filter((link) => link.settled).length, pipedIn: this.#piped.size, pipedOut: this.#pipeConsumers.size };
  }

  /**
   * Pipes `producerId` of `node` into this node's router of `room` (once; concurrent
   * callers share it) and runs `use` with it. The consumer `use` returns keeps the piped
   * producer open until it closes; with none left it is unpiped.
   */
  async consumeRemote(room: Room, producerId: string, node: string, use: (producer: types.Producer) => Promise<types.Consumer>): Promise<types.Consumer> {
    const key = producerKey(room.id, producerId);
    let piped = this.#piped.get(key);
    if (!piped || piped.producer.closed) {
      let pending = this.#piping.get(key);
      if (!pending) {
        pending = this.#pipe(room, producerId, node).finally(() => this.#piping.delete(key));
        this.#piping.set(key, pending);
      }
      piped = await pending;
    }
    piped.pending += 1;
    try {
      const consumer = await use(piped.producer);
      if (!consumer.closed) {
        piped.consumers.add(consumer.id);
        const held = piped;
        consumer.observer.on('close', () => {
          held.consumers.delete(consumer.id);
          this.#unpipeIfUnused(held);
        });
      }
      return consumer;
    } finally {
      piped.pending -= 1;
      this.#unpipeIfUnused(piped);
    }
  }

  async handleOpenPipe(from: string, data: ClusterRequestData<'openPipe'>): Promise<ClusterReplyData<'openPipe'>> {
    const room = this.#openRoom(data.room);
    const key = linkKey(room.id, from);
    let link = this.#links.get(key);
    // Both nodes opened at once: the smaller name's open wins, the other answers 'conflict' and accepts it.
    if (link && !link.settled && link.outgoing && this.#options.nodeName < from) {
      this.openConflicts += 1;
      throw new ClusterRequestError('conflict', `node ${this.#options.nodeName} is opening the pipe of room ${room.id} itself`);
    }
    if (link?.settled) {
      // The other node lost its end (its room closed and reopened): this one is stale.
      this.#closeLink(link, true);
      link = undefined;
    }
    if (!link) {
      link = this.#newLink(room.id, from, false);
    }
    const transport = await this.#createPipeTransport(room);
    try {
      await transport.connect({ ip: data.ip, port: data.port, srtpParameters: data.srtpParameters });
    } catch (error) {
      transport.close();
      this.#failLink(link, error as Error);
      throw error;
    }
    this.#settleLink(link, transport);
    return { ip: this.#options.announcedAddress, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters as ClusterReplyData<'openPipe'>['srtpParameters'] };
  }

  async handlePipeProducer(from: string, data: ClusterRequestData<'pipeProducer'>): Promise<ClusterReplyData<'pipeProducer'>> {
    const room = this.#openRoom(data.room);
    const link = this.#links.get(linkKey(room.id, from));
    if (!link) throw new ClusterRequestError('not-found', `no pipe from node ${from} for room ${room.id}: open one first`);
    // Both nodes opened at once and ours won: the other node uses the link as soon as it
    // answered our open, which can be before our end has connected.
    const transport = link.settled ? link.transport! : await link.ready;
    if (transport.closed) throw new ClusterRequestError('not-found', `the pipe from node ${from} for room ${room.id} closed`);
    // Only producers of this node's own peers: a producer piped in from a third node is not passed on.
    const producer = room.findProducer(data.producerId);
    if (!producer) throw new ClusterRequestError('not-found', `no producer ${data.producerId} of room ${room.id} on node ${this.#options.nodeName}`);
    const key = pipeConsumerKey(room.id, from, producer.id);
    let consumer = this.#pipeConsumers.get(key);
    if (!consumer || consumer.closed) {
      const made = await transport.consume({ producerId: producer.id });
      consumer = made;
      this.#pipeConsumers.set(key, made);
      made.observer.on('close', () => {
        if (this.#pipeConsumers.get(key) === made) this.#pipeConsumers.delete(key);
      });
      made.on('producerclose', () => this.#options.bus.notice(from, 'pipedProducerClosed', { room: room.id, producerId: producer.id }));
      made.on('producerpause', () => this.#options.bus.notice(from, 'pipedProducerPaused', { room: room.id, producerId: producer.id, paused: true }));
      made.on('producerresume', () => this.#options.bus.notice(from, 'pipedProducerPaused', { room: room.id, producerId: producer.id, paused: false }));
    }
    return {
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters as unknown as Record<string, unknown>,
      paused: consumer.producerPaused,
      appData: { ...producer.appData },
    };
  }

  handleNotice<M extends ClusterNoticeMethod>(from: string, method: M, data: ClusterNoticeData<M>): void {
    switch (method) {
      case 'unpipeProducer': {
        const { room, producerId } = data as ClusterNoticeData<'unpipeProducer'>;
        this.#pipeConsumers.get(pipeConsumerKey(room, from, producerId))?.close();
        return;
      }
      case 'pipedProducerClosed': {
        const { room, producerId } = data as ClusterNoticeData<'pipedProducerClosed'>;
        const piped = this.#piped.get(producerKey(room, producerId));
        if (piped?.node !== from) return;
        this.#piped.delete(producerKey(room, producerId));
        piped.producer.close();
        return;
      }
      case 'pipedProducerPaused': {
        const { room, producerId, paused } = data as ClusterNoticeData<'pipedProducerPaused'>;
        const piped = this.#piped.get(producerKey(room, producerId));
        if (piped?.node !== from || piped.producer.closed) return;
        (paused ? piped.producer.pause() : piped.producer.resume()).catch(() => undefined);
        return;
      }
      case 'closePipe': {
        const { room } = data as ClusterNoticeData<'closePipe'>;
        const link = this.#links.get(linkKey(room, from));
        if (link) this.#closeLink(link, true);
      }
    }
  }

  /** The other node died: close every link to it (their piped producers and pipe consumers with them). */
  closeNode(node: string): void {
    for (const link of [...this.#links.values()]) if (link.node === node) this.#closeLink(link, true);
  }

  /** Closes every link, telling the other ends (this node's heartbeat lapsed: they may hold stale ones). */
  closeAllLinks(): void {
    for (const link of [...this.#links.values()]) this.#closeLink(link, false);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of [...this.#links.values()]) this.#closeLink(link, false);
  }

  async #pipe(room: Room, producerId: string, node: string): Promise<PipedProducer> {
    const transport = await this.#link(room, node);
    const reply = await this.#options.bus.request(node, 'pipeProducer', { room: room.id, producerId });
    if (transport.closed || room.closed) {
      this.#options.bus.notice(node, 'unpipeProducer', { room: room.id, producerId });
      throw new ClusterRequestError('not-found', `the pipe of room ${room.id} to node ${node} closed while piping ${producerId}`);
    }
    const producer = await transport.produce({
      id: producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters as unknown as types.RtpParameters,
      paused: reply.paused,
      appData: reply.appData,
    });
    const key = producerKey(room.id, producerId);
    const piped: PipedProducer = { room: room.id, node, producer, consumers: new Set(), pending: 0 };
    this.#piped.set(key, piped);
    producer.observer.on('close', () => {
      if (this.#piped.get(key) === piped) this.#piped.delete(key);
    });
    logger.debug('piped producer %s of room %s in from node %s', producerId, room.id, node);
    return piped;
  }

  #unpipeIfUnused(piped: PipedProducer): void {
    if (piped.consumers.size > 0 || piped.pending > 0 || piped.producer.closed) return;
    const key = producerKey(piped.room, piped.producer.id);
    if (this.#piped.get(key) === piped) this.#piped.delete(key);
    piped.producer.close();
    if (!this.#closed) this.#options.bus.notice(piped.node, 'unpipeProducer', { room: piped.room, producerId: piped.producer.id });
    logger.debug('unpiped producer %s of room %s (no consumer left)', piped.producer.id, piped.room);
  }

  /** The link to `node` for `room`: open, opening, or opened now. */
  #link(room: Room, node: string): Promise<types.PipeTransport> {
    const existing = this.#links.get(linkKey(room.id, node));
    if (existing && !(existing.transport?.closed)) return existing.ready;
    if (existing) this.#closeLink(existing, false);
    const link = this.#newLink(room.id, node, true);
    this.#openOutgoing(room, link).catch((error: Error) => this.#failLink(link, error));
    return link.ready;
  }

  async #openOutgoing(room: Room, link: Link): Promise<void> {
    const mine = await this.#createPipeTransport(room);
    // An open from the other node won meanwhile.
    if (link.settled) {
      mine.close();
      return;
    }
    let reply: ClusterReplyData<'openPipe'>;
    try {
      reply = await this.#options.bus.request(link.node, 'openPipe', {
        room: room.id, ip: this.#options.announcedAddress, port: mine.tuple.localPort,
        srtpParameters: mine.srtpParameters as ClusterRequestData<'openPipe'>['srtpParameters'],
      });
    } catch (error) {
      mine.close();
      // The other node's own open wins: it arrives here as an openPipe and settles the link.
      if (error instanceof ClusterRequestError && error.code === 'conflict') return;
      throw error;
    }
    if (link.settled) {
      mine.close();
      return;
    }
    try {
      await mine.connect({ ip: reply.ip, port: reply.port, srtpParameters: reply.srtpParameters });
    } catch (error) {
      mine.close();
      throw error;
    }
    this.#settleLink(link, mine);
  }

  #newLink(room: string, node: string, outgoing: boolean): Link {
    let resolve!: (transport: types.PipeTransport) => void;
    let reject!: (error: Error) => void;
    const ready = new Promise<types.PipeTransport>((res, rej) => { resolve = res; reject = rej; });
    // Waiters see the failure; nobody else must see an unhandled rejection.
    ready.catch(() => undefined);
    const openTimeoutMs = this.#options.openTimeoutMs ?? 10_000;
    const link: Link = {
      key: linkKey(room, node), room, node, outgoing, settled: false, closedByRemote: false, ready, resolve, reject,
      timer: setTimeout(() => this.#failLink(link, new ClusterRequestError('timeout', `the pipe of room ${room} to node ${node} did not open within ${openTimeoutMs} ms`)), openTimeoutMs),
    };
    link.timer.unref();
    this.#links.set(link.key, link);
    return link;
  }

  #settleLink(link: Link, transport: types.PipeTransport): void {
    clearTimeout(link.timer);
    if (this.#links.get(link.key) !== link || link.settled) {
      transport.close();
      return;
    }
    link.settled = true;
    link.transport = transport;
    transport.observer.on('close', () => {
      if (this.#links.get(link.key) === link) this.#links.delete(link.key);
      // Our router closed (the room emptied, or this node shuts down): the other end goes too.
      if (!link.closedByRemote) this.#options.bus.notice(link.node, 'closePipe', { room: link.room });
    });
    link.resolve(transport);
    logger.debug('pipe of room %s to node %s open (local port %d)', link.room, link.node, transport.tuple.localPort);
  }

  #failLink(link: Link, error: Error): void {
    clearTimeout(link.timer);
    if (link.settled) return;
    if (this.#links.get(link.key) === link) this.#links.delete(link.key);
    link.reject(error);
  }

  #closeLink(link: Link, byRemote: boolean): void {
    link.closedByRemote = byRemote;
    clearTimeout(link.timer);
    if (this.#links.get(link.key) === link) this.#links.delete(link.key);
    if (!link.settled) link.reject(new ClusterRequestError('not-found', `the pipe of room ${link.room} to node ${link.node} closed`));
    link.transport?.close();
  }

  #openRoom(roomId: string): Room {
    const room = this.#options.room(roomId);
    if (!room || room.closed) throw new ClusterRequestError('not-found', `node ${this.#options.nodeName} hosts no room ${roomId}`);
    return room;
  }

  #createPipeTransport(room: Room): Promise<types.PipeTransport> {
    return room.router.createPipeTransport({
      listenIp: { ip: this.#options.listenIp, announcedIp: this.#options.announcedAddress === this.#options.listenIp ? undefined : this.#options.announcedAddress },
      // Media only: data producers (the coefficient stream) are consumed on their own peer's node.
      enableSctp: false,
      enableRtx: false,
      enableSrtp: this.#options.enableSrtp,
      appData: { purpose: 'cluster-pipe' },
    });
  }
}
