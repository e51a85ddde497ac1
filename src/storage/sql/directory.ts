/** DirectoryStore on SQL: the item directory's versions and their nodes under (path, version). */
import type { DirectoryNodeWrite } from '../../core/index.ts';
import type { DirectoryVersionRow } from '../rows.ts';
import type { DirectoryStore } from '../storage.ts';
import { atomically, slices, type SqlContext } from './context.ts';
import { blob, directoryNodesAsOfSql, rowsPerInsert, write } from './dialect.ts';

const NODES_PER_INSERT = rowsPerInsert(3, 2000);
/** Paths per read: a seal reads about two for each record of its batch, so reads are large. */
const PATHS_PER_READ = 2000;

export class SqlDirectoryStore implements DirectoryStore {
  constructor(private readonly ctx: SqlContext) {}

  async insertVersion(row: DirectoryVersionRow, nodes: readonly DirectoryNodeWrite[]): Promise<void> {
    await write(() =>
      atomically(this.ctx, async (db) => {
        await db.insertInto('directory_versions').values(row).execute();
        for (const slice of slices(nodes, NODES_PER_INSERT)) {
          await db
            .insertInto('directory_nodes')
            .values(slice.map((n) => ({ path: n.path, version: row.version, node: blob(n.node) })))
            .execute();
        }
      }),
    );
  }

  latest(): Promise<DirectoryVersionRow | undefined> {
    return this.ctx.db
      .selectFrom('directory_versions')
      .selectAll()
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  get(version: number): Promise<DirectoryVersionRow | undefined> {
    return this.ctx.db
      .selectFrom('directory_versions')
      .selectAll()
      .where('version', '=', version)
      .executeTakeFirst();
  }

  async nodesAsOf(paths: readonly string[], asOf: number): Promise<Map<string, Uint8Array>> {
    // No transaction needed across the reads: what a stored version holds never changes.
    const out = new Map<string, Uint8Array>();
    for (const list of slices([...new Set(paths)], PATHS_PER_READ)) {
      const { rows } = await directoryNodesAsOfSql(list, asOf).execute(this.ctx.db);
      for (const row of rows) out.set(row.path, row.node);
    }
    return out;
  }
}
