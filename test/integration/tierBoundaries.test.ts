/**
 * Client and server never import each other's files; shared/ imports neither.
 * A static scan (test/helpers/tierBoundaries.ts says what counts as an import
 * and why the server's use of the built client bundle does not).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { moduleSpecifiers, scanTierBoundaries } from '../helpers/tierBoundaries';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('no client file imports from server/, no server file from client/, shared/ imports from neither, and the browser code imports nothing Node-only', () => {
  const scan = scanTierBoundaries(REPO_ROOT);
  // The scan saw the tree (hundreds of files, each tier importing shared/), so an empty list means something.
  assert.ok(scan.files > 100, `only ${scan.files} files scanned`);
  assert.ok(scan.relativeImports > 200, `only ${scan.relativeImports} relative imports seen`);
  assert.deepEqual(scan.violations, [], scan.violations.map((v) => `${v.file} imports ${v.specifier}`).join('\n'));
});

test('the scan catches every form of cross-tier import, and Node-only imports in browser code, in a planted tree, and nothing else', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'voxface-tiers-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const plant = (path: string, source: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  };
  plant('shared/protocol.ts', 'export const VERSION = 1;\n');
  plant('server/rooms/Room.ts', 'export class Room {}\n');
  plant('kernels/cpu.ts', 'export const cpu = {};\n');
  plant('client/sdk/Sdk.ts', [
    "import { VERSION } from '../../shared/protocol';", // allowed
    "import { io } from 'socket.io-client';", // a package
    "import type { Room } from '../../server/rooms/Room';", // a type is still an import
    "export { Room as R } from '../../server/rooms/Room';",
    "import '../../server/rooms/Room';",
    "const later = () => import('../../server/rooms/Room');",
    "const kernels = require('../../kernels/cpu');",
    "const worker = new Worker(new URL('../../server/rooms/Room.ts', import.meta.url));",
    "// import { Room } from '../../server/rooms/Room'; (a comment is not an import)",
    "const text = \"from '../../server/rooms/Room'\";",
  ].join('\n'));
  plant('server/dataset/prepare.ts', [
    "import { join } from 'node:path';",
    "import { VERSION } from '../../shared/protocol';",
    "import { cpu } from '../../kernels/cpu';", // the server's own native kernels
    // The built browser bundle, by path: not an import.
    "const clientDir = join(process.cwd(), 'dist', 'client');",
    "const page = join('..', '..', 'client', 'capture', 'preparePage.ts');",
    "const bin = new URL('../../node_modules/.voxface/worker-bin', import.meta.url);", // not a tier
    "import { api } from '../../client/capture/preparePage';",
  ].join('\n'));
  plant('shared/dataset.test.ts', "import { headCut } from '../client/capture/headMask';\nimport { test } from 'node:test';\n");
  // What goes into the browser bundle imports no Node built-in or server package; its tests may.
  plant('shared/checksum.ts', "import { createHash } from 'node:crypto';\nimport { deflateSync } from 'zlib';\n");
  plant('client/sdk/media.ts', "import { types } from 'mediasoup';\nimport { Device } from 'mediasoup-client';\nimport { io } from 'socket.io-client';\n");
  plant('client/sdk/media.test.ts', "import assert from 'node:assert/strict';\nimport { createWorker } from 'mediasoup';\n");
  // A test helper may import anything, but a client test cannot reach the server through it.
  plant('test/helpers/fixture.ts', "import { Room } from '../../server/rooms/Room';\nimport { deep } from './deeper';\n");
  plant('test/helpers/deeper.ts', "import { cpu } from '../../kernels/cpu';\nimport { fixture } from './fixture';\n");
  plant('client/sdk/sdk.test.ts', "import { fixture } from '../../test/helpers/fixture';\n");
  plant('server/rooms/Room.test.ts', "import { fixture } from '../../test/helpers/fixture';\n");
  plant('server/http.ts', "import express from 'express';\nimport { readFileSync } from 'node:fs';\n");
  plant('kernels/testUtil.ts', "import { VERSION } from '../shared/protocol';\nimport { Room } from '../server/rooms/Room';\n");

  const found = scanTierBoundaries(root).violations
    .map((v) => [v.file, ...(v.via ?? []), v.specifier].join(' -> '))
    .sort();
  assert.deepEqual(found, [
    'client/sdk/Sdk.ts -> ../../kernels/cpu',
    'client/sdk/Sdk.ts -> ../../server/rooms/Room',
    'client/sdk/Sdk.ts -> ../../server/rooms/Room',
    'client/sdk/Sdk.ts -> ../../server/rooms/Room',
    'client/sdk/Sdk.ts -> ../../server/rooms/Room',
    'client/sdk/Sdk.ts -> ../../server/rooms/Room.ts',
    'client/sdk/media.ts -> mediasoup',
    'client/sdk/sdk.test.ts -> test/helpers/fixture.ts -> ../../server/rooms/Room',
    'client/sdk/sdk.test.ts -> test/helpers/fixture.ts -> test/helpers/deeper.ts -> ../../kernels/cpu',
    'kernels/testUtil.ts -> ../server/rooms/Room',
    'server/dataset/prepare.ts -> ../../client/capture/preparePage',
    'shared/checksum.ts -> node:crypto',
    'shared/checksum.ts -> zlib',
    'shared/dataset.test.ts -> ../client/capture/headMask',
  ]);
});

test('import specifiers are read as TypeScript reads them', () => {
  assert.deepEqual(moduleSpecifiers([
    "import a, { b } from './a';",
    "import type { C } from \"./c\";",
    "export * from './d';",
    "/* import x from './e'; */",
    "const f = await import('./f');",
  ].join('\n')), ['./a', './c', './d', './f']);
});
