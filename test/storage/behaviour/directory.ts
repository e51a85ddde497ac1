/** DirectoryStore: versions of the item directory and their pages, read by (version, path). */
import { expect, it } from 'vitest';
import { bytesToHex, type DirectoryPageWrite } from '../../../src/core/index.ts';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { DirectoryVersionRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { hash } from '../fixtures.ts';

const versionRow = (version: number, records = version): DirectoryVersionRow => ({
  version,
  root: hash(`directory root ${version}`),
  record_count: records,
});

/** A page whose bytes name its path and version, of a length that varies with them. */
const page = (path: string, version: number): DirectoryPageWrite => ({
  path,
  page: new TextEncoder().encode(`page ${path}@${version} ${'.'.repeat(version % 7)}`),
});
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const textOf = (path: string, version: number) => text(page(path, version).page);

export function directoryBehaviour(storage: () => Storage): void {
  it('has no version until one is stored; then the highest is the latest', async () => {
    const s = storage();
    expect(await s.directory.latest()).toBeUndefined();
    expect(await s.directory.get(1)).toBeUndefined();
    await s.directory.insertVersion(versionRow(1), [page('', 1)]);
    await s.directory.insertVersion(versionRow(3, 7), [page('', 3)]);
    await s.directory.insertVersion(versionRow(2), [page('', 2)]);
    expect(await s.directory.latest()).toEqual(versionRow(3, 7));
    expect(await s.directory.get(2)).toEqual(versionRow(2));
    expect(await s.directory.get(4)).toBeUndefined();
  });

  it('reads pages by version and path, in the order asked', async () => {
    const s = storage();
    await s.directory.insertVersion(versionRow(1), [page('', 1), page('a', 1), page('a0', 1)]);
    await s.directory.insertVersion(versionRow(2), [page('', 2), page('a', 2)]);
    const read = await s.directory.pages([
      { version: 2, path: 'a' },
      { version: 1, path: 'a0' },
      { version: 1, path: '' },
      { version: 2, path: '' },
      { version: 1, path: 'a' },
    ]);
    expect(read.map(text)).toEqual([
      textOf('a', 2),
      textOf('a0', 1),
      textOf('', 1),
      textOf('', 2),
      textOf('a', 1),
    ]);
    expect(await s.directory.pages([])).toEqual([]);
  });

  it('throws when a page asked for is not stored', async () => {
    const s = storage();
    await s.directory.insertVersion(versionRow(1), [page('', 1), page('a', 1)]);
    await expect(s.directory.pages([{ version: 1, path: 'b' }])).rejects.toThrow(/missing/);
    await expect(
      s.directory.pages([
        { version: 1, path: 'a' },
        { version: 2, path: 'a' },
      ]),
    ).rejects.toThrow(/missing/);
  });

  it('refuses a version stored twice, or a path twice in one version, and writes none of it', async () => {
    const s = storage();
    await s.directory.insertVersion(versionRow(1), [page('', 1)]);
    await expect(s.directory.insertVersion(versionRow(1, 9), [page('x', 1)])).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    await expect(
      s.directory.insertVersion(versionRow(2), [page('y', 2), page('y', 2)]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.directory.latest()).toEqual(versionRow(1));
    await expect(s.directory.pages([{ version: 1, path: 'x' }])).rejects.toThrow(/missing/);
    await expect(s.directory.pages([{ version: 2, path: 'y' }])).rejects.toThrow(/missing/);
  });

  it('holds binary pages byte for byte, and reads thousands in one call', async () => {
    const s = storage();
    // Every byte value, and more pages than one statement reads or writes.
    const pages: DirectoryPageWrite[] = Array.from({ length: 4500 }, (_, i) => ({
      path: i.toString(16),
      page: Uint8Array.from({ length: 5 + (i % 300) }, (_, j) => (i + j) & 0xff),
    }));
    await s.directory.insertVersion(versionRow(1), pages);
    const read = await s.directory.pages(pages.map((p) => ({ version: 1, path: p.path })));
    expect(read.map(bytesToHex)).toEqual(pages.map((p) => bytesToHex(p.page)));
  });

  it('keeps what was stored when the bytes handed in or read back are changed', async () => {
    const s = storage();
    const written = page('a', 1);
    const row = versionRow(1);
    await s.directory.insertVersion(row, [written]);
    written.page.fill(0);
    row.root = '0x00';
    (await s.directory.pages([{ version: 1, path: 'a' }]))[0]!.fill(0);
    (await s.directory.latest())!.record_count = 99;
    expect((await s.directory.pages([{ version: 1, path: 'a' }])).map(text)).toEqual([textOf('a', 1)]);
    expect(await s.directory.latest()).toEqual(versionRow(1));
  });

  it('commits a version with the transaction around it, or not at all', async () => {
    const s = storage();
    await expect(
      s.transaction(async (tx) => {
        await tx.directory.insertVersion(versionRow(1), [page('', 1)]);
        expect((await tx.directory.latest())?.version).toBe(1);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await s.directory.latest()).toBeUndefined();
    await expect(s.directory.pages([{ version: 1, path: '' }])).rejects.toThrow(/missing/);
    await s.transaction((tx) => tx.directory.insertVersion(versionRow(1), [page('', 1)]));
    expect((await s.directory.pages([{ version: 1, path: '' }])).map(text)).toEqual([textOf('', 1)]);
  });
}
