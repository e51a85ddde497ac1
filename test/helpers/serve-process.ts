/**
 * `proofmark serve` as a real child process, for tests that kill it (SIGKILL means no shutdown code
 * runs) and start it again on the same data. The caller owns DATA_DIR, so a restart finds it intact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** The last few hundred chunks of stdout and stderr, for failure messages. */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
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
  const http = async <T>(method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : null,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: (text && type.includes('json') ? JSON.parse(text) : text) as T };
  };
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  await waitFor(
    `${name} to serve`,
    async () => {
      if (gone()) throw new Error(`${name} exited before serving:\n${output.join('')}`);
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return res?.ok ?? false;
    },
    60_000,
    100,
  );
  return {
    url,
    child,
    output,
    exited,
    http,
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A merchant admitted through the operator API, as an operator would: created, then verified with evidence. */
export async function admitMerchant(
  p: ServeProcess,
  adminToken: string,
  name: string,
): Promise<{ id: string; apiKey: string }> {
  const created = await p.http<{ id: string; apiKey: string }>('POST', '/v1/merchants', adminToken, { name });
  if (created.status !== 201)
    throw new Error(`create merchant: ${created.status} ${JSON.stringify(created.body)}`);
  const { id, apiKey } = created.body;
  const verified = await p.http('POST', `/v1/merchants/${id}/verify`, adminToken, {
    evidence: [{ description: 'reseller letter', sha256: 'ab'.repeat(32) }],
  });
  if (verified.status !== 200)
    throw new Error(`verify merchant: ${verified.status} ${JSON.stringify(verified.body)}`);
  return { id, apiKey };
}
