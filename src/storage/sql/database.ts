/**
 * Opens the database behind the SQL stores: embedded SQLite by default, PostgreSQL when a
 * DATABASE_URL is given. One Kysely query layer serves both; migrations run at open.
 */
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration } from 'kysely';
import type { DialectName } from './dialect.ts';
import * as initial from './migrations/001-initial.ts';
import * as dropSettings from './migrations/002-drop-settings.ts';
import * as secrets from './migrations/003-secrets.ts';
import { privateDirectory, privateFile, tightenIfPresent } from '../private-files.ts';
import * as identity from './migrations/004-identity.ts';
import * as webhooks from './migrations/005-webhooks.ts';
import * as directory from './migrations/006-directory.ts';
import * as merchantCredit from './migrations/007-merchant-credit.ts';
import * as stateRoots from './migrations/008-state-roots.ts';
import * as uniqueness from './migrations/009-uniqueness.ts';
import * as afterSale from './migrations/010-after-sale.ts';
import type { Database } from './schema.ts';

export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Where it lives, with any password removed: for logs. */
  location: string;
  close(): Promise<void>;
}

/** Versioned, forward-only. Add new ones at the end; never edit a released one. */
const MIGRATIONS: Record<string, Migration> = {
  '001-initial': initial,
  '002-drop-settings': dropSettings,
  '003-secrets': secrets,
  '004-identity': identity,
  '005-webhooks': webhooks,
  '006-directory': directory,
  '007-merchant-credit': merchantCredit,
  '008-state-roots': stateRoots,
  '009-uniqueness': uniqueness,
  '010-after-sale': afterSale,
};

export async function openDatabase(opts: {
  databaseUrl?: string | undefined;
  dataDir: string;
}): Promise<OpenDatabase> {
  const opened = opts.databaseUrl ? openPostgres(opts.databaseUrl) : openSqlite(opts.dataDir);
  try {
    await migrate(opened.db);
  } catch (err) {
    await opened.close();
    throw err;
  }
  return opened;
}

/** Pages in the write-ahead log before a commit checkpoints it (SQLite's default is 1,000). */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

function openSqlite(dataDir: string): OpenDatabase {
  privateDirectory(dataDir);
  const file = join(dataDir, 'proofmark.sqlite');
  // SQLite creates the -wal and -shm with the main file's mode, so creating that 0600 covers all three.
  privateFile(file);
  for (const side of ['-wal', '-shm']) tightenIfPresent(file + side);
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // Freed space is zeroed, so a value overwritten (a salt sealed in place) leaves no copy in a page.
  sqlite.pragma('secure_delete = ON');
  // FULL: a record acknowledged to a merchant survives power loss, not only a crash of the process.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // Content replaced or deleted (an operator's erasure of an event) is overwritten, not left in free
  // space where a copy of the file would still hold it. Writes that free nothing cost nothing more.
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma('busy_timeout = 5000');
  // A registration of 1,000 records writes a few thousand pages (its unique keys land on random
  // index pages), so at the default of 1,000 pages every commit also checkpointed, copying those
  // pages into the main file again on the request's path. A larger threshold checkpoints every few
  // commits, each page of an index hot across them once. Durability is the WAL's (synchronous=FULL);
  // purgeOverwritten still truncates the log on demand.
  sqlite.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  // Kysely's SQLite driver closes the file at once; taking the one connection first lets a
  // transaction in flight finish. (A database already destroyed has nothing in flight.)
  const close = async () => {
    await db
      .connection()
      .execute(async () => {})
      .catch(() => {});
    await db.destroy();
  };
  return { db, dialect: 'sqlite', location: file, close };
}

/**
 * Kysely's SQLite driver prepares every statement anew; on the hot routes preparing cost as much as
 * running. Statements are cached by their SQL text (least recently used first out).
 */
function withStatementCache(sqlite: SQLite.Database, max = 256) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string): SQLite.Statement {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text);
      } else {
        statement = sqlite.prepare(text);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(text, statement);
      return statement;
    },
  };
}

// Counts, batch ids and block numbers fit in a JS number; read int8 as one rather than as a string.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

function openPostgres(url: string): OpenDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle connection the server drops (restart, failover, pg_terminate_backend, a proxy's timeout)
  // is discarded by the pool and replaced at the next query; without a listener its 'error' event
  // would be unhandled and end the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const parsed = new URL(url);
  parsed.password = '';
  return { db, dialect: 'postgres', location: parsed.toString(), close: () => db.destroy() };
}

async function migrate(db: Kysely<Database>): Promise<void> {
  // Kysely's migrator takes a lock (an advisory lock on PostgreSQL), so instances starting at once
  // apply each migration exactly once.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(
      `database migration ${failed?.migrationName ?? ''} failed: ${(error as Error)?.message ?? error}`,
    );
  }
}
