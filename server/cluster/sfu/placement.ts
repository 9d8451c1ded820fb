/**
 * Where a new peer of a room goes: the least-loaded live SFU node already hosting the
 * room (its peers' media then stays on one router), else the least-loaded SFU node.
 * Load is the node's peer count at its last heartbeat, then its room count.
 */
import type { NodeRecord } from './NodeRegistry';

export function placeNode(nodes: readonly NodeRecord[], hostingRoom: ReadonlySet<string>): NodeRecord | undefined {
  const sfus = nodes.filter((node) => node.roles.includes('sfu'));
  const hosting = sfus.filter((node) => hostingRoom.has(node.name));
  const candidates = hosting.length > 0 ? hosting : sfus;
  return [...candidates].sort((a, b) => a.load.peers - b.load.peers || a.load.rooms - b.load.rooms || a.name.localeCompare(b.name))[0];
}
