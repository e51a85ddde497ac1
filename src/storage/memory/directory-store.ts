/** DirectoryStore over memory tables. See storage.ts for the contract of each method. */
import type { DirectoryPageKey, DirectoryPageWrite } from '../../core/index.ts';
import type { DirectoryVersionRow, LeaseFence } from '../rows.ts';
import type { DirectoryStore } from '../storage.ts';
import { copyRow } from './copies.ts';
import { compositeKey } from './journal.ts';
import { holdsLease } from './lease-store.ts';
import type { MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryDirectoryStore implements DirectoryStore {
  constructor(private readonly t: MemoryTables) {}

  async insertVersion(row: DirectoryVersionRow, pages: readonly DirectoryPageWrite[]): Promise<void> {
    const keys = pages.map((p) => compositeKey(row.version, p.path));
    assertUniqueKeys(this.t.directoryVersions, [String(row.version)], 'directory version');
    assertUniqueKeys(this.t.directoryPages, keys, 'directory page (version, path)');
    this.t.directoryVersions.set(String(row.version), copyRow(row));
    pages.forEach((p, i) => this.t.directoryPages.set(keys[i]!, p.page.slice()));
  }

  async stagePages(
    version: number,
    pages: readonly DirectoryPageWrite[],
    fence: LeaseFence,
  ): Promise<boolean> {
    if (!this.stageable(version, fence)) return false;
    const keys = pages.map((p) => compositeKey(version, p.path));
    assertUniqueKeys(this.t.directoryPages, keys, 'directory page (version, path)');
    pages.forEach((p, i) => this.t.directoryPages.set(keys[i]!, p.page.slice()));
    return true;
  }

  async discardStaged(version: number, limit: number, fence: LeaseFence): Promise<number | null> {
    if (!this.stageable(version, fence)) return null;
    const prefix = compositeKey(version, '').slice(0, -2); // every (version, path) key starts so
    const staged = [...this.t.directoryPages.keys()].filter((k) => k.startsWith(prefix)).slice(0, limit);
    for (const key of staged) this.t.directoryPages.delete(key);
    return staged.length;
  }

  private stageable(version: number, fence: LeaseFence): boolean {
    return (
      this.t.seals.has(String(version)) &&
      !this.t.directoryVersions.has(String(version)) &&
      holdsLease(this.t, fence)
    );
  }

  async latest(): Promise<DirectoryVersionRow | undefined> {
    let latest: DirectoryVersionRow | undefined;
    for (const row of this.t.directoryVersions.values())
      if (!latest || row.version > latest.version) latest = row;
    return latest && copyRow(latest);
  }

  async get(version: number): Promise<DirectoryVersionRow | undefined> {
    const row = this.t.directoryVersions.get(String(version));
    return row && copyRow(row);
  }

  async pages(keys: readonly DirectoryPageKey[]): Promise<Uint8Array[]> {
    return keys.map((k) => {
      const page = this.t.directoryPages.get(compositeKey(k.version, k.path));
      if (!page) throw new Error(`directory page (${k.version}, '${k.path}') is missing`);
      return page.slice();
    });
  }
}
