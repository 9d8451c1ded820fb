/**
 * Crash-safe writes on real files: the order of fsync and rename calls (seen by
 * wrapping node:fs's functions, which still run for real), a writer process
 * killed mid-write (SIGKILL) leaving the target whole, and the sweep of
 * temporary files that tells a dead writer's from a live one's.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import fsPromises, { open, type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyFileAtomic, fsyncTree, isStalePartial, sweepStalePartials, writeFileAtomic, writeFileAtomicAsync } from './atomicFile';

const root = mkdtempSync(join(tmpdir(), 'voxface-atomic-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Records fsync (by the path its descriptor points at) and rename calls while `body` runs; both still do their work. */
function recordSyscalls(body: () => void): string[] {
  const calls: string[] = [];
  const fsync = fs.fsyncSync, rename = fs.renameSync;
  fs.fsyncSync = (fd: number) => {
    calls.push(`fsync ${readlinkSync(`/proc/self/fd/${fd}`)}`);
    fsync(fd);
  };
  fs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    calls.push(`rename ${String(from)} -> ${String(to)}`);
    rename(from, to);
  };
  syncBuiltinESMExports();
  try {
    body();
  } finally {
    fs.fsyncSync = fsync;
    fs.renameSync = rename;
    syncBuiltinESMExports();
  }
  return calls;
}

/** The same for the promise API: FileHandle.sync and fs/promises' rename. */
async function recordAsyncSyscalls(body: () => Promise<void>): Promise<string[]> {
  const calls: string[] = [];
  const probe = await open(join(root, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  const sync = proto.sync, rename = fsPromises.rename;
  proto.sync = async function (this: FileHandle) {
    calls.push(`fsync ${readlinkSync(`/proc/self/fd/${this.fd}`)}`);
    return sync.call(this);
  };
  fsPromises.rename = async (from: fs.PathLike, to: fs.PathLike) => {
    calls.push(`rename ${String(from)} -> ${String(to)}`);
    return rename(from, to);
  };
  syncBuiltinESMExports();
  try {
    await body();
  } finally {
    proto.sync = sync;
    fsPromises.rename = rename;
    syncBuiltinESMExports();
  }
  return calls;
}

/** A pid that is certainly not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

function checkDurableReplace(calls: string[], target: string): void {
  const dir = join(target, '..');
  const rename = calls.findIndex((c) => c.startsWith('rename ') && c.endsWith(` -> ${target}`));
  assert.ok(rename >= 0, `renamed into place: ${calls.join(' | ')}`);
  const temporary = calls[rename]!.slice('rename '.length, calls[rename]!.indexOf(' -> '));
  assert.match(temporary, /\.\d+\.\d+\.partial$/);
  const fileSync = calls.indexOf(`fsync ${temporary}`);
  assert.ok(fileSync >= 0 && fileSync < rename, `the temporary file is fsynced before the rename: ${calls.join(' | ')}`);
  assert.ok(calls.slice(rename + 1).includes(`fsync ${dir}`), `the folder is fsynced after the rename: ${calls.join(' | ')}`);
  assert.equal(existsSync(temporary), false);
}

test('writeFileAtomic fsyncs the temporary file, renames it over the target, then fsyncs the folder', () => {
  const target = join(root, 'jobs.json');
  writeFileSync(target, 'old');
  const calls = recordSyscalls(() => writeFileAtomic(target, Buffer.from('new content')));
  checkDurableReplace(calls, target);
  assert.equal(readFileSync(target, 'utf8'), 'new content');
});

test('copyFileAtomic (the avatar store install) fsyncs the copy before the rename and the folder after', () => {
  const source = join(root, 'source.vxa'), target = join(root, 'store', 'av-x.vxa');
  writeFileSync(source, Buffer.alloc(100_000, 7));
  const calls = recordSyscalls(() => copyFileAtomic(source, target));
  checkDurableReplace(calls, target);
  assert.deepEqual(readFileSync(target), readFileSync(source));
  // The store folder was created by the write: its entry in the parent is synced too.
  assert.ok(calls.includes(`fsync ${root}`), calls.join(' | '));
});

test('writeFileAtomicAsync (frame uploads) does the same off the event loop', async () => {
  const target = join(root, '00001.bin');
  const calls = await recordAsyncSyscalls(() => writeFileAtomicAsync(target, Buffer.alloc(50_000, 1)));
  checkDurableReplace(calls, target);
  assert.equal(readFileSync(target).length, 50_000);
});

test('fsyncTree (a finished dataset) syncs every file and folder in it, and its entry in the parent', async () => {
  const dataset = join(root, 'datasets', 'av-x');
  mkdirSync(join(dataset, 'images'), { recursive: true });
  for (const name of ['dataset.json', 'images/00000.jpg', 'images/00001.jpg']) writeFileSync(join(dataset, name), name);
  const calls = await recordAsyncSyscalls(() => fsyncTree(dataset));
  const expected = ['dataset.json', 'images/00000.jpg', 'images/00001.jpg', 'images', ''].map((p) => `fsync ${join(dataset, p)}`);
  assert.deepEqual(calls.sort(), [...expected, `fsync ${join(root, 'datasets')}`].sort());
});

test('a writer killed mid-write leaves the target whole (old or new, never truncated), and its temporary file is swept as stale', async () => {
  const dir = join(root, 'killed');
  mkdirSync(dir);
  const target = join(dir, 'target.bin');
  const SIZE = 4 * 1024 * 1024;
  // Rewrites the target forever, each version 4 MiB of one byte value: a torn or truncated write would show.
  const script = `import { writeFileAtomic } from ${JSON.stringify(new URL('./atomicFile.ts', import.meta.url).href)};
    for (let k = 1; ; k++) writeFileAtomic(${JSON.stringify(target)}, Buffer.alloc(${SIZE}, k % 251));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 60_000;
  while (!existsSync(target) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(target), 'the writer wrote once');
  // Somewhere inside a later write: each takes a few to tens of ms here.
  await new Promise((r) => setTimeout(r, 150 + Math.random() * 100));
  child.kill('SIGKILL');
  await exited;
  const bytes = readFileSync(target);
  assert.equal(bytes.length, SIZE);
  assert.ok(bytes.every((b) => b === bytes[0]), 'one whole version');

  // What the crash left (if it died between open and rename) plus one certain leftover of a dead writer.
  const stale = join(dir, `target.bin.${await deadPid()}.${Date.now()}.partial`);
  writeFileSync(stale, 'half');
  const ownEarlier = join(dir, `target.bin.${process.pid}.${Math.floor(performance.timeOrigin) - 1000}.partial`);
  writeFileSync(ownEarlier, 'a crashed server with the same pid (a container)');
  const ownNow = join(dir, `target.bin.${process.pid}.${Date.now()}.partial`);
  writeFileSync(ownNow, 'being written by this process');
  const live = spawn('sleep', ['30']);
  const liveWriter = join(dir, `target.bin.${live.pid}.${Date.now()}.partial`);
  writeFileSync(liveWriter, 'being written by another live process');
  const ancient = join(dir, `target.bin.${live.pid}.${Date.now() - 25 * 3600_000}.partial`);
  writeFileSync(ancient, 'a day old whoever has that pid now');
  try {
    const removed = sweepStalePartials(dir);
    assert.ok(removed.includes(stale) && removed.includes(ownEarlier) && removed.includes(ancient), removed.join(', '));
    for (const kept of [target, ownNow, liveWriter]) assert.ok(existsSync(kept), `${kept} kept`);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['target.bin', ownNow.split('/').pop(), liveWriter.split('/').pop()].sort());
  } finally {
    live.kill();
  }
});

test('isStalePartial knows the file and folder temporaries, and nothing else', async () => {
  const dead = await deadPid();
  assert.equal(isStalePartial(`jobs.json.${dead}.${Date.now()}.partial`), true);
  assert.equal(isStalePartial(`.av-x.partial-${dead}-${Date.now()}`), true);
  assert.equal(isStalePartial(`.av-x.partial-${dead}-${Date.now()}.old`), true);
  assert.equal(isStalePartial(`.av-x.partial-${process.pid}-${Date.now()}`), false);
  for (const name of ['jobs.json', 'av-x', '00001.bin', 'a.partial', `x.${dead}.partial`]) assert.equal(isStalePartial(name), false, name);
});
