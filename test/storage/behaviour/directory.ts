/** DirectoryStore: versions of the item directory and their nodes, read as of any version. */
import { expect, it } from 'vitest';
import { bytesToHex, type DirectoryNodeWrite } from '../../../src/core/index.ts';
import { DuplicateKeyError } from '../../../src/storage/errors.ts';
import type { DirectoryVersionRow } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { hash } from '../fixtures.ts';

const versionRow = (version: number, records = version): DirectoryVersionRow => ({
  version,
  root: hash(`directory root ${version}`),
  record_count: records,
});

/** A node whose bytes name its path and version, of a length that varies with them. */
const node = (path: string, version: number): DirectoryNodeWrite => ({
  path,
  node: new TextEncoder().encode(`node ${path}@${version} ${'.'.repeat(version % 7)}`),
});

/** The map's entries as path -> text, for comparing. */
const asText = (nodes: Map<string, Uint8Array>) =>
  Object.fromEntries([...nodes].map(([path, bytes]) => [path, new TextDecoder().decode(bytes)]));
const text = (path: string, version: number) => new TextDecoder().decode(node(path, version).node);

export function directoryBehaviour(storage: () => Storage): void {
  it('has no version until one is stored; then the highest is the latest', async () => {
    const s = storage();
    expect(await s.directory.latest()).toBeUndefined();
    expect(await s.directory.get(1)).toBeUndefined();
    await s.directory.insertVersion(versionRow(1), [node('', 1)]);
    await s.directory.insertVersion(versionRow(3, 7), [node('', 3)]);
    await s.directory.insertVersion(versionRow(2), [node('', 2)]);
    expect(await s.directory.latest()).toEqual(versionRow(3, 7));
    expect(await s.directory.get(2)).toEqual(versionRow(2));
    expect(await s.directory.get(4)).toBeUndefined();
  });

  it('reads each path as the highest version at most the one asked wrote it', async () => {
    const s = storage();
    await s.directory.insertVersion(versionRow(1), [node('', 1), node('a', 1), node('a0', 1)]);
    await s.directory.insertVersion(versionRow(2), [node('', 2), node('b', 2)]);
    await s.directory.insertVersion(versionRow(4), [node('', 4), node('a', 4), node('b', 4)]);
    const paths = ['', 'a', 'a0', 'b', 'c'];
    expect(asText(await s.directory.nodesAsOf(paths, 1))).toEqual({
      '': text('', 1),
      a: text('a', 1),
      a0: text('a0', 1),
    });
    expect(asText(await s.directory.nodesAsOf(paths, 3))).toEqual({
      '': text('', 2),
      a: text('a', 1),
      a0: text('a0', 1),
      b: text('b', 2),
    });
    expect(asText(await s.directory.nodesAsOf(paths, 99))).toEqual({
      '': text('', 4),
      a: text('a', 4),
      a0: text('a0', 1),
      b: text('b', 4),
    });
    expect((await s.directory.nodesAsOf(paths, 0)).size).toBe(0);
    expect((await s.directory.nodesAsOf([], 4)).size).toBe(0);
    // A path asked twice is answered once.
    expect(asText(await s.directory.nodesAsOf(['a', 'a'], 4))).toEqual({ a: text('a', 4) });
  });

  it('refuses a version stored twice, or a path twice in one version, and writes none of it', async () => {
    const s = storage();
    await s.directory.insertVersion(versionRow(1), [node('', 1)]);
    await expect(s.directory.insertVersion(versionRow(1, 9), [node('x', 1)])).rejects.toBeInstanceOf(
      DuplicateKeyError,
    );
    await expect(
      s.directory.insertVersion(versionRow(2), [node('y', 2), node('y', 2)]),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await s.directory.latest()).toEqual(versionRow(1));
    expect(asText(await s.directory.nodesAsOf(['', 'x', 'y'], 5))).toEqual({ '': text('', 1) });
  });

  it('holds binary nodes byte for byte, and reads thousands of paths in one call', async () => {
    const s = storage();
    // Every byte value, and more paths than one statement reads.
    const nodes: DirectoryNodeWrite[] = Array.from({ length: 4500 }, (_, i) => ({
      path: i.toString(16),
      node: Uint8Array.from({ length: 37 + (i % 300) }, (_, j) => (i + j) & 0xff),
    }));
    await s.directory.insertVersion(versionRow(1), nodes);
    const read = await s.directory.nodesAsOf([...nodes.map((n) => n.path), 'zz'], 1);
    expect(read.size).toBe(nodes.length);
    for (const n of nodes) expect(bytesToHex(read.get(n.path)!)).toBe(bytesToHex(n.node));
  });

  it('keeps what was stored when the bytes handed in or read back are changed', async () => {
    const s = storage();
    const written = node('a', 1);
    const row = versionRow(1);
    await s.directory.insertVersion(row, [written]);
    written.node.fill(0);
    row.root = '0x00';
    (await s.directory.nodesAsOf(['a'], 1)).get('a')!.fill(0);
    (await s.directory.latest())!.record_count = 99;
    expect(asText(await s.directory.nodesAsOf(['a'], 1))).toEqual({ a: text('a', 1) });
    expect(await s.directory.latest()).toEqual(versionRow(1));
  });

  it('commits a version with the transaction around it, or not at all', async () => {
    const s = storage();
    await expect(
      s.transaction(async (tx) => {
        await tx.directory.insertVersion(versionRow(1), [node('', 1)]);
        expect((await tx.directory.latest())?.version).toBe(1);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await s.directory.latest()).toBeUndefined();
    expect((await s.directory.nodesAsOf([''], 1)).size).toBe(0);
    await s.transaction((tx) => tx.directory.insertVersion(versionRow(1), [node('', 1)]));
    expect(asText(await s.directory.nodesAsOf([''], 1))).toEqual({ '': text('', 1) });
  });
}
