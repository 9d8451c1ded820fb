/** WorkerPool against real mediasoup workers: placement, close, and a worker's death. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, killWorker, settle, workerProcesses } from '../../test/helpers/mediasoupFixtures';
import { WorkerPool, type WorkerPoolOptions } from './WorkerPool';

const OPTIONS: WorkerPoolOptions = { numWorkers: 2, rtcMinPort: 40000, rtcMaxPort: 49999, logLevel: 'error' };

test('create() refuses a worker count that is not a positive integer, with the reason', async () => {
  for (const numWorkers of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(WorkerPool.create({ ...OPTIONS, numWorkers }), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, 'numWorkers must be a positive integer');
      return true;
    });
  }
});

test('create() starts the asked number of live workers, each in its own process with its slot', async (t) => {
  const pool = await WorkerPool.create({ ...OPTIONS, numWorkers: 3 });
  t.after(() => pool.close());
  assert.equal(pool.closed, false);
  assert.equal(pool.workers.length, 3);
  assert.equal(new Set(pool.workers.map((w) => w.pid)).size, 3);
  assert.deepEqual(pool.workers.map((w) => w.appData.slot), [0, 1, 2]);
  assert.ok(pool.workers.every((w) => !w.closed));
  assert.equal(pool.deaths, 0);
  // Each answers requests (a worker that had not started would not).
  const usages = await Promise.all(pool.workers.map((w) => w.getResourceUsage()));
  assert.equal(usages.length, 3);
});

test('acquire() spreads rooms over the workers, least loaded first, and release() returns a slot', async (t) => {
  const pool = await WorkerPool.create(OPTIONS);
  t.after(() => pool.close());
  const [a, b] = pool.workers;
  const placed = [pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()];
  assert.equal(placed.filter((w) => w === a).length, 2);
  assert.equal(placed.filter((w) => w === b).length, 2);
  // One of a's rooms closes: a hosts fewer, so it gets the next room, then they are even again.
  pool.release(a!);
  assert.equal(pool.acquire(), a);
  const next = [pool.acquire(), pool.acquire()];
  assert.deepEqual(new Set(next), new Set([a, b]));
});

test('release() more often than acquire(), or of a worker the pool does not hold, does not skew placement', async (t) => {
  const pool = await WorkerPool.create(OPTIONS);
  t.after(() => pool.close());
  const [a, b] = pool.workers;
  pool.release(a!);
  pool.release(a!);
  const stranger = { pid: -1 } as unknown as Parameters<WorkerPool['release']>[0];
  pool.release(stranger);
  // A load never drops below zero: a, released twice, still counts one room per acquire.
  assert.equal(pool.acquire(), a);
  assert.equal(pool.acquire(), b);
  assert.equal(pool.acquire(), a);
});

test('close() closes every worker, is idempotent, and acquire() after it says the pool is closed', async () => {
  const pool = await WorkerPool.create(OPTIONS);
  const workers = pool.workers;
  const routers = await Promise.all(workers.map((w) => w.createRouter({ mediaCodecs: [] })));
  pool.close();
  assert.equal(pool.closed, true);
  assert.deepEqual(pool.workers, []);
  assert.ok(workers.every((w) => w.closed), 'every worker closed');
  assert.ok(routers.every((r) => r.closed), 'their routers closed with them');
  pool.close();
  assert.equal(pool.closed, true);
  assert.throws(() => pool.acquire(), { name: 'Error', message: 'WorkerPool closed' });
  assert.equal(pool.deaths, 0, 'a close is not a death');
  assert.ok(await eventually(() => workerProcesses().length === 0), `worker processes left: ${workerProcesses().join(', ')}`);
});

test('a worker that dies is reported with its error, and a new one starts in its slot', async (t) => {
  const pool = await WorkerPool.create(OPTIONS);
  t.after(() => pool.close());
  const [victim, survivor] = pool.workers;
  const router = await victim!.createRouter({ mediaCodecs: [] });
  // While the slot is empty, placement uses the live worker only.
  let placedDuringDeath: unknown;
  pool.once('workerDied', () => { placedDuringDeath = pool.acquire(); });
  const died = pool.waitFor('workerDied', 10_000);
  const replaced = pool.waitFor('workerReplaced', 10_000);
  await killWorker(victim!);
  const death = await died;
  assert.equal(death.worker, victim);
  assert.match(death.error.message, /signal:SIGKILL/);
  assert.equal(placedDuringDeath, survivor);
  assert.equal(router.closed, true, 'the dead worker\'s routers are closed');
  assert.equal(pool.deaths, 1);

  const { slot, worker } = await replaced;
  assert.equal(slot, 0);
  assert.notEqual(worker, victim);
  assert.notEqual(worker.pid, victim!.pid);
  assert.equal(worker.appData.slot, 0);
  assert.deepEqual(pool.workers, [worker, survivor]);
  await worker.getResourceUsage(); // it serves
  // The replacement starts empty: it takes the next room although the survivor took one already.
  assert.equal(pool.acquire(), worker);
});

test('with its only worker dead and not yet replaced, acquire() says no worker is live', async (t) => {
  const pool = await WorkerPool.create({ ...OPTIONS, numWorkers: 1 });
  t.after(() => pool.close());
  let refusal: unknown;
  pool.once('workerDied', () => {
    try { pool.acquire(); } catch (error) { refusal = error; }
  });
  const replaced = pool.waitFor('workerReplaced', 10_000);
  await killWorker(pool.workers[0]!);
  assert.ok(refusal instanceof Error);
  assert.equal(refusal.message, 'no live mediasoup worker');
  await replaced;
  assert.equal(pool.workers.length, 1);
});

test('a pool closed while a dead worker is being replaced closes the replacement and reports nothing more', async () => {
  assert.ok(await eventually(() => workerProcesses().length === 0), 'earlier tests\' workers are gone');
  const pool = await WorkerPool.create({ ...OPTIONS, numWorkers: 1 });
  assert.equal(workerProcesses().length, 1, 'the process scan sees the pool\'s worker');
  let replacements = 0;
  pool.on('workerReplaced', () => { replacements += 1; });
  const died = pool.waitFor('workerDied', 10_000);
  await killWorker(pool.workers[0]!);
  await died;
  pool.close(); // the replacement is still starting
  // Long enough for a worker to start several times over (90-220 ms measured here on a loaded 2-core machine).
  await settle(1000);
  assert.equal(replacements, 0);
  assert.deepEqual(pool.workers, []);
  assert.ok(await eventually(() => workerProcesses().length === 0), `the replacement still runs: ${workerProcesses().join(', ')}`);
});
