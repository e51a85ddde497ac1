/**
 * Small helpers shared by the service, HTTP, batcher and chain tests: what the database holds
 * (row counts, every row as text), record inputs, and polling with a deadline.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/storage/sql/schema.ts';
import type { Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';

export { recordBody, type RecordBody } from '../helpers/records.ts';
export { waitFor } from '../helpers/wait.ts';

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

/** Registers `count` records named `${prefix}-${i}` in requests of up to 1,000; returns their ids. */
export async function registerMany(
  h: Harness,
  apiKey: string,
  prefix: string,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const records = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) records.push(recordBody(`${prefix}-${i}`));
    const res = await h.call('POST', '/v1/records', { token: apiKey, body: { records } });
    if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`);
    ids.push(...res.json().records.map((r: { id: string }) => r.id));
  }
  return ids;
}

export async function batchStatuses(db: Kysely<Database>): Promise<Array<{ id: number; status: string }>> {
  return db.selectFrom('batches').select(['id', 'status']).orderBy('id').execute();
}
