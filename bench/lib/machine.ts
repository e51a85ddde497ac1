/** What the figures were measured on: machine, runtime, package versions, code version and load. */
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { arch, cpus, freemem, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { median } from './stats.ts';

export const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

/** The packages whose code is measured or drives the measurement. */
export const MEASURED_PACKAGES = [
  'hash-wasm',
  'merkletreejs',
  'keccak256',
  'keccak',
  '@openzeppelin/merkle-tree',
  'better-sqlite3',
  'kysely',
  'fastify',
  'ethers',
  'hardhat',
  'autocannon',
  'tsx',
];

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  platform: string;
  kernel: string;
  arch: string;
  node: string;
  v8: string;
  sqlite: string | null;
  tmpdir: string;
  tmpFilesystem: string | null;
  /** Median of 50 write(4 KiB)+fsync on tmpdir: what a synchronous=FULL commit pays at least. */
  fsyncMedianMs: number;
  packages: Record<string, string | null>;
  git: { commit: string | null; dirtyFiles: number | null };
}

export function packageVersion(name: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? null;
  } catch {
    return null;
  }
}

function tryExec(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

function fsyncLatencyMs(): number {
  const dir = mkdtempSync(join(tmpdir(), 'proofmark-bench-fsync-'));
  try {
    const fd = openSync(join(dir, 'probe'), 'w');
    const block = Buffer.alloc(4096, 7);
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      writeSync(fd, block, 0, block.length, i * block.length);
      fsyncSync(fd);
      times.push(performance.now() - t0);
    }
    closeSync(fd);
    return Math.round(median(times) * 1000) / 1000;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sqliteVersion(): Promise<string | null> {
  try {
    const { default: SQLite } = await import('better-sqlite3');
    const db = new SQLite(':memory:');
    const row = db.prepare('select sqlite_version() as v').get() as { v: string };
    db.close();
    return row.v;
  } catch {
    return null;
  }
}

export async function machineInfo(): Promise<MachineInfo> {
  const cpuList = cpus();
  const df = tryExec('df', ['-PT', tmpdir()]);
  const dirty = tryExec('git', ['status', '--porcelain']);
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    platform: platform(),
    kernel: release(),
    arch: arch(),
    node: process.version,
    v8: process.versions.v8,
    sqlite: await sqliteVersion(),
    tmpdir: tmpdir(),
    tmpFilesystem: df?.split('\n')[1]?.split(/\s+/)[1] ?? null,
    fsyncMedianMs: fsyncLatencyMs(),
    packages: Object.fromEntries(MEASURED_PACKAGES.map((p) => [p, packageVersion(p)])),
    git: {
      commit: tryExec('git', ['rev-parse', '--short', 'HEAD']),
      dirtyFiles: dirty === null ? null : dirty.split('\n').filter(Boolean).length,
    },
  };
}

/** 1-minute load average: other work on the machine skews every figure, so each case records it. */
export function load1(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}
