/**
 * Child-process entry: a proofmark server exactly as `proofmark serve` runs it (src/server.ts:
 * loadConfig, startRuntime, buildApp, listen, batcher started), configured by the environment.
 * Tells its parent the URL over IPC; SIGTERM shuts it down cleanly.
 */
import { startServer } from '../../src/server.ts';

const { url } = await startServer(process.env);
process.send?.({ ready: true, url });
