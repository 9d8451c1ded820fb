/** RoomManager against a real WorkerPool: creating, placing and closing rooms, and a worker's death. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerPool } from '../media/WorkerPool';
import { killWorker, recordingNotify } from '../../test/helpers/mediasoupFixtures';
import type { Room } from './Room';
import { RoomManager } from './RoomManager';

async function managerOnPool(numWorkers = 2): Promise<{ pool: WorkerPool; rooms: RoomManager; close: () => void }> {
  const pool = await WorkerPool.create({ numWorkers, rtcMinPort: 40000, rtcMaxPort: 49999, logLevel: 'error' });
  const rooms = new RoomManager(pool);
  return { pool, rooms, close: () => { rooms.close(); pool.close(); } };
}

test('a room is created on first use, on the least-loaded worker, and found again by its id', async (t) => {
  const { pool, rooms, close } = await managerOnPool();
  t.after(close);
  const created: string[] = [];
  rooms.on('roomCreated', (room) => created.push(room.id));
  const a = await rooms.getOrCreate('a');
  const b = await rooms.getOrCreate('b');
  assert.notEqual(a.worker, b.worker, 'two rooms on two workers');
  assert.deepEqual(new Set([a.worker, b.worker]), new Set(pool.workers));
  assert.equal(await rooms.getOrCreate('a'), a);
  assert.equal(rooms.get('a'), a);
  assert.equal(rooms.get('nope'), undefined);
  assert.deepEqual(created, ['a', 'b']);
  assert.equal(a.router.closed, false);
  assert.ok(a.router.rtpCapabilities.codecs?.some((c) => c.mimeType === 'video/VP8'), 'the router has our codecs');
});

test('concurrent first uses of one id share one creation', async (t) => {
  const { rooms, close } = await managerOnPool();
  t.after(close);
  let creations = 0;
  rooms.on('roomCreated', () => { creations += 1; });
  const [first, second, third] = await Promise.all([rooms.getOrCreate('x'), rooms.getOrCreate('x'), rooms.getOrCreate('x')]);
  assert.equal(first, second);
  assert.equal(second, third);
  assert.equal(creations, 1);
  assert.equal(rooms.rooms.size, 1);
});

test('a room that closes is forgotten, frees its worker slot and is announced; its id makes a new room', async (t) => {
  const { rooms, close } = await managerOnPool();
  t.after(close);
  const a = await rooms.getOrCreate('a');
  await rooms.getOrCreate('b');
  const closed: Room[] = [];
  rooms.on('roomClosed', (room) => closed.push(room));
  a.close('closed');
  assert.deepEqual(closed, [a]);
  assert.equal(rooms.get('a'), undefined);
  // a's worker hosts nothing now, b's one room: the next room goes where a was.
  const c = await rooms.getOrCreate('c');
  assert.equal(c.worker, a.worker);
  const again = await rooms.getOrCreate('a');
  assert.notEqual(again, a);
  assert.equal(again.closed, false);
});

test('closeIfEmpty() closes a room only once its last peer has left', async (t) => {
  const { rooms, close } = await managerOnPool(1);
  t.after(close);
  const room = await rooms.getOrCreate('r');
  const peer = room.join('ada', 'Ada', () => undefined);
  rooms.closeIfEmpty(room);
  assert.equal(room.closed, false);
  room.leave(peer);
  rooms.closeIfEmpty(room);
  assert.equal(room.closed, true);
  assert.equal(rooms.get('r'), undefined);
});

test('close() closes every room for a server shutdown, is idempotent, and later use says the manager is closed', async (t) => {
  const { pool, rooms } = await managerOnPool();
  t.after(() => pool.close());
  const a = await rooms.getOrCreate('a');
  const b = await rooms.getOrCreate('b');
  const ada = recordingNotify();
  a.join('ada', 'Ada', ada.notify);
  const closed: string[] = [];
  rooms.on('roomClosed', (room) => closed.push(room.id));
  rooms.close();
  rooms.close();
  assert.deepEqual(closed.sort(), ['a', 'b']);
  assert.ok(a.closed && b.closed && a.router.closed && b.router.closed);
  assert.deepEqual(ada.received, [{ method: 'roomClosed', data: { reason: 'server-shutdown' } }]);
  assert.equal(rooms.rooms.size, 0);
  await assert.rejects(rooms.getOrCreate('a'), { name: 'Error', message: 'RoomManager closed' });
});

test('close() while a room is being created closes that room too', async (t) => {
  const { pool, rooms } = await managerOnPool(2);
  t.after(() => pool.close());
  const routersBefore = (await pool.workers[0]!.dump() as { routerIds: string[] }).routerIds.length;
  const pending = rooms.getOrCreate('late');
  rooms.close();
  await assert.rejects(pending, { name: 'Error', message: 'RoomManager closed' });
  assert.equal(rooms.rooms.size, 0);
  assert.equal((await pool.workers[0]!.dump() as { routerIds: string[] }).routerIds.length, routersBefore, 'no router left behind');
  // Its worker slot was given back: with both workers empty again, the first is the least loaded.
  assert.equal(pool.acquire(), pool.workers[0]);
});

test('a worker that dies closes its rooms with worker-died; rooms elsewhere stay, and new rooms go to live workers', async (t) => {
  const { pool, rooms, close } = await managerOnPool();
  t.after(close);
  const doomed = await rooms.getOrCreate('doomed');
  const safe = await rooms.getOrCreate('safe');
  assert.notEqual(doomed.worker, safe.worker);
  const ada = recordingNotify();
  doomed.join('ada', 'Ada', ada.notify);
  const closed: string[] = [];
  rooms.on('roomClosed', (room) => closed.push(room.id));
  const replaced = pool.waitFor('workerReplaced', 10_000);
  await killWorker(doomed.worker);
  assert.deepEqual(closed, ['doomed']);
  assert.deepEqual(ada.received, [{ method: 'roomClosed', data: { reason: 'worker-died' } }]);
  assert.equal(safe.closed, false);
  assert.equal(rooms.get('doomed'), undefined);
  const { worker } = await replaced;
  const reborn = await rooms.getOrCreate('doomed');
  assert.equal(reborn.worker, worker, 'the empty replacement takes the next room');
  assert.equal(reborn.closed, false);
});
