/**
 * Measures PostgreSQL storage per record, for docs/operations.md. Not a test: run by hand with
 *
 *   npx tsx test/scale/measure-size.ts [records=20000]
 *
 * against the PostgreSQL of test/helpers/databases.ts (TEST_POSTGRES_URL). It registers the records
 * through the API (a mix of kinds, half with a secret, a third with metadata), adds lifecycle events
 * (every record sold, every other one activated too: 2.5 events per record), scans a tenth of them,
 * seals and anchors everything, then prints each table's size before and after VACUUM FULL, and the
 * extrapolation to one million records.
 */
import { sql } from 'kysely';
import { createTestDatabase } from '../helpers/databases.ts';
import { startHarness } from '../helpers/harness.ts';
import { mixedFields, recordBody } from '../helpers/records.ts';
import { pool } from './cluster.ts';

const records = Number(process.argv[2] ?? 20_000);

interface Row {
  table: string;
  rows: number;
  total: number;
  heap: number;
  indexes: number;
}

async function main() {
  const database = await createTestDatabase('postgres');
  // Tens of thousands of requests from one merchant and one address: the rate limits would refuse them.
  const h = await startHarness({
    database,
    env: {
      BATCH_MAX_LEAVES: '10000',
      RATE_LIMIT_MERCHANT_PER_MINUTE: '0',
      RATE_LIMIT_VERIFY_PER_MINUTE: '0',
    },
  });
  try {
    const started = Date.now();
    const { apiKey } = await h.verifiedMerchant('Sizing Merchant');
    const ids: string[] = [];
    await pool(
      2,
      Array.from({ length: Math.ceil(records / 1000) }, (_, r) => async () => {
        const body = {
          records: Array.from({ length: Math.min(1000, records - r * 1000) }, (_, k) =>
            recordBody(`size-${r * 1000 + k}`, mixedFields(`size-${r * 1000 + k}`)),
          ),
        };
        const res = await h.call('POST', '/v1/records', { token: apiKey, body });
        if (res.statusCode !== 201) throw new Error(res.body);
        for (const rec of res.json().records as { id: string }[]) ids.push(rec.id);
      }),
    );
    let events = records;
    await pool(
      8,
      ids.map((id, i) => async () => {
        for (const type of i % 2 === 0 ? ['sold', 'activated'] : ['sold']) {
          const res = await h.call('POST', `/v1/records/${id}/events`, {
            token: apiKey,
            body: { type, data: { channel: 'web', order: `ORD-${i}` } },
          });
          if (res.statusCode !== 201) throw new Error(res.body);
          events++;
        }
      }),
    );
    await h.sealAndWaitFinal(600_000);
    await pool(
      8,
      ids
        .filter((_, i) => i % 10 === 0)
        .map((id) => async () => void (await h.call('GET', `/v1/verify/${id}`))),
    );
    const loadedMs = Date.now() - started;

    const db = h.runtime.storage.db;
    const measure = async (): Promise<Row[]> => {
      await sql`ANALYZE`.execute(db);
      const result = await sql<Row>`
        SELECT relname AS table, n_live_tup::int AS rows,
               pg_total_relation_size(relid)::bigint AS total,
               pg_relation_size(relid)::bigint AS heap,
               pg_indexes_size(relid)::bigint AS indexes
        FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC`.execute(db);
      return result.rows.map((r) => ({
        ...r,
        total: Number(r.total),
        heap: Number(r.heap),
        indexes: Number(r.indexes),
      }));
    };
    const before = await measure();
    await sql`VACUUM FULL`.execute(db);
    const after = await measure();
    const batches = await db
      .selectFrom('batches')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();

    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    const perMillion = (n: number) => ((n / records) * 1_000_000) / 1024 / 1024 / 1024;
    console.log(
      `\n${records} records, ${events} events (${(events / records).toFixed(2)} per record), ` +
        `${Number(batches.n)} batches, ${records / 10} scans; loaded, sealed and anchored in ${(loadedMs / 1000).toFixed(0)} s\n`,
    );
    console.log(
      '| table | rows | as loaded (MB) | heap + TOAST / indexes | after VACUUM FULL (MB) | GB per million records (as loaded) |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const row of before) {
      const compact = after.find((r) => r.table === row.table)!;
      console.log(
        `| ${row.table} | ${row.rows} | ${mb(row.total)} | ${mb(row.total - row.indexes)} / ${mb(row.indexes)} | ` +
          `${mb(compact.total)} | ${perMillion(row.total).toFixed(2)} |`,
      );
    }
    const sum = (rows: Row[]) => rows.reduce((a, r) => a + r.total, 0);
    console.log(
      `| **all** | | ${mb(sum(before))} | | ${mb(sum(after))} | ${perMillion(sum(before)).toFixed(2)} ` +
        `(${perMillion(sum(after)).toFixed(2)} compact) |`,
    );
    console.log(
      `\nper record (as loaded): ${(sum(before) / records).toFixed(0)} bytes; ` +
        `per event: ${(sum(before) / events).toFixed(0)} bytes`,
    );
  } finally {
    await h.close();
    await database.drop();
  }
}

await main();
