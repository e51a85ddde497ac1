/** Starts and stops a proofmark server in its own process, on a temporary DATA_DIR. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './machine.ts';

export interface BenchServer {
  url: string;
  adminToken: string;
  dataDir: string;
  dbFile: string;
  pid: number;
  logFile: string;
  /** CPU time (user + system, every thread) the server process has used so far, in ms; null off Linux. */
  cpuMs(): number | null;
  stop(): Promise<void>;
}

/** utime + stime of a process from /proc, in ms. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux this runs on; `getconf CLK_TCK` would say otherwise. */
const CLOCK_TICKS = 100;

/** Settings a parent shell might carry that would point the server elsewhere. */
const CONFIG_VARS = [
  'PORT',
  'HOST',
  'PUBLIC_BASE_URL',
  'DATA_DIR',
  'DATABASE_URL',
  'RPC_URL',
  'ANCHOR_CONTRACT',
  'ANCHORER_PRIVATE_KEY',
  'PUBLISH_RPC_URL',
  'CONFIRMATIONS',
  'ADMIN_TOKEN',
  'BATCH_MAX_LEAVES',
  'BATCH_MAX_AGE_MS',
  'CHAIN_POLL_MS',
  'LEADER_LEASE_MS',
  'EXPLORER_URL',
  'LOG_LEVEL',
  'BODY_LIMIT_BYTES',
  'DEV_CHAIN_PORT',
  'RATE_LIMIT_SECRET_PER_MINUTE',
  'RATE_LIMIT_VERIFY_PER_MINUTE',
  'RATE_LIMIT_MERCHANT_PER_MINUTE',
  'MAX_PENDING_EVENTS',
  'BATCH_CEILING_LEAVES',
  'METRICS_TOKEN',
];

export const SERVER_LOG_LEVEL = 'warn';

export async function startBenchServer(
  opts: {
    env?: Record<string, string>;
    cpuProfDir?: string;
    /** A DATA_DIR prepared beforehand (made with mkdtemp; removed at stop like a fresh one). */
    dataDir?: string;
  } = {},
): Promise<BenchServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'proofmark-bench-'));
  const adminToken = randomBytes(24).toString('base64url');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CONFIG_VARS) delete env[name];
  Object.assign(env, {
    DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    HOST: '127.0.0.1',
    PORT: '0',
    DEV_CHAIN_PORT: '0',
    PUBLIC_BASE_URL: 'http://proofmark.bench',
    LOG_LEVEL: SERVER_LOG_LEVEL,
    // The benchmark measures the service, not its throttles: the per-IP and per-merchant limits are
    // off (the load comes from one IP and one merchant). The backlog bound stays at its default.
    RATE_LIMIT_VERIFY_PER_MINUTE: '0',
    RATE_LIMIT_MERCHANT_PER_MINUTE: '0',
    RATE_LIMIT_SECRET_PER_MINUTE: '1000000000',
    ...opts.env,
  });
  const logFile = join(dataDir, 'server.log');
  const logFd = openSync(logFile, 'a');
  const profDir = opts.cpuProfDir ?? process.env.BENCH_SERVER_CPU_PROF;
  const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'bench/lib/server-child.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', logFd, logFd, 'ipc'],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const cleanup = () => rmSync(dataDir, { recursive: true, force: true });
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start within 60 s')), 60_000);
      child.once('message', (m: { url?: string }) => {
        clearTimeout(timer);
        if (m.url) resolve(m.url);
        else reject(new Error('server sent no URL'));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${readFileSync(logFile, 'utf8').slice(-2000)}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    cleanup();
    throw err;
  }
  child.disconnect();

  return {
    url,
    adminToken,
    dataDir,
    dbFile: join(dataDir, 'proofmark.sqlite'),
    pid: child.pid!,
    logFile,
    cpuMs: () => processCpuMs(child.pid!),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}
