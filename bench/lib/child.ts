/** Runs a TypeScript entry point in a child Node process (through tsx), with a hard time limit. */
import { spawn } from 'node:child_process';
import { ROOT } from './machine.ts';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed at the time limit. */
  timedOut: boolean;
  wallMs: number;
  stdout: string;
  stderr: string;
}

export function runTs(
  file: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; nodeArgs?: string[]; echoStderr?: boolean },
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', file, ...args], {
      cwd: ROOT,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.echoStderr) process.stderr.write(d);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, wallMs: performance.now() - started, stdout, stderr });
    });
  });
}

/** The last line of stdout that parses as JSON: a child's result. */
export function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as T;
    } catch {
      // not the result line
    }
  }
  throw new Error(`no JSON result in child output: ${stdout.slice(-500)}`);
}

/** True when `importMetaUrl` is the module node was started with (a case run on its own). */
export function isMain(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && new URL(importMetaUrl).pathname === entry;
}
