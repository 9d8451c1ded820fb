/**
 * The production image without a Docker engine: docker/build-layout.sh (the
 * Dockerfile's whole build stage) runs here into a temporary folder, from a copy of
 * this checkout that carries a decoy kernels/build, and the layout it leaves is
 * checked the way the runtime stage uses it: with no compiler on PATH, its kernels
 * load at the stated SIMD level and match the TS reference, its mediasoup worker
 * starts from outside the data folder, and the server starts from docker/start.sh,
 * serves the client and stops cleanly on SIGTERM. The Dockerfile and compose file
 * are checked statically (`docker build --check` and `docker compose config` need an
 * engine or plugins this machine lacks).
 *
 * Run time: npm ci --offline (~35 s) and the kernels build (~1-2 min on 2 cores);
 * the mediasoup worker comes from its cache (VOXFACE_CACHE_DIR or ~/.cache/voxface,
 * filled by scripts/setup.sh).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const root = mkdtempSync(join(tmpdir(), 'voxface-docker-layout-'));
const source = join(root, 'src');
const layout = join(root, 'app');
const data = join(root, 'data');
const runtimeBin = join(root, 'runtime-bin');
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
/** The image's default level where this CPU runs it, else (or with VOXFACE_SIMD=baseline, as in a baseline run of the suite) the portable one. */
const LEVEL = process.env.VOXFACE_SIMD !== 'baseline' && /\bavx2\b/.test(cpuinfo) && /\bfma\b/.test(cpuinfo) ? 'avx2' : 'baseline';
const EXPECTED_SIMD = LEVEL === 'avx2' ? 'avx2+fma' : 'sse2';
const DECOY = Buffer.from('a kernels/build from the host machine: must never reach the image\n');
const dockerfile = readFileSync(join(REPO, 'docker', 'Dockerfile'), 'utf8');
const compose = readFileSync(join(REPO, 'docker', 'compose.yaml'), 'utf8');

/** What the runtime stage has besides node (docker/start.sh's needs): no compiler, no make, no python. */
const RUNTIME_TOOLS = ['sh', 'cat', 'grep', 'dirname'];

function which(tool: string): string {
  return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
}

function runtimeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: runtimeBin, HOME: join(root, 'home'), TMPDIR: join(root, 'tmp'), ...extra };
}

/**
 * The image's user (uid/gid 10001, not the layout's owner) when this test runs as root,
 * as CI does: the layout is then read-only to the server, as /app is in the image.
 */
const IMAGE_USER = process.getuid?.() === 0 ? { uid: 10001, gid: 10001 } : {};

/** Dockerfile instructions, continuation lines joined, comments dropped, split per stage. */
function dockerStages(text: string): { from: string; lines: string[] }[] {
  const joined = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n').replace(/\\\n/g, ' ');
  const stages: { from: string; lines: string[] }[] = [];
  for (const line of joined.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (/^FROM\s/i.test(line)) stages.push({ from: line, lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

function seconds(duration: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration.trim());
  assert.ok(match && (match[1] || match[2]), `not a compose duration: '${duration}'`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

after(() => rmSync(root, { recursive: true, force: true }));

describe('the layout docker/build-layout.sh builds (the image\'s /app)', () => {
  before(() => {
    // A copy of this working tree (tracked and new files), without its build outputs, plus a decoy build dir.
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' })
      .split('\0').filter((f) => f && !/^(node_modules|dist|kernels\/build)(\/|$)/.test(f) && existsSync(join(REPO, f)));
    mkdirSync(source);
    execFileSync('tar', ['-cf', join(root, 'src.tar'), '--null', '-T', '-'], { cwd: REPO, input: files.join('\0') });
    execFileSync('tar', ['-xf', join(root, 'src.tar'), '-C', source]);
    mkdirSync(join(source, 'kernels', 'build', 'Release'), { recursive: true });
    writeFileSync(join(source, 'kernels', 'build', 'Release', 'voxface_kernels.node'), DECOY);

    const started = Date.now();
    const build = spawnSync('bash', [join(source, 'docker', 'build-layout.sh'), layout], {
      env: { ...process.env, VOXFACE_SIMD: LEVEL, VOXFACE_NPM_OFFLINE: '1' }, encoding: 'utf8', timeout: 15 * 60_000,
    });
    assert.equal(build.status, 0, `build-layout.sh failed:\n${build.stderr.slice(-4000)}`);
    process.stderr.write(`# build-layout.sh (VOXFACE_SIMD=${LEVEL}) took ${((Date.now() - started) / 1000).toFixed(0)} s\n`);

    mkdirSync(runtimeBin);
    // Writable by the image's user: only its home, temp folder (tsx's cache) and data folder.
    chmodSync(root, 0o755);
    for (const dir of [join(root, 'home'), join(root, 'tmp'), data]) {
      mkdirSync(dir);
      if (IMAGE_USER.uid !== undefined) chownSync(dir, IMAGE_USER.uid, IMAGE_USER.gid);
    }
    symlinkSync(process.execPath, join(runtimeBin, 'node'));
    for (const tool of RUNTIME_TOOLS) symlinkSync(which(tool), join(runtimeBin, tool));
  });

  test('the kernels are built there for the stated SIMD level, never copied from the source\'s kernels/build', () => {
    const release = join(layout, 'kernels', 'build', 'Release');
    assert.deepEqual(readdirSync(join(layout, 'kernels', 'build')), ['Release']);
    assert.deepEqual(readdirSync(release).sort(), ['simd-level', 'voxface_kernels.node', 'voxface_kernels.sha256']);
    const addon = readFileSync(join(release, 'voxface_kernels.node'));
    assert.ok(!addon.equals(DECOY), 'the decoy kernels/build was copied');
    assert.equal(addon.subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.equal(readFileSync(join(release, 'simd-level'), 'utf8').trim(), LEVEL);
    // The machine code itself: nothing wider than the level (an AVX-512 build machine must not leak zmm).
    const asm = execFileSync('objdump', ['-d', '--no-show-raw-insn', join(release, 'voxface_kernels.node')], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    assert.ok(!/%zmm/.test(asm), 'AVX-512 instructions in the kernels');
    if (LEVEL === 'avx2') assert.ok(/vfmadd\w*\s.*%ymm/.test(asm), 'no 256-bit FMA in an avx2 build');
    else assert.ok(!/%ymm/.test(asm), 'AVX instructions in a baseline build');
  });

  test('with no compiler on PATH, the kernels load, report their level and match the TS reference', () => {
    const compilers = spawnSync('sh', ['-c', 'for t in g++ gcc cc c++ make python3 node-gyp; do command -v $t; done; exit 0'], { env: runtimeEnv(), encoding: 'utf8' });
    assert.equal(compilers.status, 0);
    assert.equal(compilers.stdout, '', 'a build tool on the runtime PATH');
    const probe = join(root, 'kernelsProbe.mts'); // .mts: an ES module (top-level await) outside any package.json
    writeFileSync(probe, `
      import { pathToFileURL } from 'node:url';
      const at = (p: string) => pathToFileURL(${JSON.stringify(layout)} + '/' + p).href;
      const { cpuKernels } = await import(at('kernels/cpu.ts'));
      const { loadNative } = await import(at('kernels/native.ts'));
      const { denseRef } = await import(at('kernels/reference/dense.ts'));
      const shape = { n: 37, inFeatures: 19, outFeatures: 13 };
      let seed = 12345;
      const rand = (len: number) => Float32Array.from({ length: len }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
      const x = rand(shape.n * shape.inFeatures), w = rand(shape.outFeatures * shape.inFeatures), b = rand(shape.outFeatures);
      const { y } = cpuKernels.dense(x, w, b, shape, 'relu');
      const ref = denseRef(x, w, b, shape, 'relu');
      let maxError = 0, positive = 0;
      for (let i = 0; i < ref.length; i++) { maxError = Math.max(maxError, Math.abs(y[i] - ref[i])); if (ref[i] > 0) positive++; }
      console.log(JSON.stringify({ simd: loadNative().simd(), maxError, positive, length: ref.length }));
    `);
    const run = spawnSync('node', ['--import', 'tsx', probe], { cwd: layout, env: runtimeEnv(), ...IMAGE_USER, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { simd: string; maxError: number; positive: number; length: number };
    assert.equal(result.simd, EXPECTED_SIMD);
    assert.ok(result.positive > 0.2 * result.length && result.positive < 0.8 * result.length, 'a degenerate dense check');
    assert.ok(result.maxError < 1e-5, `dense differs from the reference by ${result.maxError}`);
  });

  test('the build-only files are gone and the mediasoup worker lives in libexec, outside the data folder', () => {
    for (const gone of ['node_modules/mediasoup/worker', 'node_modules/node-gyp', 'node_modules/typescript', 'scripts', 'kernels/build/Release/obj.target']) {
      assert.ok(!existsSync(join(layout, gone)), `${gone} is in the layout`);
    }
    assert.ok(existsSync(join(layout, 'node_modules', 'tsx', 'package.json')), 'tsx runs the server: it must stay');
    assert.ok(statSync(join(layout, 'dist', 'client', 'index.html')).size > 0);
    const worker = join(layout, 'libexec', 'mediasoup-worker');
    assert.ok(statSync(worker).mode & 0o111, 'the worker is not executable');
    assert.equal(readFileSync(join(layout, 'node_modules', '.voxface', 'mediasoup-worker-bin'), 'utf8').trim(), worker);
    assert.ok(relative(data, worker).startsWith('..'));
  });

  test('the server starts from docker/start.sh as the image\'s user with no compiler on PATH, keeps its state in the data folder, runs its worker from libexec, serves the client and stops on SIGTERM', async () => {
    const secretFile = join(root, 'secret');
    writeFileSync(secretFile, 'a-test-secret-that-is-long-enough\n');
    const server = spawn(join(layout, 'docker', 'start.sh'), [], {
      ...IMAGE_USER,
      cwd: root,
      env: runtimeEnv({
        VOXFACE_SECRET_FILE: secretFile, VOXFACE_DATA_DIR: data, VOXFACE_HOST: '127.0.0.1', VOXFACE_PORT: '0', VOXFACE_WORKERS: '1',
        VOXFACE_RTC_MIN_PORT: '46000', VOXFACE_RTC_MAX_PORT: '46999', VOXFACE_ADMIN_PORT: '0',
        // Nothing fetched from the internet: the model download fails at once (the server starts without it).
        VOXFACE_FACE_MODEL_URL: 'http://127.0.0.1:9/face_landmarker.task',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout.setEncoding('utf8').on('data', (t: string) => { output += t; });
    server.stderr.setEncoding('utf8').on('data', (t: string) => { output += t; });
    const exited = new Promise<number | null>((done) => server.once('exit', (code) => done(code)));
    try {
      const url = (await new Promise<string>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no 'listening on' in 60 s:\n${output}`)), 60_000);
        const look = () => {
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match) { clearTimeout(timer); done(match[1]!); }
        };
        server.stdout.on('data', look);
        server.stderr.on('data', look);
        void exited.then((code) => { clearTimeout(timer); fail(new Error(`the server exited (${code}):\n${output}`)); });
      })).replace('//localhost:', '//127.0.0.1:'); // the server names its loopback 'localhost'; it listens on IPv4 only
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { workers: number }).workers, 1);
      assert.equal(((await (await fetch(`${url}/api/config`)).json()) as { devMode: boolean }).devMode, false, 'the secret file was not read');
      assert.match(await (await fetch(`${url}/`)).text(), /<script/);
      // Its state goes to the data folder (the image's volume), which its user can write.
      assert.ok(existsSync(join(data, 'avatars')), `data folder: ${readdirSync(data).join(', ')}`);
      // The server's children: its mediasoup worker runs the layout's binary.
      const children = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
        try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1] === String(server.pid); } catch { return false; }
      });
      const exes = children.map((pid) => { try { return realpathSync(`/proc/${pid}/exe`); } catch { return ''; } });
      assert.ok(exes.includes(realpathSync(join(layout, 'libexec', 'mediasoup-worker'))), `children: ${exes.join(', ')}`);
      server.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 20_000))]);
      assert.equal(code, 0, output);
    } finally {
      server.kill('SIGKILL');
    }
  });

  test('docker/start.sh refuses a CPU without the level the kernels were built for, before starting node', () => {
    const fake = join(root, 'fake-app');
    mkdirSync(join(fake, 'docker'), { recursive: true });
    mkdirSync(join(fake, 'kernels', 'build', 'Release'), { recursive: true });
    writeFileSync(join(fake, 'docker', 'start.sh'), readFileSync(join(REPO, 'docker', 'start.sh')), { mode: 0o755 });
    writeFileSync(join(fake, 'kernels', 'build', 'Release', 'simd-level'), 'avx2\n');
    const oldCpu = join(root, 'cpuinfo-sse4');
    writeFileSync(oldCpu, 'processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx\n');
    const run = spawnSync(join(fake, 'docker', 'start.sh'), [], { env: runtimeEnv({ VOXFACE_CPUINFO: oldCpu }), encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /need AVX2 and FMA.*VOXFACE_SIMD=baseline/);
  });
});

describe('docker/Dockerfile and docker/compose.yaml (static: no Docker engine here)', () => {
  const stages = dockerStages(dockerfile);
  const runtime = stages.at(-1)!;

  test('the image is multi-stage: the build stage runs build-layout.sh, the runtime copies only its /app', () => {
    assert.ok(stages.length >= 2, 'one stage');
    assert.match(stages[0]!.from, /\sAS\s+build$/i);
    assert.ok(stages[0]!.lines.some((l) => /^RUN\s.*docker\/build-layout\.sh\s+\/app\b/.test(l)));
    assert.ok(stages[0]!.lines.includes('ARG VOXFACE_SIMD=avx2'), 'the SIMD level: a build arg, avx2 by default');
    const runtimeCopies = runtime.lines.filter((l) => /^(COPY|ADD)\s/i.test(l));
    assert.deepEqual(runtimeCopies, ['COPY --from=build /app /app']);
    const installs = runtime.lines.filter((l) => /apt-get install/.test(l)).join(' ');
    for (const pkg of ['tini', 'ffmpeg']) assert.match(installs, new RegExp(`\\b${pkg}\\b`));
    for (const compiler of ['g++', 'gcc', 'make', 'clang', 'build-essential', 'python3']) assert.ok(!installs.split(/\s+/).includes(compiler), `${compiler} in the runtime`);
    assert.ok(!/kernels\/build/.test(stages.flatMap((s) => s.lines.filter((l) => /^(COPY|ADD)\s/i.test(l))).join('\n')), 'a COPY of kernels/build');
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const output of ['node_modules', 'dist', 'kernels/build', '.git']) assert.ok(ignored.includes(output), `.dockerignore lacks ${output}`);
  });

  test('the runtime runs as a non-root user under tini, with its data on a declared volume', () => {
    const user = runtime.lines.filter((l) => /^USER\s/i.test(l)).pop();
    assert.ok(user && !/^USER\s+(root|0)(:|\s|$)/i.test(user), `USER: ${user}`);
    assert.match(runtime.lines.find((l) => /^ENTRYPOINT\s/i.test(l)) ?? '', /^ENTRYPOINT\s+\["\/usr\/bin\/tini",\s*"--"\]$/);
    const cmd = runtime.lines.find((l) => /^CMD\s/i.test(l)) ?? '';
    assert.match(cmd, /^CMD\s+\["\/app\/docker\/start\.sh"\]$/);
    assert.match(runtime.lines.find((l) => /^VOLUME\s/i.test(l)) ?? '', /\/data/);
    assert.ok(runtime.lines.some((l) => /^ENV\s.*\bVOXFACE_DATA_DIR=\/data\b/.test(l)));
    assert.ok(runtime.lines.some((l) => /^ENV\s.*\bMEDIASOUP_WORKER_BIN=\/app\/libexec\/mediasoup-worker\b/.test(l)));
    assert.ok(runtime.lines.includes('STOPSIGNAL SIGTERM'));
    assert.match(readFileSync(join(REPO, 'docker', 'start.sh'), 'utf8'), /^exec node /m, 'start.sh must exec node (tini signals its child)');
  });

  test('compose starts it with a secret that has no default, the volume, the RTP ports and a stop grace beyond the trainer\'s checkpoint', () => {
    const trainerStop = /stopTimeoutMs \?\? ([\d_]+)/.exec(readFileSync(join(REPO, 'server', 'onboarding', 'TrainingQueue.ts'), 'utf8'));
    assert.ok(trainerStop, 'TrainingQueue\'s default stopTimeoutMs was not found');
    const trainerStopSeconds = Number(trainerStop[1]!.replace(/_/g, '')) / 1000;
    const grace = /^\s+stop_grace_period:\s*(\S+)\s*$/m.exec(compose);
    assert.ok(grace, 'no stop_grace_period');
    assert.ok(seconds(grace[1]!) >= trainerStopSeconds + 10, `stop grace ${grace[1]} vs the trainer's ${trainerStopSeconds} s checkpoint`);
    assert.match(compose, /^\s+stop_signal:\s*SIGTERM\s*$/m);
    assert.match(compose, /^\s+VOXFACE_SECRET_FILE:\s*\/run\/secrets\/voxface_secret\s*$/m);
    assert.match(compose, /^secrets:\n\s+voxface_secret:\n\s+file:/m);
    assert.ok(!/VOXFACE_SECRET\s*[:=]/.test(compose), 'a literal VOXFACE_SECRET in compose');
    assert.match(compose, /^\s+VOXFACE_RTC_ANNOUNCED_IP:\s*\$\{VOXFACE_RTC_ANNOUNCED_IP:\?/m, 'the announced IP must be required');
    assert.match(compose, /^\s+- voxface-data:\/data\s*$/m);
    assert.match(compose, /^\s+- "\$\{VOXFACE_RTC_MIN_PORT:-40000\}-\$\{VOXFACE_RTC_MAX_PORT:-40100\}:.*\/udp"$/m);
    assert.match(compose, /^\s+- "3000:3000\/tcp"$/m);
  });
});
