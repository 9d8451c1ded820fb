/**
 * An SFU node's placement of avatar sessions on render nodes (docs/cluster.md, "Render
 * nodes"): the AvatarService's `hosting`. When a peer's avatar starts and a render node
 * has room (pickRenderNode), the session goes there: a pipe (SCTP on) between the room's
 * router and the render node, the peer's coefficient data producer consumed onto it, and
 * `hostAvatar` on the bus; the avatar's video comes back as `hostedAvatarProducer` and
 * is published as the peer's own (RemoteAvatar). No render node with room, or one that
 * refuses: the session renders here, as on a single server.
 *
 * A render node that dies (its heartbeat lapses, or no media comes through the pipe),
 * or ends a session itself, loses the session: the AvatarService falls back to its
 * standing-by renderer here at once (~0.3 s to its first frame, where a second render
 * node would first load the avatar), that peer's avatar is not placed again for
 * SHUN_MS, nor is the lost node chosen for anyone's.
 */
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import type { BackgroundChoice } from '../../../shared/signaling/background';
import type { RenderBackground } from '../../engine/AvatarPlates';
import { Logger } from '../../Logger';
import type { Peer } from '../../rooms/Peer';
import type { Room } from '../../rooms/Room';
import type { CoefficientIngest } from '../../streams/CoefficientIngest';
import type { AvatarHosting } from '../../avatar/AvatarServiceTypes';
import type { SfuCluster } from '../sfu/SfuCluster';
import { pickRenderNode } from './pickRenderNode';
import { RemoteAvatar } from './RemoteAvatar';
import { RENDER_NOTICES, type RenderNoticeData, type RenderNoticeMethod } from './renderMessages';

const logger = new Logger('RenderPlacement');

/** A render node that lost one of this node's sessions is not chosen again for this long. */
export const SHUN_MS = 30_000;

export interface RenderPlacementOptions {
  cluster: SfuCluster;
  ingest: CoefficientIngest;
  /** Where this node's pipe transports listen, and the address render nodes send to. */
  listenIp: string;
  announcedAddress: string;
  enableSrtp: boolean;
}

export interface RenderPlacementHealth {
  /** Sessions of this node's peers hosted on render nodes now. */
  hosted: number;
  /** The same, by render node. */
  byNode: Record<string, number>;
  /** Sessions lost on a render node since start (each fell back here). */
  lost: number;
}

/** What a render node renders in front of: the choice as the peer made it (an image by its id, resolved there). */
function choiceOf(background: RenderBackground): BackgroundChoice {
  return background.kind === 'image' ? { kind: 'image', id: background.id } : background;
}

export class RenderPlacement implements AvatarHosting {
  readonly #options: RenderPlacementOptions;
  readonly #sessions = new Map<string, RemoteAvatar>();
  /** Render node name, or `${room}/${peer}` of a lost session -> until when it is not placed there / at all. */
  readonly #shunned = new Map<string, number>();
  #lost = 0;
  #closed = false;

  constructor(options: RenderPlacementOptions) {
    this.#options = options;
    options.cluster.routeNotices(RENDER_NOTICES, (from, method, data) => this.#onNotice(from, method as RenderNoticeMethod, data));
    options.cluster.registry.on('nodeDown', (node) => {
      for (const session of [...this.#sessions.values()]) {
        if (session.node === node) session.lost(`render node ${node} stopped heartbeating`);
      }
    });
  }

  health(): RenderPlacementHealth {
    const byNode: Record<string, number> = {};
    for (const session of this.#sessions.values()) byNode[session.node] = (byNode[session.node] ?? 0) + 1;
    return { hosted: this.#sessions.size, byNode, lost: this.#lost };
  }

  /** The session of `peer` in `room` hosted on a render node, if any (tests, benchmarks). */
  sessionOf(roomId: string, peerId: string): RemoteAvatar | undefined {
    return [...this.#sessions.values()].find((session) => session.room.id === roomId && session.peer.id === peerId);
  }

  async host(wish: { room: Room; peer: Peer; avatarId: string; background: RenderBackground }): Promise<RemoteAvatar | undefined> {
    if (this.#closed) return undefined;
    const { room, peer } = wish;
    const now = Date.now();
    for (const [name, until] of this.#shunned) if (until <= now) this.#shunned.delete(name);
    // A peer whose session was lost renders here (the fallback) rather than moving again.
    if (this.#shunned.has(`${room.id}/${peer.id}`)) return undefined;
    const node = pickRenderNode(this.#options.cluster.registry.alive(), new Set(this.#shunned.keys()));
    if (!node) return undefined;
    const ingested = this.#options.ingest.streams().find((stream) => stream.roomId === room.id && stream.peerId === peer.id);
    if (!ingested) return undefined;
    const dataProducerId = ingested.dataConsumer.dataProducerId;
    const transport = await room.router.createPipeTransport({
      listenIp: { ip: this.#options.listenIp, announcedIp: this.#options.announcedAddress === this.#options.listenIp ? undefined : this.#options.announcedAddress },
      enableSctp: true,
      enableRtx: false,
      enableSrtp: this.#options.enableSrtp,
      appData: { purpose: 'render-pipe' },
    });
    let dataConsumer: types.DataConsumer;
    try {
      dataConsumer = await transport.consumeData({ dataProducerId });
    } catch (error) {
      transport.close();
      throw error;
    }
    const id = randomUUID();
    const { bus } = this.#options.cluster;
    // Registered before the request: the render node's first notices may come before its answer.
    const session = new RemoteAvatar(id, {
      room, peer, node: node.name, transport, dataConsumer,
      drop: () => {
        if (this.#sessions.get(id) === session) this.#sessions.delete(id);
        bus.notice(node.name, 'dropHostedAvatar', { session: id });
      },
      reload: () => bus.request(node.name, 'reloadHostedAvatar', { session: id }).then((reply) => reply.reloaded),
      lost: () => {
        this.#lost += 1;
        this.#shun(node.name);
        this.#shun(`${room.id}/${peer.id}`);
      },
    });
    this.#sessions.set(id, session);
    try {
      const reply = await bus.request(node.name, 'hostAvatar', {
        session: id, room: room.id, peer: { id: peer.id, user: peer.user, displayName: peer.displayName },
        avatarId: wish.avatarId, background: choiceOf(wish.background),
        ip: this.#options.announcedAddress, port: transport.tuple.localPort,
        srtpParameters: transport.srtpParameters as { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32'; keyBase64: string } | undefined,
        data: {
          dataProducerId,
          sctpStreamParameters: dataConsumer.sctpStreamParameters!,
          label: dataConsumer.label,
          protocol: dataConsumer.protocol,
        },
      });
      await transport.connect({ ip: reply.ip, port: reply.port, srtpParameters: reply.srtpParameters });
    } catch (error) {
      session.close('host-failed');
      this.#shun(node.name);
      throw new Error(`render node ${node.name} did not take the avatar of ${peer.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (session.closed) return undefined;
    logger.info(`avatar of ${peer.id} (room ${room.id}) renders on render node ${node.name}`);
    return session;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) session.close('server-shutdown');
  }

  #shun(node: string): void {
    this.#shunned.set(node, Date.now() + SHUN_MS);
  }

  #onNotice(from: string, method: RenderNoticeMethod, data: unknown): void {
    if (method === 'dropHostedAvatar') return; // a render node's notice; SFU nodes host nothing
    const { session: id } = data as { session: string };
    const session = this.#sessions.get(id);
    if (!session || session.node !== from) {
      logger.debug('%s from %s for a session it does not host here (%s)', method, from, id);
      return;
    }
    switch (method) {
      case 'hostedAvatarProducer':
        session.useProducer(data as RenderNoticeData<'hostedAvatarProducer'>);
        return;
      case 'hostedAvatarStatus':
        session.useStatus((data as RenderNoticeData<'hostedAvatarStatus'>).status);
        return;
      case 'hostedAvatarEnded': {
        const { reason, message } = data as RenderNoticeData<'hostedAvatarEnded'>;
        session.lost(`render node ${from} ended it (${reason}: ${message})`);
      }
    }
  }
}
