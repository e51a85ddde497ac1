/** DirectoryStore on SQL: the item directory's versions and their pages under (version, path). */
import type { Kysely } from 'kysely';
import type { DirectoryPageKey, DirectoryPageWrite } from '../../core/index.ts';
import type { DirectoryVersionRow, LeaseFence } from '../rows.ts';
import type { DirectoryStore } from '../storage.ts';
import { isOpenSeal } from './batches.ts';
import { atomically, fenced, slices, type SqlContext } from './context.ts';
import { blob, directoryPagesSql, rowsPerInsert, write } from './dialect.ts';
import type { Database } from './schema.ts';

const PAGES_PER_INSERT = rowsPerInsert(3, 2000);
/** Keys per read: a seal reads about one page for each record of its batch, so reads are large. */
const KEYS_PER_READ = 2000;

export class SqlDirectoryStore implements DirectoryStore {
  constructor(private readonly ctx: SqlContext) {}

  /** Pages in path order: with the version first in the key, each insert then appends to the table. */
  async insertVersion(row: DirectoryVersionRow, pages: readonly DirectoryPageWrite[]): Promise<void> {
    const sorted = [...pages].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    await write(() =>
      atomically(this.ctx, async (db) => {
        await db.insertInto('directory_versions').values(row).execute();
        for (const slice of slices(sorted, PAGES_PER_INSERT)) {
          await db
            .insertInto('directory_pages')
            .values(slice.map((p) => ({ version: row.version, path: p.path, page: blob(p.page) })))
            .execute();
        }
      }),
    );
  }

  async stagePages(
    version: number,
    pages: readonly DirectoryPageWrite[],
    fence: LeaseFence,
  ): Promise<boolean> {
    const staged = await write(() =>
      fenced(this.ctx, fence, async (db) => {
        if (!(await this.stageable(db, version))) return false;
        for (const slice of slices(pages, PAGES_PER_INSERT)) {
          await db
            .insertInto('directory_pages')
            .values(slice.map((p) => ({ version, path: p.path, page: blob(p.page) })))
            .execute();
        }
        return true;
      }),
    );
    return staged === true;
  }

  async discardStaged(version: number, limit: number, fence: LeaseFence): Promise<number | null> {
    return write(() =>
      fenced(this.ctx, fence, async (db) => {
        if (!(await this.stageable(db, version))) return null;
        const paths = db
          .selectFrom('directory_pages')
          .select('path')
          .where('version', '=', version)
          .orderBy('path')
          .limit(limit);
        const result = await db
          .deleteFrom('directory_pages')
          .where('version', '=', version)
          .where('path', 'in', paths)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
    );
  }

  /** Whether pages may be staged under `version`: an open seal's, not a stored version. */
  private async stageable(db: Kysely<Database>, version: number): Promise<boolean> {
    if (!(await isOpenSeal(db, version))) return false;
    const stored = await db
      .selectFrom('directory_versions')
      .select('version')
      .where('version', '=', version)
      .executeTakeFirst();
    return stored === undefined;
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

  async pages(keys: readonly DirectoryPageKey[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array<Uint8Array>(keys.length);
    // No transaction needed across the reads: what a stored version holds never changes.
    for (let from = 0; from < keys.length; from += KEYS_PER_READ) {
      const { rows } = await directoryPagesSql(keys.slice(from, from + KEYS_PER_READ)).execute(this.ctx.db);
      for (const row of rows) out[from + Number(row.slot)] = row.page;
    }
    keys.forEach((k, i) => {
      if (!out[i]) throw new Error(`directory page (${k.version}, '${k.path}') is missing`);
    });
    return out;
  }
}
