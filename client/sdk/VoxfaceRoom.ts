/**
 * The browser SDK's room: join with a token, publish tracks, receive everyone
 * else's, and hear peers and tracks come and go through typed events.
 *
 *   const room = await joinRoom({ url, room: 'demo', name: 'Ada', token });
 *   room.on('trackAdded', ({ peerId, track }) => show(peerId, track));
 *   await room.publishCamera();
 */
import type { BackgroundChoice } from '../../shared/signaling/background';
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import type {
  ConsumeReply, JoinReply, NotificationMap, ProducerInfo, TransportReply,
} from '../../shared/signaling/messages';
import { TypedEmitter } from '../../shared/TypedEmitter';
import { SerialQueue } from './SerialQueue';
import { SignalingClient } from './SignalingClient';

export interface JoinOptions {
  /** Server origin, e.g. http://localhost:3000. */
  url: string;
  room: string;
  /** Display name shown to the others. */
  name: string;
  /** A call token for `room` (scope `call`; an onboarding token is refused): your app's, or `fetchDevTokens(room)` in dev mode. */
  token: string;
  /**
   * Where mediasoup-client's WebRTC handler comes from; by default it is detected
   * from the browser. Node tests pass mediasoup-client's FakeHandler.
   */
  handlerFactory?: types.HandlerFactory;
}

export interface RemotePeer {
  id: string;
  displayName: string;
}

export interface RemoteTrack {
  peerId: string;
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  track: MediaStreamTrack;
  appData: Record<string, unknown>;
}

export interface RoomEvents {
  [key: string]: unknown;
  peerJoined: RemotePeer;
  peerLeft: RemotePeer;
  trackAdded: RemoteTrack;
  trackRemoved: RemoteTrack;
  /** The server closed the room (its worker died, or it shut down). */
  roomClosed: { reason: NotificationMap['roomClosed']['reason'] };
  /** The connection to the server is gone; the room is closed. */
  disconnected: { reason: string };
  /** A peer's server-rendered avatar changed state ('stalled': its picture is frozen). */
  avatarStatus: NotificationMap['avatarStatus'];
  /**
   * This peer's avatar ended without being asked to (its render process crashed, its
   * encoder failed, ...): `message` says why. Publish the camera instead, as the demo does.
   */
  avatarStopped: NotificationMap['avatarStopped'];
  /**
   * How many new frames per second this peer's avatar renders now; `fps` null: no avatar
   * renders from this peer's coefficients any more (disabled or stopped). CoefficientStreaming
   * tracks the camera at this rate.
   */
  avatarFrameRate: { fps: number | null };
  /** A background operation failed (consuming a new track, say). */
  error: Error;
}

export async function joinRoom(options: JoinOptions): Promise<VoxfaceRoom> {
  const signaling = await SignalingClient.connect(options.url);
  try {
    const reply = await signaling.request<'join', JoinReply>('join', { token: options.token, room: options.room, displayName: options.name });
    const device = new Device({ handlerFactory: options.handlerFactory });
    await device.load({ routerRtpCapabilities: reply.routerRtpCapabilities as types.RtpCapabilities });
    const room = new VoxfaceRoom(signaling, device, reply);
    await room.open(reply);
    return room;
  } catch (error) {
    signaling.close();
    throw error;
  }
}

/**
 * enableAvatar answers once the avatar renders: a render process starts and loads the
 * model, the under-layer is built and an encoder starts. A new version's load took 2.7-6.9 s
 * on the 2-core test machine beside a call, and in a CI run of the onboarding e2e (a trainer
 * and two pages beside it) the join link's request outlived the connection's 10 s: the page
 * fell back to the camera while the server went on and the avatar went live.
 */
const ENABLE_AVATAR_TIMEOUT_MS = 30_000;

export class VoxfaceRoom extends TypedEmitter<RoomEvents> {
  readonly peerId: string;
  readonly roomId: string;
  readonly peers = new Map<string, RemotePeer>();
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly #signaling: SignalingClient;
  readonly #device: Device;
  readonly #queue = new SerialQueue();
  readonly #consumers = new Map<string, types.Consumer>();
  readonly #producers = new Map<string, types.Producer>();
  #sendTransport?: types.Transport;
  #recvTransport?: types.Transport;
  #closed = false;

  /** @internal use joinRoom() */
  constructor(signaling: SignalingClient, device: Device, reply: JoinReply) {
    super();
    this.#signaling = signaling;
    this.#device = device;
    this.peerId = reply.peerId;
    this.roomId = reply.room;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get signaling(): SignalingClient {
    return this.#signaling;
  }

  /** @internal */
  async open(reply: JoinReply): Promise<void> {
    const s = this.#signaling;
    s.on('peerJoined', ({ peerId, displayName }) => {
      const peer = { id: peerId, displayName };
      this.peers.set(peerId, peer);
      this.emit('peerJoined', peer);
    });
    s.on('peerLeft', ({ peerId }) => this.#onPeerLeft(peerId));
    s.on('newProducer', ({ peerId, producer }) => {
      this.#consume(peerId, producer).catch((error: Error) => this.emit('error', error));
    });
    s.on('consumerClosed', ({ consumerId }) => this.#removeConsumer(consumerId));
    s.on('avatarStatus', (status) => this.emit('avatarStatus', status));
    s.on('avatarStopped', (stopped) => {
      this.emit('avatarFrameRate', { fps: null });
      this.emit('avatarStopped', stopped);
    });
    s.on('avatarFrameRate', ({ fps }) => this.emit('avatarFrameRate', { fps }));
    s.on('roomClosed', ({ reason }) => {
      this.emit('roomClosed', { reason });
      this.#teardown();
    });
    s.on('disconnected', ({ reason }) => {
      if (this.#closed) return;
      this.emit('disconnected', { reason });
      this.#teardown();
    });

    this.#recvTransport = await this.#createTransport('recv');
    this.#sendTransport = await this.#createTransport('send');
    for (const peer of reply.peers) {
      this.peers.set(peer.id, { id: peer.id, displayName: peer.displayName });
      this.emit('peerJoined', { id: peer.id, displayName: peer.displayName });
    }
    await Promise.all(reply.peers.flatMap((peer) => peer.producers.map((p) => this.#consume(peer.id, p))));
  }

  /** Publishes a local track; returns the producer id. */
  async publishTrack(track: MediaStreamTrack, appData: Record<string, string | number | boolean> = {}): Promise<string> {
    const transport = this.#requireSend();
    const producer = await transport.produce({ track, appData });
    this.#producers.set(producer.id, producer);
    return producer.id;
  }

  /** Opens the camera and microphone and publishes them; returns the local stream for a preview. */
  async publishCameraAndMicrophone(constraints: MediaStreamConstraints = { video: { width: 640, height: 480 }, audio: true }): Promise<MediaStream> {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    for (const track of stream.getTracks()) await this.publishTrack(track, { source: track.kind === 'video' ? 'camera' : 'mic' });
    return stream;
  }

  /** A data channel to the server (SCTP over the send transport). */
  async produceData(options: types.DataProducerOptions): Promise<types.DataProducer> {
    return this.#requireSend().produceData(options);
  }

  /**
   * Asks the server to render `avatarId` for this peer from its coefficient stream
   * (start CoefficientStreaming too). The avatar video arrives to everyone, this
   * peer included, as one of this peer's tracks (appData.source 'avatar').
   */
  /**
   * Shows `avatarId` (rendered by the server) instead of this peer's camera. `background`:
   * what shows behind the person (blur, the default: their own room blurred; room; or a
   * colour '#rrggbb'). Calling it again with another background re-renders the avatar with it.
   */
  async enableAvatar(avatarId: string, options: { background?: BackgroundChoice } = {}): Promise<void> {
    await this.#signaling.request('enableAvatar', { avatarId, ...(options.background ? { background: options.background } : {}) }, ENABLE_AVATAR_TIMEOUT_MS);
  }

  async disableAvatar(): Promise<void> {
    await this.#signaling.request('disableAvatar', {});
    this.emit('avatarFrameRate', { fps: null });
  }

  /** Closes a data producer here and on the server. */
  async closeDataProducer(dataProducer: types.DataProducer): Promise<void> {
    if (dataProducer.closed) return;
    dataProducer.close();
    if (!this.#closed) await this.#signaling.request('closeDataProducer', { dataProducerId: dataProducer.id });
  }

  async unpublish(producerId: string): Promise<void> {
    const producer = this.#producers.get(producerId);
    if (!producer) throw new Error(`no local producer ${producerId}`);
    producer.close();
    this.#producers.delete(producerId);
    await this.#signaling.request('closeProducer', { producerId });
  }

  /** The microphone track this peer publishes, if any. */
  localAudioTrack(): MediaStreamTrack | undefined {
    return [...this.#producers.values()].find((p) => p.kind === 'audio')?.track ?? undefined;
  }

  consumer(consumerId: string): types.Consumer | undefined {
    return this.#consumers.get(consumerId);
  }

  get sendTransport(): types.Transport | undefined {
    return this.#sendTransport;
  }

  async leave(): Promise<void> {
    if (this.#closed) return;
    await this.#signaling.request('leave', {}).catch(() => undefined);
    this.#teardown();
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#consumers.keys()]) this.#removeConsumer(id);
    for (const producer of this.#producers.values()) {
      producer.close();
      producer.track?.stop();
    }
    this.#producers.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#signaling.close();
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    const params = await this.#signaling.request<'createWebRtcTransport', TransportReply>('createWebRtcTransport', {
      direction,
      sctpCapabilities: this.#device.sctpCapabilities,
    });
    const options = {
      id: params.id,
      iceParameters: params.iceParameters as types.IceParameters,
      iceCandidates: params.iceCandidates as types.IceCandidate[],
      dtlsParameters: params.dtlsParameters as types.DtlsParameters,
      sctpParameters: params.sctpParameters as types.SctpParameters | undefined,
    };
    const transport = direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#signaling.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as never })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.#signaling.request<'produce', { id: string }>('produce', {
          transportId: transport.id, kind, rtpParameters: rtpParameters as never, appData: appData as never,
        }).then(({ id }) => callback({ id }), errback);
      });
      transport.on('producedata', ({ sctpStreamParameters, label, protocol, appData }, callback, errback) => {
        this.#signaling.request<'produceData', { id: string }>('produceData', {
          transportId: transport.id, sctpStreamParameters: sctpStreamParameters as never, label, protocol, appData: appData as never,
        }).then(({ id }) => callback({ id }), errback);
      });
    }
    return transport;
  }

  #consume(peerId: string, producer: ProducerInfo): Promise<void> {
    // One consume at a time: mediasoup-client renegotiates per consumer.
    return this.#queue.push(async () => {
      if (this.#closed || !this.#recvTransport) return;
      const params = await this.#signaling.request<'consume', ConsumeReply>('consume', {
        transportId: this.#recvTransport.id,
        producerId: producer.id,
        rtpCapabilities: this.#device.rtpCapabilities as never,
      });
      const consumer = await this.#recvTransport.consume({
        id: params.id,
        producerId: params.producerId,
        kind: params.kind,
        rtpParameters: params.rtpParameters as types.RtpParameters,
      });
      this.#consumers.set(consumer.id, consumer);
      const remote: RemoteTrack = {
        peerId, consumerId: consumer.id, producerId: producer.id, kind: consumer.kind as 'audio' | 'video', track: consumer.track, appData: params.appData,
      };
      this.remoteTracks.set(consumer.id, remote);
      this.emit('trackAdded', remote);
      await this.#signaling.request('resumeConsumer', { consumerId: consumer.id });
    });
  }

  #removeConsumer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer) return;
    this.#consumers.delete(consumerId);
    consumer.close();
    const remote = this.remoteTracks.get(consumerId);
    this.remoteTracks.delete(consumerId);
    if (remote) this.emit('trackRemoved', remote);
  }

  #onPeerLeft(peerId: string): void {
    for (const remote of [...this.remoteTracks.values()]) {
      if (remote.peerId === peerId) this.#removeConsumer(remote.consumerId);
    }
    const peer = this.peers.get(peerId) ?? { id: peerId, displayName: '' };
    this.peers.delete(peerId);
    this.emit('peerLeft', peer);
  }

  #requireSend(): types.Transport {
    if (this.#closed || !this.#sendTransport) throw new Error('room is closed');
    return this.#sendTransport;
  }
}

export type { BackgroundChoice } from '../../shared/signaling/background';
