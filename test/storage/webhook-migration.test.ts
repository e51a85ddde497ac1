/**
 * Migration 003-webhooks on a database that already holds final batches: they became final before
 * anyone could subscribe, so they count as announced and no item.final is sent for them; a batch not
 * yet final then is announced when it becomes final.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, sql, SqliteDialect } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import * as initial from '../../src/storage/sql/migrations/001-initial.ts';
import * as dropSettings from '../../src/storage/sql/migrations/002-drop-settings.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { at, hash, lead } from './fixtures.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('counts batches final before the migration as announced, and announces the rest when final', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-webhook-migration-'));
  dirs.push(dataDir);
  // The database as the release before webhooks left it: batch 1 final, batch 2 anchored.
  const old = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: new SQLite(join(dataDir, 'proofmark.sqlite')) }),
  });
  const migrations = { '001-initial': initial, '002-drop-settings': dropSettings };
  const { error } = await new Migrator({
    db: old,
    provider: { getMigrations: async () => migrations },
  }).migrateToLatest();
  expect(error).toBeUndefined();
  for (const [id, status] of [
    [1, 'final'],
    [2, 'anchored'],
  ] as const) {
    const finalAt = status === 'final' ? at(9) : null;
    await sql`INSERT INTO batches (id, root, leaf_count, status, sealed_at, final_at)
      VALUES (${id}, ${hash(`root ${id}`)}, 3, ${status}, ${at(id)}, ${finalAt})`.execute(old);
  }
  await old.destroy();

  const storage = await openStorage({ dataDir });
  try {
    expect(await storage.webhooks.unannouncedFinalBatches(10)).toEqual([]);
    const fence = await lead(storage);
    expect(await storage.batches.transition(2, 'anchored', 'final', { final_at: at(10) }, fence)).toBe(true);
    const pending = await storage.webhooks.unannouncedFinalBatches(10);
    expect(pending.map((p) => [p.batch.id, p.nextLeaf])).toEqual([[2, 0]]);
  } finally {
    await storage.close();
  }
});
