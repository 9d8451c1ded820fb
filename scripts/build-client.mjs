// Bundles the browser SDK and demo page into dist/client with esbuild.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const out = 'dist/client';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: {
    demo: 'client/demo/main.ts',
    'face-tracker-worker': 'client/tracking/faceTracker.worker.ts',
    // The page `voxface prepare` drives in headless Chromium (client/capture).
    prepare: 'client/capture/preparePage.ts',
    // The guided capture page of train-on-join (client/onboarding).
    onboard: 'client/onboarding/onboardPage.ts',
    retrack: 'client/retrack/retrackPage.ts', // the re-tracking page of server/retrack (docs/fidelity.md); its HTML is served from client/retrack
  },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: 'chrome110',
  sourcemap: true,
  minify: process.env.NODE_ENV === 'production',
  logLevel: 'warning',
});
for (const file of ['index.html', 'demo.css']) copyFileSync(`client/demo/${file}`, `${out}/${file}`);
copyFileSync('client/capture/prepare.html', `${out}/prepare.html`);
for (const file of ['onboard.html', 'onboard.css']) copyFileSync(`client/onboarding/${file}`, `${out}/${file}`);
console.log(`build-client: wrote ${out}`);
