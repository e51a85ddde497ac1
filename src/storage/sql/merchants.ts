/** MerchantStore on SQL: merchants, their evidence, strikes and API keys. */
import { sql } from 'kysely';
import type { ApiKeyRow, EvidenceRow, MerchantCreditRows, MerchantRow, StrikeRow } from '../rows.ts';
import type { MerchantStore } from '../storage.ts';
import { atomically, slices, type SqlContext } from './context.ts';
import { rowsPerInsert, write } from './dialect.ts';

const EVIDENCE_PER_INSERT = rowsPerInsert(5, 1000);

// The predicates of the partial indexes records_ended_idx and events_dispute_idx (migration 007),
// word for word, so both planners use them. The event types are core's DISPUTE_EVENT_TYPES.
const ENDED = sql<boolean>`records.state <> 'active'`;
const DISPUTE = sql<boolean>`events.type IN ('dispute_opened', 'dispute_answered', 'dispute_decided')`;

export class SqlMerchantStore implements MerchantStore {
  constructor(private readonly ctx: SqlContext) {}

  async insert(merchant: MerchantRow): Promise<void> {
    await write(() => this.ctx.db.insertInto('merchants').values(merchant).execute());
  }

  async get(id: string): Promise<MerchantRow | undefined> {
    const [merchant] = await this.ctx.compiled.run(
      this.ctx.db,
      'merchants.get',
      (db) => db.selectFrom('merchants').selectAll().where('id', '=', ''),
      [id],
    );
    return merchant;
  }

  byNameKey(nameKey: string): Promise<MerchantRow | undefined> {
    return this.ctx.db.selectFrom('merchants').selectAll().where('name_key', '=', nameKey).executeTakeFirst();
  }

  async setNameKey(id: string, nameKey: string): Promise<boolean> {
    const result = await write(() =>
      this.ctx.db.updateTable('merchants').set({ name_key: nameKey }).where('id', '=', id).executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) === 1;
  }

  withoutNameKey(): Promise<MerchantRow[]> {
    return this.ctx.db
      .selectFrom('merchants')
      .selectAll()
      .where('name_key', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async update(
    id: string,
    change: Partial<Pick<MerchantRow, 'status' | 'verified_at' | 'suspended_at'>>,
  ): Promise<boolean> {
    if (Object.keys(change).length === 0) return (await this.get(id)) !== undefined;
    const result = await this.ctx.db
      .updateTable('merchants')
      .set(change)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  evidence(merchantId: string): Promise<EvidenceRow[]> {
    return this.ctx.db
      .selectFrom('merchant_evidence')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .orderBy('position')
      .execute();
  }

  async addEvidence(rows: readonly EvidenceRow[]): Promise<void> {
    if (rows.length === 0) return;
    await write(() =>
      atomically(this.ctx, async (db) => {
        for (const slice of slices(rows, EVIDENCE_PER_INSERT)) {
          await db.insertInto('merchant_evidence').values(slice).execute();
        }
      }),
    );
  }

  strikes(merchantId: string): Promise<StrikeRow[]> {
    return this.ctx.db
      .selectFrom('merchant_strikes')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .orderBy('number')
      .execute();
  }

  async addStrike(row: StrikeRow): Promise<void> {
    await write(() => this.ctx.db.insertInto('merchant_strikes').values(row).execute());
  }

  async credit(merchantId: string): Promise<MerchantCreditRows> {
    const db = this.ctx.db;
    const [issued, ended, disputes] = await Promise.all([
      db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('merchant_id', '=', merchantId)
        .executeTakeFirstOrThrow(),
      db
        .selectFrom('records')
        .select(['state', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('merchant_id', '=', merchantId)
        .where(ENDED)
        .groupBy('state')
        .execute(),
      db
        .selectFrom('events')
        .innerJoin('records', 'records.id', 'events.record_id')
        .select(['events.record_id', 'events.seq', 'events.type', 'events.content'])
        .where(DISPUTE)
        .where('records.merchant_id', '=', merchantId)
        .execute(),
    ]);
    const count = (state: string) => Number(ended.find((r) => r.state === state)?.n ?? 0);
    return { issued: Number(issued.n), revoked: count('revoked'), refunded: count('refunded'), disputes };
  }

  async insertKey(row: ApiKeyRow): Promise<void> {
    await write(() => this.ctx.db.insertInto('api_keys').values(row).execute());
  }

  async revokeKeys(merchantId: string, at: string): Promise<void> {
    await this.ctx.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('merchant_id', '=', merchantId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async byKeyHash(keyHash: string): Promise<{ merchant: MerchantRow; revokedAt: string | null } | undefined> {
    const row = await this.ctx.db
      .selectFrom('api_keys')
      .innerJoin('merchants', 'merchants.id', 'api_keys.merchant_id')
      .selectAll('merchants')
      .select('api_keys.revoked_at')
      .where('api_keys.key_hash', '=', keyHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const { revoked_at, ...merchant } = row;
    return { merchant, revokedAt: revoked_at };
  }
}
