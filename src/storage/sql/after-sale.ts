/** AfterSaleStore on SQL: sealed deliveries, disputes and their evidence files. */
import type { DisputeFileRow, DisputeRow, DisputeStatus, SealedDeliveryRow } from '../rows.ts';
import type { AfterSaleStore } from '../storage.ts';
import type { SqlContext } from './context.ts';
import { blob, write } from './dialect.ts';

type DisputeChange = Parameters<AfterSaleStore['updateDispute']>[2];

export class SqlAfterSaleStore implements AfterSaleStore {
  constructor(private readonly ctx: SqlContext) {}

  async insertSealed(row: SealedDeliveryRow): Promise<void> {
    await write(() => this.ctx.db.insertInto('sealed_deliveries').values(row).execute());
  }

  async sealedOf(recordId: string): Promise<SealedDeliveryRow | undefined> {
    return this.ctx.db
      .selectFrom('sealed_deliveries')
      .selectAll()
      .where('record_id', '=', recordId)
      .executeTakeFirst();
  }

  async sealedByToken(tokenHash: string): Promise<SealedDeliveryRow | undefined> {
    return this.ctx.db
      .selectFrom('sealed_deliveries')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  async markRevealed(recordId: string, at: string): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('sealed_deliveries')
      .set({ revealed_at: at })
      .where('record_id', '=', recordId)
      .where('revealed_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async purgeExpiredSecrets(now: string, limit: number): Promise<number> {
    const due = this.ctx.db
      .selectFrom('sealed_deliveries')
      .select('record_id')
      .where('sealed_secret', 'is not', null)
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit);
    const result = await this.ctx.db
      .updateTable('sealed_deliveries')
      .set({ sealed_secret: null })
      .where('record_id', 'in', due)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async insertDispute(row: DisputeRow): Promise<void> {
    await write(() => this.ctx.db.insertInto('disputes').values(row).execute());
  }

  async dispute(id: string): Promise<DisputeRow | undefined> {
    return this.ctx.db.selectFrom('disputes').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async disputesOf(recordId: string): Promise<DisputeRow[]> {
    return this.ctx.db
      .selectFrom('disputes')
      .selectAll()
      .where('record_id', '=', recordId)
      .orderBy('opened_at')
      .orderBy('id')
      .execute();
  }

  async disputesWithStatus(statuses: readonly DisputeStatus[], limit: number): Promise<DisputeRow[]> {
    if (statuses.length === 0) return [];
    return this.ctx.db
      .selectFrom('disputes')
      .selectAll()
      .where('status', 'in', statuses)
      .orderBy('opened_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async openDueBy(by: string, limit: number): Promise<DisputeRow[]> {
    return this.ctx.db
      .selectFrom('disputes')
      .selectAll()
      .where('status', '=', 'open')
      .where('deadline_at', '<=', by)
      .orderBy('deadline_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async unwarnedDueBy(by: string, limit: number): Promise<DisputeRow[]> {
    return this.ctx.db
      .selectFrom('disputes')
      .selectAll()
      .where('status', '=', 'open')
      .where('warned_at', 'is', null)
      .where('deadline_at', '<=', by)
      .orderBy('deadline_at')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async updateDispute(id: string, from: DisputeStatus, change: DisputeChange): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('disputes')
      .set(change)
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async insertFiles(rows: readonly DisputeFileRow[]): Promise<void> {
    if (rows.length === 0) return;
    await write(() =>
      this.ctx.db
        .insertInto('dispute_files')
        .values(rows.map((r) => ({ ...r, bytes: blob(r.bytes) })))
        .execute(),
    );
  }

  async filesOf(disputeId: string): Promise<Array<Omit<DisputeFileRow, 'bytes'>>> {
    return this.ctx.db
      .selectFrom('dispute_files')
      .select(['dispute_id', 'position', 'side', 'content_type', 'size', 'sha256'])
      .where('dispute_id', '=', disputeId)
      .orderBy('position')
      .execute();
  }

  async file(disputeId: string, position: number): Promise<DisputeFileRow | undefined> {
    const row = await this.ctx.db
      .selectFrom('dispute_files')
      .selectAll()
      .where('dispute_id', '=', disputeId)
      .where('position', '=', position)
      .executeTakeFirst();
    return row && { ...row, bytes: new Uint8Array(row.bytes) };
  }
}
