/**
 * `npm start` on a terminal prints readable log lines (pino-pretty); into a pipe or a file it prints
 * JSON lines, one object each; LOG_FORMAT forces either. `proofmark serve` runs under a real
 * pseudo-terminal (util-linux `script`) or with its output piped.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';
import { REPO_ROOT } from './helpers.ts';

/** Terminal colour codes (ESC [ … m), taken out to read the text. */
const COLOURS = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Everything `proofmark serve` writes until it says it is serving, then it is stopped. On a terminal:
 * run under `script`, which gives it a pseudo-terminal as standard output.
 */
async function serveOutput(on: 'terminal' | 'pipe', extraEnv: Record<string, string> = {}): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-log-format-'));
  dirs.push(dataDir);
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    DEV_CHAIN_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const serve = `${JSON.stringify(process.execPath)} bin/proofmark.js serve`;
  const child =
    on === 'terminal'
      ? spawn('script', ['-qfec', serve, '/dev/null'], { cwd: REPO_ROOT, env, detached: true })
      : spawn(process.execPath, ['bin/proofmark.js', 'serve'], { cwd: REPO_ROOT, env, detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await waitFor('proofmark to serve', () => /proofmark is serving[^\n]*\n/.test(output), 120_000, 50);
    // What it wrote up to then; `script` has its own words for the signal that ends it.
    return output;
  } finally {
    // The whole group: `script` and the service it runs.
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
}

// Each test starts `proofmark serve` (a development chain and all), slow on a loaded machine.
describe('log lines', { timeout: 300_000 }, () => {
  it('are readable on a terminal', async () => {
    const output = await serveOutput('terminal');
    const plain = output.replace(COLOURS, '');
    expect(plain).toMatch(/\d\d:\d\d:\d\d\.\d{3}\] INFO.*: proofmark is serving/);
    expect(output).toContain('\x1b['); // coloured
    expect(plain).not.toMatch(/^\{"level"/m);
  });

  it('are JSON into a pipe, and on a terminal when LOG_FORMAT=json', async () => {
    for (const output of [await serveOutput('pipe'), await serveOutput('terminal', { LOG_FORMAT: 'json' })]) {
      const lines = output.split(/\r?\n/).filter((line) => line.trim() !== '');
      expect(lines.length).toBeGreaterThan(2);
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
      expect(lines.map((line) => JSON.parse(line).msg)).toContain('proofmark is serving');
    }
  });

  it('are readable in a pipe when LOG_FORMAT=pretty', async () => {
    const output = await serveOutput('pipe', { LOG_FORMAT: 'pretty' });
    expect(output.replace(COLOURS, '')).toMatch(/INFO.*: proofmark is serving/);
  });
});
