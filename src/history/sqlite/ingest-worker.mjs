// The ingest worker's entry: Node 20 cannot start a worker from a .ts file, even under tsx or vitest,
// so this registers tsx in the worker's own module loader and then loads the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./ingest-worker.ts');
