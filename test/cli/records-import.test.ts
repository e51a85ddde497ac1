/**
 * `proofmark records import` as a child process against a real service on SQLite: a 10,000-line
 * serial,secret file with planted duplicates (respelt keys, a serial again, another merchant's key)
 * and malformed lines, interrupted half way with SIGINT, then run again: every good line registered
 * exactly once, every bad line reported with its line number and reason.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { REPO_ROOT, runCli } from './helpers.ts';

const LINES = 10_000;
/** Line -> why it must be refused. */
const BAD = new Map<number, string>();
for (const n of [150, 2150, 4150, 6150, 8150]) BAD.set(n, 'duplicate key');
for (const n of [300, 5300]) BAD.set(n, 'duplicate serial');
BAD.set(7000, 'duplicate key'); // another merchant holds it
for (const n of [400, 3400, 6400, 9400]) BAD.set(n, 'malformed');
const BLANK = 9999;

function fileLine(n: number): string {
  if (n === BLANK) return '';
  if ([150, 2150, 4150, 6150, 8150].includes(n)) return `SN-${n},k${n - 100}-abcd efgh`; // line n-100's key, respelt
  if (n === 300 || n === 5300) return `SN-${n - 50},K${n}-ABCD-EFGH`; // line n-50's serial
  if (n === 7000) return 'SN-7000,RIVAL-KEY-0001';
  if (n === 400) return 'no comma here';
  if (n === 3400) return 'SN-3400,';
  if (n === 6400) return `${'S'.repeat(201)},K6400`;
  if (n === 9400) return 'SN-9400,-- ..'; // nothing left of the key once separators go
  return `SN-${n},K${n}-ABCD-EFGH`;
}

describe('proofmark records import', () => {
  let h: Harness;
  let url: string;
  let shop: { id: string; apiKey: string };
  let dir: string;
  let file: string;

  beforeAll(async () => {
    h = await startHarness({ startBatcher: false });
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    shop = await h.verifiedMerchant('Import Shop');
    const rival = await h.verifiedMerchant('Other Shop');
    const held = await h.call('POST', '/v1/records', {
      token: rival.apiKey,
      body: { records: [recordBody('rival-1', { secret: 'rival key 0001' })] },
    });
    expect(held.statusCode).toBe(201);
    dir = mkdtempSync(join(tmpdir(), 'proofmark-import-'));
    file = join(dir, 'stock.txt');
    writeFileSync(file, Array.from({ length: LINES }, (_, i) => fileLine(i + 1)).join('\n') + '\n');
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const shopRecords = async () =>
    (
      await h.runtime.storage.db
        .selectFrom('records')
        .select('id')
        .where('merchant_id', '=', shop.id)
        .execute()
    ).length;
  const args = () => [
    'records',
    'import',
    file,
    '--kind',
    'licence',
    '--sku',
    'WIN11',
    '--product',
    'Windows 11 Pro',
  ];
  const env = () => ({ PROOFMARK_API: url, PROOFMARK_API_KEY: shop.apiKey });

  it('interrupted half way and run again: every good line once, every bad line reported by number', async () => {
    // The first run, one request at a time, stopped with SIGINT once a few thousand are in.
    const child = spawn(process.execPath, ['bin/proofmark.js', ...args(), '--concurrency', '1'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env() },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor('a few thousand records registered', async () => (await shopRecords()) >= 2000, 60_000, 10);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted after line \d+: .*run the same command again to finish/);
    const halfway = await shopRecords();
    expect(halfway).toBeLessThan(LINES - BAD.size - 1);

    // The re-run, to the end, with the labels file.
    const out = join(dir, 'labels.csv');
    const rerun = await runCli([...args(), '--out', out], env());
    expect(rerun.code, rerun.stderr).toBe(1);
    expect(rerun.stderr).toContain(`${LINES - BAD.size - 1} lines registered, ${BAD.size} refused`);
    const reported = new Map(
      rerun.stdout
        .trim()
        .split('\n')
        .map((l) => {
          const m = /^line (\d+): ([^:]+): .+$/.exec(l);
          expect(m, l).not.toBeNull();
          return [Number(m![1]), m![2]!] as const;
        }),
    );
    expect(reported.size).toBe(rerun.stdout.trim().split('\n').length); // each bad line once
    expect(new Map([...reported].sort((a, b) => a[0] - b[0]))).toEqual(
      new Map([...BAD].sort((a, b) => a[0] - b[0])),
    );

    // Every good line exactly once: one record each, none for the bad ones.
    expect(await shopRecords()).toBe(LINES - BAD.size - 1);
    const labels = readFileSync(out, 'utf8').trim().split('\n');
    expect(labels[0]).toBe('line,externalId,recordId,verifyUrl,status');
    const rows = labels.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(LINES - BAD.size - 1);
    const lines = new Set(rows.map((r) => Number(r[0])));
    for (let n = 1; n <= LINES; n++) expect(lines.has(n), `line ${n}`).toBe(!BAD.has(n) && n !== BLANK);
    expect(new Set(rows.map((r) => r[2])).size).toBe(rows.length);
    for (const r of rows) expect(r[3]).toBe(`http://proofmark.test/v/${r[2]}`);
  }, 240_000);
});
