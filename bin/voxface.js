#!/usr/bin/env -S node --single-threaded-gc
// The `voxface` command. The CLI is TypeScript (server/cli/main.ts); tsx's
// loader is registered in-process from this repository's node_modules, so the
// command works from any working directory without a build step. The shebang's Node flags
// are server/cli/nodeFlags.ts's CLI_NODE_FLAGS (why: there; a test keeps them the same).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli/main.ts');
await main(process.argv.slice(2));
