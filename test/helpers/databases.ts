/**
 * Test databases on both backends: a fresh SQLite file in a temp dir, or a fresh PostgreSQL
 * database on 127.0.0.1:5432 (user postgres, trust auth; override with TEST_POSTGRES_URL),
 * dropped afterwards. Without a PostgreSQL server those tests are skipped with a plain message,
 * except on CI (CI=true), where they fail: CI has a server and must not pass by skipping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type Backend = 'sqlite' | 'postgres';

export const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  backend: Backend;
  dataDir: string;
  databaseUrl: string | undefined;
  drop(): Promise<void>;
}

let postgresProbe: Promise<string | null> | null = null;

/** null when PostgreSQL answers, else why not. */
export function postgresUnavailable(): Promise<string | null> {
  postgresProbe ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (err) {
      return `PostgreSQL at ${POSTGRES_ADMIN_URL} did not answer: ${(err as Error).message}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return postgresProbe;
}

/** The backends a suite runs on. PostgreSQL is always listed; `createTestDatabase` decides skip vs fail. */
export const BACKENDS: Backend[] = ['sqlite', 'postgres'];

/**
 * Throws on CI when PostgreSQL is missing; elsewhere returns a skip reason (and warns once) so the
 * caller can `ctx.skip()`.
 */
export async function postgresSkipReason(): Promise<string | null> {
  const why = await postgresUnavailable();
  if (why === null) return null;
  if (process.env.CI) throw new Error(`${why} — CI must run the PostgreSQL tests`);
  console.warn(`skipping PostgreSQL tests: ${why}`);
  return why;
}

export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-test-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (backend === 'sqlite') {
    return { backend, dataDir, databaseUrl: undefined, drop: async () => removeDir() };
  }
  const name = `proofmark_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    backend,
    dataDir,
    databaseUrl: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      removeDir();
    },
  };
}
