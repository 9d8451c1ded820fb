/**
 * A static scan of the module specifiers in the source tree, for the rule that
 * client and server never import each other's files (what both use lives in
 * shared/, which imports neither), and that what goes into the browser bundle
 * (client/ and shared/, tests aside) imports no Node built-in or server package.
 *
 * What counts as an import: every specifier TypeScript's own pre-processor
 * finds (`import … from`, `import type`, `export … from`, `import 'x'`,
 * `import('x')`, `require('x')`; not text in comments or strings), plus
 * `new URL('x', import.meta.url)`, the way a module starts a Worker or reads a
 * file beside it. What does not: a path built from strings, such as the
 * server's `join(REPO_ROOT, 'dist', 'client')` or the esbuild entry points in
 * scripts/build-client.mjs. The server runs the browser capture code
 * (client/capture) in headless Chromium from that built bundle: the code runs
 * in the browser, never in the server's module graph, and the contract
 * between the two (PrepareApi, the capture body) is in shared/dataset.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** For each tier, the top-level folders its files may import from (packages are always allowed). */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  client: ['client', 'shared'],
  server: ['server', 'shared', 'kernels'],
  // The native kernels' TypeScript bindings are the server's (the browser has no addon).
  kernels: ['kernels', 'shared'],
  shared: ['shared'],
};

/**
 * Packages only the server may use: code under client/ and shared/ (tests aside,
 * which run in Node) goes into the browser bundle, where they do not exist.
 */
export const SERVER_ONLY_PACKAGES: readonly string[] = ['mediasoup', 'express', 'socket.io', 'prom-client', 'playwright-core', 'pngjs'];
const BROWSER_TIERS = new Set(['client', 'shared']);
const TEST_FILE = /\.test\.(ts|mts|js|mjs)$/;

const SOURCE_FILE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', 'build']);
const NEW_URL = /new\s+URL\(\s*(['"`])([^'"`]+)\1\s*,\s*import\.meta\.url\s*\)/g;

export interface TierViolation {
  /** Relative to the scanned root, with forward slashes. */
  file: string;
  specifier: string;
  /** The top-level folder the specifier resolves into, or the Node-only package it names. */
  target: string;
  /** The test helpers (under test/) through which `file` reached the specifier, in order. */
  via?: string[];
}

/** The package a bare specifier names ('node:fs' and 'fs' are both Node's), or undefined for a Node built-in. */
function nodeOnlyPackage(specifier: string): string | undefined {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!)) return 'node';
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  return SERVER_ONLY_PACKAGES.includes(name) ? name : undefined;
}

export interface TierScan {
  files: number;
  /** Relative specifiers seen (resolved inside the root), allowed or not. */
  relativeImports: number;
  violations: TierViolation[];
}

/** Module specifiers of one source file, in order. */
export function moduleSpecifiers(source: string): string[] {
  const found = ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
  for (const match of source.matchAll(NEW_URL)) found.push(match[2]!);
  return found;
}

function sourceFiles(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    // Symlinks (kernels/build, node_modules in a worktree) point outside the sources.
    if (entry.isSymbolicLink() || SKIPPED_FOLDERS.has(entry.name)) continue;
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (SOURCE_FILE.test(entry.name)) out.push(path);
  }
  return out;
}

/** The file a relative specifier names (the repo writes them without extensions). */
function resolveSource(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.mts`, `${base}.mjs`, `${base}.js`, join(base, 'index.ts')]) {
    if (lstatSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
  }
  return undefined;
}

/**
 * Scans every tier folder under `root` (tests included: a test of one tier obeys
 * its tier's rule). An import of a shared test helper (under test/, which may
 * import anything) is followed, so a client test cannot reach the server through one.
 */
export function scanTierBoundaries(root: string): TierScan {
  const scan: TierScan = { files: 0, relativeImports: 0, violations: [] };
  const name = (path: string) => relative(root, path).split(sep).join('/');
  const check = (tier: string, file: string, path: string, via: string[], seen: Set<string>) => {
    const allowed = ALLOWED_IMPORTS[tier]!;
    const inBrowser = BROWSER_TIERS.has(tier) && !TEST_FILE.test(file);
    for (const specifier of moduleSpecifiers(readFileSync(path, 'utf8'))) {
      const where = via.length ? { via: [...via] } : {};
      if (!specifier.startsWith('.')) {
        const nodeOnly = inBrowser ? nodeOnlyPackage(specifier) : undefined;
        if (nodeOnly) scan.violations.push({ file: name(file), specifier, target: nodeOnly, ...where });
        continue;
      }
      const target = relative(root, resolve(dirname(path), specifier)).split(sep)[0]!;
      scan.relativeImports += 1;
      // Only the tiers are ruled on: a file beside the tree (node_modules/.voxface, dist) is not another tier.
      if (target in ALLOWED_IMPORTS && !allowed.includes(target)) {
        scan.violations.push({ file: name(file), specifier, target, ...where });
      } else if (target === 'test') {
        const helper = resolveSource(path, specifier);
        if (helper && !seen.has(helper)) {
          seen.add(helper);
          check(tier, file, helper, [...via, name(helper)], seen);
        }
      }
    }
  };
  for (const tier of Object.keys(ALLOWED_IMPORTS)) {
    const tierDir = join(root, tier);
    if (!lstatSync(tierDir, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const path of sourceFiles(tierDir, [])) {
      scan.files += 1;
      check(tier, path, path, [], new Set());
    }
  }
  return scan;
}
