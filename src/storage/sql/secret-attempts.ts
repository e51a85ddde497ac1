/** SecretAttemptStore on SQL: one row per record that has had a wrong secret tried against it. */
import type { SecretAttemptRow } from '../rows.ts';
import type { SecretAttemptStore } from '../storage.ts';
import { atomically, type SqlContext } from './context.ts';

export class SqlSecretAttemptStore implements SecretAttemptStore {
  constructor(private readonly ctx: SqlContext) {}

  async get(recordId: string): Promise<SecretAttemptRow | undefined> {
    const [row] = await this.ctx.compiled.run(
      this.ctx.db,
      'secretAttempts.get',
      (db) => db.selectFrom('secret_attempts').selectAll().where('record_id', '=', ''),
      [recordId],
    );
    return row;
  }

  /**
   * One upsert per record, in one transaction. Each is a single statement whose condition is judged
   * on the row as it is when the statement locks it (PostgreSQL re-reads a row a racing writer
   * changed; SQLite has one writer at a time), so racing instances never read-then-write: an upsert
   * whose condition fails changes nothing and returns no row.
   */
  async take(
    recordIds: readonly string[],
    now: string,
    windowStartedBy: string,
    limit: number,
  ): Promise<Map<string, SecretAttemptRow | null>> {
    const out = new Map<string, SecretAttemptRow | null>();
    if (recordIds.length === 0) return out;
    await atomically(this.ctx, async (db) => {
      for (const recordId of recordIds) {
        const row = await db
          .insertInto('secret_attempts')
          .values({ record_id: recordId, window_start: now, failures: 1 })
          .onConflict((oc) =>
            oc
              .column('record_id')
              .doUpdateSet((eb) => {
                const ended = eb('secret_attempts.window_start', '<=', windowStartedBy);
                return {
                  failures: eb
                    .case()
                    .when(ended)
                    .then(1)
                    .else(eb('secret_attempts.failures', '+', 1))
                    .end(),
                  window_start: eb
                    .case()
                    .when(ended)
                    .then(now)
                    .else(eb.ref('secret_attempts.window_start'))
                    .end(),
                };
              })
              .where((eb) =>
                eb.or([
                  eb('secret_attempts.window_start', '<=', windowStartedBy),
                  eb('secret_attempts.failures', '<', limit),
                ]),
              ),
          )
          .returning(['record_id', 'window_start', 'failures'])
          .executeTakeFirst();
        out.set(recordId, row ?? null);
      }
    });
    return out;
  }

  /**
   * A decrement, then the row's removal if it reached zero: each one statement, so a racing take
   * that raised the count in between keeps its row.
   */
  async giveBack(
    entries: ReadonlyArray<Pick<SecretAttemptRow, 'record_id' | 'window_start'>>,
  ): Promise<void> {
    if (entries.length === 0) return;
    await atomically(this.ctx, async (db) => {
      for (const { record_id, window_start } of entries) {
        await db
          .updateTable('secret_attempts')
          .set((eb) => ({ failures: eb('failures', '-', 1) }))
          .where('record_id', '=', record_id)
          .where('window_start', '=', window_start)
          .where('failures', '>', 0)
          .execute();
        await db
          .deleteFrom('secret_attempts')
          .where('record_id', '=', record_id)
          .where('failures', '=', 0)
          .execute();
      }
    });
  }
}
