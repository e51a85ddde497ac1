/** DirectoryStore over memory tables. See storage.ts for the contract of each method. */
import type { DirectoryNodeWrite } from '../../core/index.ts';
import { DuplicateKeyError } from '../errors.ts';
import type { DirectoryVersionRow } from '../rows.ts';
import type { DirectoryStore } from '../storage.ts';
import { copyRow } from './copies.ts';
import type { DirectoryHistory, MemoryTables } from './tables.ts';
import { assertUniqueKeys } from './unique.ts';

export class MemoryDirectoryStore implements DirectoryStore {
  constructor(private readonly t: MemoryTables) {}

  async insertVersion(row: DirectoryVersionRow, nodes: readonly DirectoryNodeWrite[]): Promise<void> {
    assertUniqueKeys(this.t.directoryVersions, [String(row.version)], 'directory version');
    // SQL's primary key (path, version): the version is new, so only a path twice in `nodes` breaks it.
    const paths = new Set<string>();
    for (const { path } of nodes) {
      if (paths.has(path)) throw new DuplicateKeyError(`duplicate directory node (path, version): ${path}`);
      paths.add(path);
    }
    this.t.directoryVersions.set(String(row.version), copyRow(row));
    for (const { path, node } of nodes) {
      this.t.directoryNodes.set(
        path,
        withVersion(this.t.directoryNodes.get(path), row.version, node.slice()),
      );
    }
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

  async nodesAsOf(paths: readonly string[], asOf: number): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const path of paths) {
      const history = this.t.directoryNodes.get(path);
      if (!history) continue;
      // The last version at most asOf: versions are kept ascending.
      let [lo, hi] = [0, history.versions.length];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (history.versions[mid]! <= asOf) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0) out.set(path, history.nodes[lo - 1]!.slice());
    }
    return out;
  }
}

/** `history` (or none) with `node` added at `version`, as a new object: stored rows never change. */
function withVersion(
  history: DirectoryHistory | undefined,
  version: number,
  node: Uint8Array,
): DirectoryHistory {
  const versions = [...(history?.versions ?? [])];
  const nodes = [...(history?.nodes ?? [])];
  let at = versions.length;
  while (at > 0 && versions[at - 1]! > version) at--;
  versions.splice(at, 0, version);
  nodes.splice(at, 0, node);
  return { versions, nodes };
}
