/**
 * What a SQL database holds, read from outside the stores: table names, row counts and every row as
 * text. Tests compare counts before and after a refused write, and search every byte for secrets.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/storage/sql/schema.ts';

/** Every application table (Kysely's own migration tables excluded). */
export async function tableNames(db: Kysely<Database>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables
    .filter((t) => !t.isView)
    .map((t) => t.name)
    .sort();
}

/** Rows per table: compare before and after a rejected write. */
export async function rowCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of await tableNames(db)) {
    const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(name)}`.execute(
      db,
    );
    out[name] = Number(rows[0]!.n);
  }
  return out;
}

/**
 * Every row of every table as one text: strings as they are, blobs both as hex and decoded as UTF-8
 * and Latin-1, so a plaintext value stored anywhere, in any form, shows up in it.
 */
export async function everyRowAsText(db: Kysely<Database>): Promise<string> {
  const parts: string[] = [];
  for (const name of await tableNames(db)) {
    const { rows } = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(name)}`.execute(db);
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (value instanceof Uint8Array) {
          const buf = Buffer.from(value);
          parts.push(
            `${name}.${column}=${buf.toString('hex')} ${buf.toString('utf8')} ${buf.toString('latin1')}`,
          );
        } else {
          parts.push(`${name}.${column}=${String(value)}`);
        }
      }
    }
  }
  return parts.join('\n');
}
