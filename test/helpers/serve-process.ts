/**
 * `proofmark serve` as a real child process, for tests that kill it (SIGKILL means no shutdown code
 * runs) and start it again on the same data. The caller owns DATA_DIR, so a restart finds it intact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ApiClient } from '../../src/client/client.ts';
import { fetchTransport } from '../../src/client/transport.ts';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** The last few hundred chunks of stdout and stderr, for failure messages. */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The typed API client of this process, holding `token` when given. */
  client(token?: string): ApiClient;
  /** JSON over HTTP; the body is parsed when it is JSON (else the text), typed as the caller expects. */
  http<T = Record<string, unknown>>(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>;
  /** SIGTERM (a clean shutdown) unless already gone; resolves when the process has exited. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Options for node itself, before the entry point (e.g. --expose-gc). */
  nodeArgs?: string[];
  /** Every line the process writes to stderr, as it comes. */
  onStderrLine?: (line: string) => void;
}

export async function spawnServe(
  env: Record<string, string>,
  name = 'proofmark',
  opts: SpawnOptions = {},
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), 'bin/proofmark.js', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    if (opts.onStderrLine) for (const line of lines) opts.onStderrLine(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const client = (token?: string) => new ApiClient(url, token !== undefined ? { token } : {});
  const http = async <T>(method: string, path: string, token?: string, body?: unknown) => {
    const res = await client(token).request(method, path, body);
    const text = res.text();
    return {
      status: res.status,
      body: (text && res.contentType.includes('json') ? JSON.parse(text) : text) as T,
    };
  };
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const probe = new ApiClient(url, { transport: fetchTransport(url, { timeoutMs: 2000 }) });
  await waitFor(
    `${name} to serve`,
    async () => {
      if (gone()) throw new Error(`${name} exited before serving:\n${output.join('')}`);
      return probe.health().then(
        () => true,
        () => false,
      );
    },
    60_000,
    100,
  );
  return {
    url,
    child,
    output,
    exited,
    client,
    http,
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      await exited;
    },
  };
}
