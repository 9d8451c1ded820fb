import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeRecord } from '../sfu/NodeRegistry';
import { pickRenderNode } from './pickRenderNode';

function node(name: string, roles: NodeRecord['roles'], avatars?: number, avatarCapacity?: number): NodeRecord {
  return { name, roles, signalingUrl: `http://${name}:3000`, pipeAddress: '10.0.0.1', load: { peers: 0, rooms: 0, avatars, avatarCapacity }, heartbeatAt: 0 };
}

test('an avatar goes to the render node least full for its size, never to an SFU node, a full node or a shunned one', () => {
  const nodes = [
    node('sfu-1', ['sfu', 'render'], 0, 8), node('render-a', ['render'], 3, 4), node('render-b', ['render'], 4, 8),
    node('render-c', ['render'], 2, 2), node('trainer', ['trainer']),
  ];
  assert.equal(pickRenderNode(nodes, new Set())?.name, 'render-b', 'half full (4/8) before three quarters (3/4); render-c is full; sfu-1 renders its own peers');
  assert.equal(pickRenderNode(nodes, new Set(['render-b']))?.name, 'render-a');
  assert.equal(pickRenderNode(nodes, new Set(['render-a', 'render-b'])), undefined, 'none left: the SFU node renders it itself');
  assert.equal(pickRenderNode([node('render-x', ['render']), node('render-y', ['render'], 0, 0)], new Set()), undefined, 'a node that states no capacity takes nothing');
  assert.equal(pickRenderNode([node('render-z', ['render'], 1, 4), node('render-y', ['render'], 1, 4)], new Set())?.name, 'render-y', 'ties go by name');
});
