/**
 * Which render node a new avatar session goes to: a live node with the `render` role
 * and not `sfu` (an SFU node with `render` renders its own peers, docs/cluster.md), with
 * room under its capacity, not shunned (it lost a session of ours recently), the one
 * least full for its size (sessions / capacity at its last heartbeat), then by name.
 */
import type { NodeRecord } from '../sfu/NodeRegistry';

export function pickRenderNode(nodes: readonly NodeRecord[], shunned: ReadonlySet<string>): NodeRecord | undefined {
  const open = nodes.filter((node) => node.roles.includes('render') && !node.roles.includes('sfu') && !shunned.has(node.name)
    && (node.load.avatarCapacity ?? 0) > (node.load.avatars ?? 0));
  const share = (node: NodeRecord) => (node.load.avatars ?? 0) / node.load.avatarCapacity!;
  return [...open].sort((a, b) => share(a) - share(b) || a.name.localeCompare(b.name))[0];
}
