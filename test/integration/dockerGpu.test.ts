/**
 * docker/Dockerfile.gpu, statically (no Docker engine here: `docker build --check` needs
 * BuildKit): it is the CPU image plus the Vulkan loader and what NVIDIA's Vulkan driver
 * links, an ICD json the loader reads, the NVIDIA runtime's variables with `graphics`, and
 * VOXFACE_RENDER_BACKEND=gpu, and it hands the image back to the unprivileged user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gpu = readFileSync(join(REPO, 'docker', 'Dockerfile.gpu'), 'utf8');
const cpu = readFileSync(join(REPO, 'docker', 'Dockerfile'), 'utf8');

/** Instructions, continuation lines joined and comments dropped (as the Dockerfile parser reads them). */
function instructions(text: string): string[] {
  return text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n').replace(/\\\n/g, ' ')
    .split('\n').map((l) => l.trim()).filter(Boolean);
}

const KEYWORDS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);
const lines = instructions(gpu);
const env = lines.filter((l) => /^ENV\s/.test(l)).join(' ');

test('Dockerfile.gpu is built on the CPU image named by one build argument, with known instructions only', () => {
  for (const l of lines) assert.ok(KEYWORDS.has(l.split(/\s/)[0]!), `not a Dockerfile instruction: ${l}`);
  assert.match(lines[0]!, /^ARG VOXFACE_BASE_IMAGE=voxface:latest$/);
  assert.deepEqual(lines.filter((l) => /^FROM\s/.test(l)), ['FROM ${VOXFACE_BASE_IMAGE}']);
  // The tag the CPU Dockerfile's documented build gives (voxface = voxface:latest).
  assert.match(cpu, /docker build -f docker\/Dockerfile -t voxface \./);
  assert.match(gpu, /docker run --gpus all /);
});

test('it installs the Vulkan loader and libGLX_nvidia\'s other needs, and writes an ICD json the loader reads', () => {
  const run = lines.filter((l) => /^RUN\s/.test(l)).join(' ');
  for (const pkg of ['libvulkan1', 'libglvnd0', 'libxext6']) assert.match(run, new RegExp(`apt-get install [^&]*\\b${pkg}\\b`));
  assert.match(run, /rm -rf \/var\/lib\/apt\/lists\/\*/);
  const json = /printf '%s\\n' '([^']+)'\s*>\s*(\S+)/.exec(run);
  assert.ok(json, 'the ICD json is written with printf');
  assert.equal(json[2], '/usr/share/vulkan/icd.d/nvidia_icd.json');
  const icd = JSON.parse(json[1]!);
  assert.equal(icd.ICD.library_path, 'libGLX_nvidia.so.0');
  assert.match(icd.file_format_version, /^1\.0\.\d$/);
});

test('it sets the NVIDIA runtime\'s variables with the graphics capability (the Vulkan driver) and the GPU backend, then drops root', () => {
  assert.match(env, /\bNVIDIA_VISIBLE_DEVICES=all\b/);
  const caps = /\bNVIDIA_DRIVER_CAPABILITIES=(\S+)/.exec(env)?.[1]?.split(',') ?? [];
  for (const c of ['compute', 'utility', 'graphics']) assert.ok(caps.includes(c), `capabilities ${caps.join(',')} lack ${c}`);
  assert.match(env, /\bVOXFACE_RENDER_BACKEND=gpu\b/);
  const users = lines.filter((l) => /^USER\s/.test(l));
  assert.equal(users.at(-1), 'USER voxface:voxface');
  assert.ok(instructions(cpu).includes('USER voxface:voxface'), 'the CPU image runs as the same user');
});
