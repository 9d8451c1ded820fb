// A plain Node process has no TypeScript loader unless it is given one: the render
// process registers tsx itself before loading its TypeScript (as the server's
// command line may not be `tsx`, e.g. under `node --import tsx --test`).
import { register } from 'tsx/esm/api';

register();
await import('./renderProcess.ts');
