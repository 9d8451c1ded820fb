// Bundles an entry (default scripts/gpu-check/check.ts; pack.sh also bundles
// test/bench/renderGpu.bench.ts) into one ESM file for the GPU check's pack.
// `node scripts/gpu-check/bundle.mjs <outfile> [entry]`.
// - The WGSL ops read their shaders with readFileSync(new URL('./op.wgsl', import.meta.url)),
//   which in a bundle would point beside the bundle: the plugin inlines each such read as
//   a string literal, and the build fails if any '.wgsl' path is left in the output.
// - The .node addons stay outside: webgpu's index.js requires
//   <bundle dir>/dist/<platform>-<arch>/dawn.node (run.sh unpacks it there) and
//   kernels/native.ts reads VOXFACE_KERNELS_ADDON.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outfile = process.argv[2];
const entry = process.argv[3] ?? 'scripts/gpu-check/check.ts';
if (!outfile) {
  console.error('usage: node scripts/gpu-check/bundle.mjs <outfile> [entry]');
  process.exit(2);
}

const wgslRead = /readFileSync\(\s*new URL\(\s*(['"`])(\.{1,2}\/[^'"`]+\.wgsl)\1\s*,\s*import\.meta\.url\s*\)\s*,\s*(['"])utf-?8\3\s*\)/g;
const inlined = [];
const inlineWgsl = {
  name: 'inline-wgsl',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('.wgsl')) return undefined;
      const contents = text.replace(wgslRead, (_m, _q, rel) => {
        const path = resolve(dirname(args.path), rel);
        inlined.push(path.slice(root.length + 1));
        return JSON.stringify(readFileSync(path, 'utf8'));
      });
      return { contents, loader: 'ts', resolveDir: dirname(args.path) };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['*.node'],
  // CommonJS dependencies inside an ESM bundle call require(); give them Node's.
  banner: { js: "import { createRequire as __gpuCheckCreateRequire } from 'node:module'; const require = __gpuCheckCreateRequire(import.meta.url);" },
  plugins: [inlineWgsl],
  logLevel: 'warning',
  metafile: true,
});

const out = readFileSync(outfile, 'utf8');
const leftover = out.match(/['"`][^'"`\n]*\.wgsl['"`]/g);
if (leftover) {
  console.error(`bundle: WGSL still read from a path (load it as readFileSync(new URL('./op.wgsl', import.meta.url), 'utf8') so it is inlined): ${leftover.join(', ')}`);
  process.exit(1);
}
const inputs = Object.keys(result.metafile.inputs).length;
console.log(`bundle: ${outfile} (${(out.length / 1024).toFixed(0)} KiB, ${inputs} inputs, inlined ${inlined.length} shaders: ${inlined.join(', ') || 'none'})`);
