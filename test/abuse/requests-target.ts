/**
 * What the request-abuse tests (issue 13: slow and fat requests, records that stall, proxies, one
 * merchant's flood, QR floods) share: a real `proofmark serve` child with its own data directory
 * and development chain, admitted merchants, and the figures they report (resident memory from
 * /proc, latency percentiles).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admitMerchant } from '../../src/client/admit.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';

export const ADMIN_TOKEN = 'abuse-admin-token-0123456789abcdef';

export interface Target extends ServeProcess {
  pid: number;
  port: number;
  /** A merchant admitted and verified through the API, with its key. */
  merchant(name: string): Promise<{ id: string; apiKey: string }>;
  /** Stops the process and removes its data. */
  close(): Promise<void>;
}

export async function startTarget(env: Record<string, string> = {}, name = 'target'): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), `proofmark-abuse-${name}-`));
  const serve = await spawnServe(
    { DATA_DIR: dataDir, DEV_CHAIN_PORT: String(await freePort()), ADMIN_TOKEN, ...env },
    name,
  );
  return Object.assign(serve, {
    pid: serve.child.pid!,
    port: Number(new URL(serve.url).port),
    async merchant(merchantName: string) {
      const { id, apiKey } = await admitMerchant(
        serve.client(ADMIN_TOKEN),
        { name: merchantName },
        TEST_EVIDENCE,
      );
      return { id, apiKey };
    },
    async close() {
      await serve.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Resident memory of a process from the kernel, in MB. */
export function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

/** CPU time a process has used (user + system), in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
}

/** The p-th percentile (0-100) of `values`, by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Milliseconds `work` took. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** `{p50, p95, max}` of latencies in ms, rounded to 0.1 ms, for the figures a test prints. */
export function summary(values: readonly number[]): { n: number; p50: number; p95: number; max: number } {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    max: round(Math.max(...values)),
  };
}

/**
 * Runs `worker` in `concurrency` loops until `ms` have passed, and meanwhile `probe` one request at
 * a time; resolves to the probe's latencies (ms), how many requests the workers made, and the CPU
 * time (ms) process `pid` spent meanwhile.
 */
export async function probeUnderLoad(
  pid: number,
  concurrency: number,
  ms: number,
  worker: () => Promise<unknown>,
  probe: () => Promise<unknown>,
): Promise<{ probes: number[]; load: number; cpuMs: number }> {
  const cpuBefore = cpuMs(pid);
  const until = Date.now() + ms;
  let load = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      await worker();
      load++;
    }
  });
  const probes: number[] = [];
  // Let the load build up before the first probe.
  await new Promise((resolve) => setTimeout(resolve, 200));
  while (Date.now() < until) {
    probes.push(await timed(probe));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(workers);
  return { probes, load, cpuMs: cpuMs(pid) - cpuBefore };
}
