/** What `proofmark records import` reads from each kind of file, line numbers as an editor shows them. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  derivedExternalId,
  detectFormat,
  readImport,
  type ImportLine,
} from '../../src/cli/import/sources.ts';

const dir = mkdtempSync(join(tmpdir(), 'proofmark-import-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(name: string, text: string, defaults = {}, format?: 'csv' | 'pairs' | 'secrets') {
  const path = join(dir, name);
  writeFileSync(path, text);
  const out: ImportLine[] = [];
  for await (const l of readImport(path, await detectFormat(path, format), defaults, { bytesRead: 0 }))
    out.push(l);
  return out;
}

describe('import sources', () => {
  it('a CSV: the header is line 1, a quoted field may span lines, metadata columns, defaults, bad rows', async () => {
    const lines = await read(
      'stock.csv',
      '\uFEFFexternalId,serial,secret,metadata.region\n' +
        'a-1,SN-1,KEY-1,EU\n' +
        '\n' +
        'a-2,"SN-2\nsecond line",KEY-2,\n' +
        'a-3,SN-3\n' +
        ',SN-4,KEY-4,CN\n',
      { kind: 'card', sku: 'STEAM', productName: 'Steam 100' },
    );
    expect(lines).toEqual([
      {
        line: 2,
        record: {
          externalId: 'a-1',
          kind: 'card',
          sku: 'STEAM',
          productName: 'Steam 100',
          serial: 'SN-1',
          secret: 'KEY-1',
          metadata: { region: 'EU' },
        },
      },
      { line: 4, record: expect.objectContaining({ externalId: 'a-2', serial: 'SN-2\nsecond line' }) },
      { line: 6, malformed: '2 columns where the header has 4' },
      {
        line: 7,
        record: expect.objectContaining({
          externalId: derivedExternalId(7, ',SN-4,KEY-4,CN'.split(',').join('\u001f')),
        }),
      },
    ]);
  });

  it('a CSV without a header of record fields is refused as a whole, pointing at --format pairs', async () => {
    await expect(read('pairs.csv', 'SN-1,KEY-1\n')).rejects.toThrow(/--format pairs/);
  });

  it('serial,secret and secret-per-line files: stable externalIds, malformed lines by number', async () => {
    const defaults = { kind: 'licence', sku: 'W', productName: 'Win' } as const;
    const pairs = await read('p.txt', 'SN-1, KEY-1\nno comma\n\nSN-3,\n', defaults);
    expect(pairs).toEqual([
      {
        line: 1,
        record: expect.objectContaining({
          serial: 'SN-1',
          secret: 'KEY-1',
          externalId: derivedExternalId(1, 'SN-1, KEY-1'),
        }),
      },
      { line: 2, malformed: 'expected serial,secret' },
      { line: 4, malformed: 'secret is empty' },
    ]);
    const secrets = await read('s.txt', 'PIN-1\r\nPIN-2\r\n', defaults);
    expect(secrets.map((l) => ('record' in l ? [l.line, l.record.secret, l.record.serial] : l))).toEqual([
      [1, 'PIN-1', derivedExternalId(1, 'PIN-1')],
      [2, 'PIN-2', derivedExternalId(2, 'PIN-2')],
    ]);
    await expect(read('n.txt', 'PIN-1\n', {})).rejects.toThrow(/needs --kind/);
  });
});
