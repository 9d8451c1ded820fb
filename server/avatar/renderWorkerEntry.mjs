// Worker threads do not inherit the parent's module loader hooks (Node 20), so the
// render thread registers tsx itself before loading its TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./renderWorker.ts');
