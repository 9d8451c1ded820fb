/**
 * One participant of a room and the mediasoup objects it owns. A peer acts only on
 * its own transports, producers and consumers: every lookup here is by owner.
 * `close()` is idempotent and closes everything the peer owns.
 */
import type { types } from 'mediasoup';
import type { NotificationMap, NotificationMethod, ProducerInfo } from '../../shared/signaling/messages';
import { SIGNALING_LIMITS } from '../../shared/signaling/limits';
import { SignalingError } from '../signaling/SignalingError';
import { Logger } from '../Logger';

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
  #closed = false;

  constructor(id: string, displayName: string, notify: Notify, user = id) {
    this.id = id;
    this.user = user;
    this.displayName = displayName;
    this.#notify = notify;
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
    if (this.transports.size >= SIGNALING_LIMITS.maxTransportsPerPeer) {
      throw new SignalingError('limit-exceeded', `a peer may hold at most ${SIGNALING_LIMITS.maxTransportsPerPeer} transports`);
    }
    const transport = await router.createWebRtcTransport({
      listenIps: [{ ip: listen.listenIp, announcedIp: listen.announcedIp }],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      enableSctp: true,
      numSctpStreams: numSctpStreams ?? { OS: 1024, MIS: 1024 },
      appData: { peerId: this.id, direction },
    });
    if (this.#closed) {
      transport.close();
      throw new SignalingError('not-joined', 'peer left while its transport was being created');
    }
    this.transports.set(transport.id, transport);
    transport.observer.on('close', () => this.transports.delete(transport.id));
    return transport;
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
    if (this.producers.size >= SIGNALING_LIMITS.maxProducersPerPeer) {
      throw new SignalingError('limit-exceeded', `a peer may hold at most ${SIGNALING_LIMITS.maxProducersPerPeer} producers`);
    }
    const producer = await transport.produce({ kind, rtpParameters, appData: { ...appData, peerId: this.id } });
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
    if (this.dataProducers.size >= SIGNALING_LIMITS.maxDataProducersPerPeer) {
      throw new SignalingError('limit-exceeded', `a peer may hold at most ${SIGNALING_LIMITS.maxDataProducersPerPeer} data producers`);
    }
    const dataProducer = await transport.produceData({ ...options, appData: { ...options.appData, peerId: this.id } });
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
    if (this.consumers.size >= SIGNALING_LIMITS.maxConsumersPerPeer) {
      throw new SignalingError('limit-exceeded', `a peer may hold at most ${SIGNALING_LIMITS.maxConsumersPerPeer} consumers`);
    }
    if (!router.canConsume({ producerId: producer.id, rtpCapabilities })) {
      throw new SignalingError('bad-request', `these RTP capabilities cannot consume producer ${producer.id}`);
    }
    // Paused until the client says it is ready, so the first keyframe is not lost.
    const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: true, appData: { ...producer.appData } });
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

  #assertOpen(): void {
    if (this.#closed) throw new SignalingError('not-joined', 'peer has left');
  }

  #assertDirection(transport: types.WebRtcTransport, direction: 'send' | 'recv'): void {
    if (transport.appData.direction !== direction) {
      throw new SignalingError('bad-request', `transport ${transport.id} is not a ${direction} transport`);
    }
  }
}
