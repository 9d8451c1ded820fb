/** Prometheus metrics: gauges read live state when scraped; counters count events. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AvatarService } from './avatar/AvatarService';
import type { WorkerPool } from './media/WorkerPool';
import { CAP_NAMES, CAPS, type Capacity } from './rooms/Capacity';
import type { RoomManager } from './rooms/RoomManager';
import type { CoefficientIngest } from './streams/CoefficientIngest';

export class Metrics {
  readonly registry = new Registry();
  readonly signalingRequests = new Counter({
    name: 'voxface_signaling_requests_total',
    help: 'Signaling requests by method and result (ok or an error code)',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });

  constructor(pool: WorkerPool, rooms: RoomManager, ingest: CoefficientIngest, avatars?: AvatarService) {
    collectDefaultMetrics({ register: this.registry, prefix: 'voxface_' });
    const peers = () => [...rooms.rooms.values()].flatMap((room) => [...room.peers.values()]);
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge('voxface_workers', 'Live mediasoup workers', () => pool.workers.length);
    gauge('voxface_worker_deaths', 'mediasoup workers that died since start', () => pool.deaths);
    gauge('voxface_rooms', 'Open rooms', () => rooms.rooms.size);
    gauge('voxface_peers', 'Joined peers', () => peers().length);
    gauge('voxface_transports', 'WebRTC transports', () => peers().reduce((n, p) => n + p.transports.size, 0));
    gauge('voxface_producers', 'Producers', () => peers().reduce((n, p) => n + p.producers.size, 0));
    gauge('voxface_consumers', 'Consumers', () => peers().reduce((n, p) => n + p.consumers.size, 0));
    gauge('voxface_data_producers', 'Data producers', () => peers().reduce((n, p) => n + p.dataProducers.size, 0));
    this.#capMetrics(rooms.capacity);
    if (avatars) this.#trackAvatars(avatars);
    new Counter({
      name: 'voxface_coefficient_packets_rate_limited_total', help: 'Coefficient packets dropped beyond their peer\'s rate limit', registers: [this.registry],
      collect() { this.reset(); this.inc(ingest.rateLimitedTotal); },
    });
    this.#coefficientStreamGauges(ingest);
  }

  /** Each cap's limit, the refusals by cap, and transports closed for never connecting. */
  #capMetrics(capacity: Capacity): void {
    new Gauge({
      name: 'voxface_cap_limit', help: 'Configured caps (server-wide, per room, per peer)', labelNames: ['cap'] as const, registers: [this.registry],
      collect() { for (const cap of CAP_NAMES) this.set({ cap }, capacity.limits[CAPS[cap].limit]); },
    });
    new Gauge({
      name: 'voxface_transport_connect_timeout_seconds', help: 'A WebRTC transport not connected this long after its first use is closed', registers: [this.registry],
      collect() { this.set(capacity.limits.transportConnectTimeoutMs / 1000); },
    });
    new Counter({
      name: 'voxface_cap_refusals_total', help: 'Requests refused because a cap was reached, by cap', labelNames: ['cap'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const cap of CAP_NAMES) this.inc({ cap }, capacity.refusals[cap]);
      },
    });
    new Counter({
      name: 'voxface_transports_closed_unconnected_total', help: 'WebRTC transports closed because DTLS never connected, by reason',
      labelNames: ['reason'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(capacity.unconnectedTransportsClosed)) this.inc({ reason }, count);
      },
    });
  }

  /** Per-stream figures of the coefficient streams, labelled by room and peer. */
  #coefficientStreamGauges(ingest: CoefficientIngest): void {
    const labelNames = ['room', 'peer'] as const;
    const perStream = (name: string, help: string, read: (s: ReturnType<CoefficientIngest['streams']>[number], now: number) => number) =>
      new Gauge({
        name, help, labelNames, registers: [this.registry],
        collect() {
          this.reset();
          const now = Date.now();
          for (const s of ingest.streams()) this.set({ room: s.roomId, peer: s.peerId }, read(s, now));
        },
      });
    perStream('voxface_coefficient_packet_rate_hz', 'Coefficient packets received per second', (s, now) => s.stream.stats(now).packetRateHz);
    perStream('voxface_coefficient_bitrate_kbps', 'Coefficient payload kbps', (s, now) => s.stream.stats(now).bitrateKbps);
    perStream('voxface_coefficient_loss_fraction', 'Coefficient packets lost (sequence gaps)', (s, now) => s.stream.stats(now).lossFraction);
    perStream('voxface_coefficient_jitter_ms', 'Coefficient inter-arrival jitter, ms', (s, now) => s.stream.stats(now).jitterMs);
    perStream('voxface_coefficient_age_ms', 'Age of the newest coefficient frame, ms', (s, now) => s.stream.stats(now).ageMs ?? -1);
    new Gauge({
      name: 'voxface_coefficient_packets_dropped', help: 'Coefficient packets dropped, by reason', labelNames: ['room', 'peer', 'reason'] as const, registers: [this.registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const s of ingest.streams()) {
          for (const [reason, count] of Object.entries(s.stream.stats(now).droppedByReason)) this.set({ room: s.roomId, peer: s.peerId, reason }, count);
        }
      },
    });
  }

  /** Avatar caps: what runs now and each limit (a refusal is counted in voxface_signaling_requests_total by its code). */
  #trackAvatars(avatars: AvatarService): void {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge('voxface_avatar_sessions', 'Avatar sessions (started or waiting for their stream)', () => avatars.usage().sessions);
    gauge('voxface_avatar_sessions_limit', 'Cap on avatar sessions (VOXFACE_MAX_AVATAR_SESSIONS)', () => avatars.usage().limits.maxSessions);
    gauge('voxface_avatar_sessions_per_peer_limit', 'Cap on one peer\'s avatar sessions (VOXFACE_MAX_AVATAR_SESSIONS_PER_PEER)', () => avatars.usage().limits.maxSessionsPerPeer);
    gauge('voxface_render_processes', 'Avatar render processes (loading or rendering)', () => avatars.usage().renderProcesses);
    gauge('voxface_render_processes_limit', 'Cap on render processes (VOXFACE_MAX_RENDER_PROCESSES)', () => avatars.usage().limits.maxRenderProcesses);
    for (const backend of ['cpu', 'gpu'] as const) {
      gauge(`voxface_avatar_sessions_${backend}`, `Avatar sessions whose frames the ${backend.toUpperCase()} draws now (VOXFACE_RENDER_BACKEND)`, () => avatars.usage().byBackend[backend].sessions);
      gauge(`voxface_avatar_render_ms_${backend}`, `Median over ${backend.toUpperCase()} sessions of their p50 frame render time, ms`, () => avatars.usage().byBackend[backend].renderMsP50);
    }
    gauge('voxface_avatar_encoders', 'Avatar video encoder (ffmpeg) processes', () => avatars.usage().encoders);
    gauge('voxface_avatar_encoders_limit', 'Cap on video encoders (VOXFACE_MAX_AVATAR_ENCODERS)', () => avatars.usage().limits.maxEncoders);
  }
}
