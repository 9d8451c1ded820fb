/**
 * One participant of a room and the mediasoup objects it owns. A peer acts only on
 * its own transports, producers and consumers: every lookup here is by owner.
 * It holds one of the server's peer slots and one transport slot per WebRTC
 * transport (Capacity), and counts the objects it is still creating against its
 * own caps, so concurrent requests cannot pass a check together.
 * `close()` is idempotent and closes everything the peer owns.
 */
import type { types } from 'mediasoup';
import type { NotificationMap, NotificationMethod, ProducerInfo } from '../../shared/signaling/messages';
import { SignalingError } from '../signaling/SignalingError';
import { Logger } from '../Logger';
import { Capacity } from './Capacity';

const logger = new Logger('Peer');

export type Notify = <M extends NotificationMethod>(method: M, data: NotificationMap[M]) => void;

export interface TransportListenOptions {
  listenIp: string;
  announcedIp?: string;
}

export class Peer {
  readonly id: string;
  /** The user this peer joined as (its call token's `sub`): avatar ownership keys on it, not on the per-connection id. */
  readonly user: string;
  readonly displayName: string;
  readonly #notify: Notify;
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();
  readonly dataProducers = new Map<string, types.DataProducer>();
  readonly #capacity: Capacity;
  readonly #releasePeerSlot: () => void;
  /** Objects being created (between the cap check and the map), counted against the caps. */
  readonly #pending = { transports: 0, producers: 0, consumers: 0, dataProducers: 0 };
  /** Connect deadlines of transports in use but not yet connected. */
  readonly #connectDeadlines = new Map<string, NodeJS.Timeout>();
  #closed = false;

  /** Takes one of `capacity`'s peer slots (throws 'peer-limit' when none is left) until close(). */
  constructor(id: string, displayName: string, notify: Notify, capacity: Capacity = new Capacity(), user = id) {
    this.id = id;
    this.user = user;
    this.displayName = displayName;
    this.#notify = notify;
    this.#capacity = capacity;
    this.#releasePeerSlot = capacity.reserve('peers');
  }

  get closed(): boolean {
    return this.#closed;
  }

  notify<M extends NotificationMethod>(method: M, data: NotificationMap[M]): void {
    if (!this.#closed) this.#notify(method, data);
  }

  producerInfos(): ProducerInfo[] {
    return [...this.producers.values()].map((p) => ({ id: p.id, kind: p.kind, appData: { ...p.appData } }));
  }

  async createWebRtcTransport(
    router: types.Router,
    listen: TransportListenOptions,
    direction: 'send' | 'recv',
    numSctpStreams?: { OS: number; MIS: number },
  ): Promise<types.WebRtcTransport> {
    this.#assertOpen();
    this.#capacity.check('transportsPerPeer', this.transports.size + this.#pending.transports);
    const releaseSlot = this.#capacity.reserve('transports');
    let transport: types.WebRtcTransport;
    this.#pending.transports += 1;
    try {
      transport = await router.createWebRtcTransport({
        listenIps: [{ ip: listen.listenIp, announcedIp: listen.announcedIp }],
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        enableSctp: true,
        numSctpStreams: numSctpStreams ?? { OS: 1024, MIS: 1024 },
        appData: { peerId: this.id, direction },
      });
    } catch (error) {
      releaseSlot();
      throw error;
    } finally {
      this.#pending.transports -= 1;
    }
    transport.observer.on('close', () => {
      releaseSlot();
      this.#clearConnectDeadline(transport.id);
      this.transports.delete(transport.id);
    });
    if (this.#closed) {
      transport.close();
      throw new SignalingError('not-joined', 'peer left while its transport was being created');
    }
    this.transports.set(transport.id, transport);
    transport.on('dtlsstatechange', (state) => {
      if (state === 'connected') this.#clearConnectDeadline(transport.id);
    });
    return transport;
  }

  /** Connects one of this peer's transports (DTLS); its connect deadline runs from here. */
  async connectTransport(transport: types.WebRtcTransport, dtlsParameters: types.DtlsParameters): Promise<void> {
    this.#assertOpen();
    this.#armConnectDeadline(transport);
    await transport.connect({ dtlsParameters });
  }

  /** The peer's own transport, or a clear error. `isElsewhere` tells foreign ids from unknown ones. */
  ownTransport(transportId: string, isElsewhere: (id: string) => boolean): types.WebRtcTransport {
    const transport = this.transports.get(transportId);
    if (transport) return transport;
    if (isElsewhere(transportId)) throw new SignalingError('forbidden', `transport ${transportId} belongs to another peer`);
    throw new SignalingError('not-found', `no transport ${transportId}`);
  }

  ownProducer(producerId: string, isElsewhere: (id: string) => boolean): types.Producer {
    const producer = this.producers.get(producerId);
    if (producer) return producer;
    if (isElsewhere(producerId)) throw new SignalingError('forbidden', `producer ${producerId} belongs to another peer`);
    throw new SignalingError('not-found', `no producer ${producerId}`);
  }

  ownDataProducer(dataProducerId: string, isElsewhere: (id: string) => boolean): types.DataProducer {
    const dataProducer = this.dataProducers.get(dataProducerId);
    if (dataProducer) return dataProducer;
    if (isElsewhere(dataProducerId)) throw new SignalingError('forbidden', `data producer ${dataProducerId} belongs to another peer`);
    throw new SignalingError('not-found', `no data producer ${dataProducerId}`);
  }

  ownConsumer(consumerId: string, isElsewhere: (id: string) => boolean): types.Consumer {
    const consumer = this.consumers.get(consumerId);
    if (consumer) return consumer;
    if (isElsewhere(consumerId)) throw new SignalingError('forbidden', `consumer ${consumerId} belongs to another peer`);
    throw new SignalingError('not-found', `no consumer ${consumerId}`);
  }

  async produce(
    transport: types.WebRtcTransport,
    kind: 'audio' | 'video',
    rtpParameters: types.RtpParameters,
    appData: Record<string, unknown>,
  ): Promise<types.Producer> {
    this.#assertOpen();
    this.#assertDirection(transport, 'send');
    this.#capacity.check('producersPerPeer', this.producers.size + this.#pending.producers);
    this.#armConnectDeadline(transport);
    this.#pending.producers += 1;
    let producer: types.Producer;
    try {
      producer = await transport.produce({ kind, rtpParameters, appData: { ...appData, peerId: this.id } });
    } finally {
      this.#pending.producers -= 1;
    }
    if (this.#closed) {
      producer.close();
      throw new SignalingError('not-joined', 'peer left while its producer was being created');
    }
    this.producers.set(producer.id, producer);
    producer.observer.on('close', () => this.producers.delete(producer.id));
    return producer;
  }

  /**
   * Registers a producer the server made on this peer's behalf (its avatar video,
   * say): the peer owns it, others consume it like any of the peer's tracks, and it
   * closes with the peer.
   */
  adoptProducer(producer: types.Producer): void {
    this.#assertOpen();
    this.producers.set(producer.id, producer);
    producer.observer.on('close', () => this.producers.delete(producer.id));
  }

  async produceData(
    transport: types.WebRtcTransport,
    options: types.DataProducerOptions,
  ): Promise<types.DataProducer> {
    this.#assertOpen();
    this.#assertDirection(transport, 'send');
    this.#capacity.check('dataProducersPerPeer', this.dataProducers.size + this.#pending.dataProducers);
    this.#armConnectDeadline(transport);
    this.#pending.dataProducers += 1;
    let dataProducer: types.DataProducer;
    try {
      dataProducer = await transport.produceData({ ...options, appData: { ...options.appData, peerId: this.id } });
    } finally {
      this.#pending.dataProducers -= 1;
    }
    if (this.#closed) {
      dataProducer.close();
      throw new SignalingError('not-joined', 'peer left while its data producer was being created');
    }
    this.dataProducers.set(dataProducer.id, dataProducer);
    dataProducer.observer.on('close', () => this.dataProducers.delete(dataProducer.id));
    return dataProducer;
  }

  /** Consumes `producer` on one of this peer's receive transports; the consumer starts paused. */
  async consume(
    router: types.Router,
    transport: types.WebRtcTransport,
    producer: types.Producer,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer> {
    this.#assertOpen();
    this.#assertDirection(transport, 'recv');
    this.#capacity.check('consumersPerPeer', this.consumers.size + this.#pending.consumers);
    if (!router.canConsume({ producerId: producer.id, rtpCapabilities })) {
      throw new SignalingError('bad-request', `these RTP capabilities cannot consume producer ${producer.id}`);
    }
    this.#armConnectDeadline(transport);
    this.#pending.consumers += 1;
    let consumer: types.Consumer;
    try {
      // Paused until the client says it is ready, so the first keyframe is not lost.
      consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: true, appData: { ...producer.appData } });
    } finally {
      this.#pending.consumers -= 1;
    }
    if (this.#closed) {
      consumer.close();
      throw new SignalingError('not-joined', 'peer left while its consumer was being created');
    }
    this.consumers.set(consumer.id, consumer);
    consumer.observer.on('close', () => this.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      consumer.close();
      this.notify('consumerClosed', { consumerId: consumer.id, producerId: producer.id });
    });
    if (consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => undefined);
    return consumer;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#releasePeerSlot();
    for (const timer of this.#connectDeadlines.values()) clearTimeout(timer);
    this.#connectDeadlines.clear();
    // Closing a transport closes its producers, consumers and data producers.
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
    // Adopted (server-made) producers live on other transports.
    for (const producer of [...this.producers.values()]) producer.close();
    this.producers.clear();
    this.consumers.clear();
    this.dataProducers.clear();
    logger.debug('peer %s closed', this.id);
  }

  /**
   * Starts the transport's connect deadline at its first use (a connect, produce or
   * consume on it), not at its creation: the SDK creates both transports at join
   * and a browser connects each only when it first sends or receives, so a peer
   * alone in a room rightly holds an unconnected receive transport. Unused ones are
   * bounded by the transport caps and close with their peer.
   */
  #armConnectDeadline(transport: types.WebRtcTransport): void {
    if (transport.closed || transport.dtlsState === 'connected' || this.#connectDeadlines.has(transport.id)) return;
    const timer = setTimeout(() => {
      this.#connectDeadlines.delete(transport.id);
      if (transport.closed || transport.dtlsState === 'connected') return;
      logger.warn(`closing transport ${transport.id} of peer ${this.id}: DTLS is ${transport.dtlsState} ${this.#capacity.limits.transportConnectTimeoutMs} ms after its first use`);
      this.#capacity.countUnconnectedClosed('connect-timeout');
      transport.close();
      this.notify('transportClosed', { transportId: transport.id, reason: 'connect-timeout' });
    }, this.#capacity.limits.transportConnectTimeoutMs);
    // The deadline alone must not keep the process alive.
    timer.unref();
    this.#connectDeadlines.set(transport.id, timer);
  }

  #clearConnectDeadline(transportId: string): void {
    const timer = this.#connectDeadlines.get(transportId);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#connectDeadlines.delete(transportId);
  }

  #assertOpen(): void {
    if (this.#closed) throw new SignalingError('not-joined', 'peer has left');
  }

  #assertDirection(transport: types.WebRtcTransport, direction: 'send' | 'recv'): void {
    if (transport.appData.direction !== direction) {
      throw new SignalingError('bad-request', `transport ${transport.id} is not a ${direction} transport`);
    }
  }
}
