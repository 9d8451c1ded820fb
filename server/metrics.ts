/** Prometheus metrics: gauges read live state when scraped; counters count events. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerPool } from './media/WorkerPool';
import type { RoomManager } from './rooms/RoomManager';

export class Metrics {
  readonly registry = new Registry();
  readonly signalingRequests = new Counter({
    name: 'voxface_signaling_requests_total',
    help: 'Signaling requests by method and result (ok or an error code)',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });

  constructor(pool: WorkerPool, rooms: RoomManager) {
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
  }
}
