// The GPU render host's entry: registers tsx (the server's command line may not be
// `tsx`), then loads the host. See renderProcessEntry.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./gpuHostProcess.ts');
