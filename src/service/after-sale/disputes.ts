/**
 * Disputes: a buyer who shows possession (the secret, within the record's guess budget, or the reveal
 * link) opens one; the merchant answers before the deadline (DISPUTE_RESPONSE_HOURS): accepting and
 * refunding, replacing, or contesting with its own evidence; the operator decides contested ones, and
 * an unanswered one is decided for the buyer at the deadline (sweep.ts). Every step is an event in the
 * record's anchored history (dispute_opened, dispute_answered, dispute_decided, then refunded for a
 * decision for the buyer), its evidence files' SHA-256 in the event's data. The record's head allows
 * one open dispute at a time. Each step writes its event, the dispute row, the files and the webhook
 * in one transaction.
 */
import type {
  DisputeDecidedBy,
  DisputeDecision,
  DisputeReason,
  DisputeResponse,
  DisputeRow,
  RecordRow,
} from '../../storage/rows.ts';
import { DISPUTE_REASONS, DISPUTE_RESPONSES } from '../../storage/rows.ts';
import type { Stores } from '../../storage/storage.ts';
import { iso, type ServiceContext } from '../context.ts';
import { assertDisplayable } from '../display-text.ts';
import { badRequest, conflict, forbidden, notFound } from '../errors.ts';
import { strikeInTransaction, type Merchant } from '../merchants.ts';
import { personalDataError } from '../personal-data.ts';
import { randomId } from '../random.ts';
import {
  appendInTransaction,
  DISPUTE_COURSE,
  inEventTransaction,
  refuseLargeData,
} from '../record-events.ts';
import { checkSecret } from '../secrets.ts';
import { enqueueWebhook } from '../webhooks/outbox.ts';
import { checkEvidence, evidenceData, sha256Of, type EvidenceFile, type EvidenceUpload } from './evidence.ts';
import { tokenOpensRecord } from './sealed-delivery.ts';

/** Characters a description or an answer may hold. */
export const MAX_DISPUTE_TEXT = 2000;

export interface OpenDisputeInput {
  /** Possession: the item's secret, or the reveal link's token. One is required. */
  secret?: string | undefined;
  revealToken?: string | undefined;
  reason: string;
  description: string;
  files: readonly EvidenceUpload[];
}

export interface AnswerInput {
  response: string;
  answer?: string | undefined;
  files: readonly EvidenceUpload[];
}

export interface DecideInput {
  decision: DisputeDecision;
  /** Whether a decision for the buyer also strikes the merchant (the two-strike rule). */
  strike: boolean;
  note?: string | undefined;
}

/** A dispute as the API shows it to the buyer who opened it, the merchant and the operator. */
export interface DisputeView {
  id: string;
  recordId: string;
  merchantId: string;
  reason: DisputeReason;
  description: string;
  status: DisputeRow['status'];
  openedAt: string;
  respondBy: string;
  response: DisputeResponse | null;
  answer: string | null;
  answeredAt: string | null;
  decision: DisputeDecision | null;
  decidedBy: DisputeDecidedBy | null;
  decidedAt: string | null;
  files: Array<{
    position: number;
    side: 'buyer' | 'merchant';
    contentType: string;
    size: number;
    sha256: string;
  }>;
  /**
   * Derived from the record's anchored history: the item was reported activated after its sealed
   * sale and before the buyer's first reveal (or with no reveal yet): evidence the merchant, not the
   * buyer, is at fault. Null when the item was not sold by sealed delivery.
   */
  activatedBeforeReveal: boolean | null;
}

function checkText(field: string, text: string): void {
  if (text.length > MAX_DISPUTE_TEXT) {
    throw badRequest('text_too_long', `${field} is over ${MAX_DISPUTE_TEXT} characters`);
  }
  assertDisplayable([[field, text]]);
  // Seen by the merchant and the operator, never published; still no contact details in it.
  const personal = personalDataError(field, { text });
  if (personal) throw personal;
}

function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

/**
 * Opens a dispute: 400 for a bad reason, text or file (see evidence.ts), 403 possession_required
 * without a right secret or the record's reveal link, 429 secret_attempts_exhausted once the record's
 * guesses are spent, 404 record_not_found, 409 lifecycle_violation for a record never sold, ended, or
 * with a dispute open. Nothing is written on a refusal (a wrong secret spends one guess).
 */
export async function openDispute(
  ctx: ServiceContext,
  recordId: string,
  input: OpenDisputeInput,
): Promise<DisputeView> {
  if (!isOneOf(DISPUTE_REASONS, input.reason)) {
    throw badRequest('invalid_reason', `reason must be one of ${DISPUTE_REASONS.join(', ')}`);
  }
  const reason = input.reason;
  checkText('description', input.description);
  const files = checkEvidence(input.files);
  await requirePossession(ctx, recordId, input);
  const id = `d_${randomId()}`;
  const now = ctx.now();
  const respondBy = new Date(now.getTime() + ctx.afterSale.disputeResponseMs).toISOString();
  const data = {
    dispute: id,
    reason,
    description_sha256: sha256Of(input.description),
    respond_by: respondBy,
    ...evidenceData(files),
  };
  refuseLargeData(ctx, data);
  await inEventTransaction(ctx, async (tx) => {
    const record = await tx.records.get(recordId);
    if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
    await appendInTransaction(
      ctx,
      tx,
      record,
      'dispute_opened',
      data,
      'after-sale',
      DISPUTE_COURSE + (record.revealed ? 0 : 1),
    );
    const openedAt = now.toISOString();
    await tx.afterSale.insertDispute({
      id,
      record_id: recordId,
      merchant_id: record.merchant_id,
      reason,
      description: input.description,
      status: 'open',
      opened_at: openedAt,
      deadline_at: respondBy,
      warned_at: null,
      response: null,
      answer: null,
      answered_at: null,
      decision: null,
      decided_by: null,
      decided_at: null,
      decision_note: null,
    });
    await storeFiles(tx, id, 0, 'buyer', files);
    await enqueueWebhook(tx, openedAt, record.merchant_id, {
      type: 'dispute.opened',
      data: { ...ref(id, record), reason, openedAt, respondBy },
    });
  });
  return disputeView(ctx, id);
}

async function requirePossession(
  ctx: ServiceContext,
  recordId: string,
  input: OpenDisputeInput,
): Promise<void> {
  if (input.revealToken !== undefined && input.revealToken !== '') {
    if (await tokenOpensRecord(ctx, input.revealToken, recordId)) return;
  } else if (input.secret !== undefined && input.secret !== '') {
    if ((await checkSecret(ctx, recordId, input.secret)).match) return;
  } else {
    throw forbidden('possession_required', 'give the item secret or its reveal link to open a dispute');
  }
  throw forbidden('possession_required', 'the secret or reveal link does not open this item');
}

/**
 * The merchant's answer: accept_refund (decided for the buyer, refunded), replace (decided for the
 * buyer, no refund: the merchant hands over another item) or contest (the operator decides). 404
 * dispute_not_found, 403 not_record_owner, 409 dispute_not_open once answered or decided, 409
 * dispute_deadline_passed at or after the deadline.
 */
export async function answerDispute(
  ctx: ServiceContext,
  merchant: Merchant,
  disputeId: string,
  input: AnswerInput,
): Promise<DisputeView> {
  if (!isOneOf(DISPUTE_RESPONSES, input.response)) {
    throw badRequest('invalid_response', `response must be one of ${DISPUTE_RESPONSES.join(', ')}`);
  }
  const response = input.response;
  if (input.answer !== undefined) checkText('answer', input.answer);
  const files = checkEvidence(input.files);
  const data = {
    dispute: disputeId,
    response,
    ...(input.answer !== undefined && { answer_sha256: sha256Of(input.answer) }),
    ...evidenceData(files),
  };
  refuseLargeData(ctx, data);
  await inEventTransaction(ctx, async (tx) => {
    const dispute = await tx.afterSale.dispute(disputeId);
    if (!dispute) throw notFound('dispute_not_found', `no dispute with id ${disputeId}`);
    if (dispute.merchant_id !== merchant.id) {
      throw forbidden('not_record_owner', 'only the merchant that issued the item may answer its dispute');
    }
    if (dispute.status !== 'open') throw conflict('dispute_not_open', `the dispute is ${dispute.status}`);
    const at = iso(ctx);
    if (at >= dispute.deadline_at) {
      throw conflict('dispute_deadline_passed', `the deadline to answer was ${dispute.deadline_at}`);
    }
    let record = (await tx.records.get(dispute.record_id))!;
    ({ record } = await appendInTransaction(ctx, tx, record, 'dispute_answered', data, 'after-sale'));
    const position = (await tx.afterSale.filesOf(disputeId)).length;
    await storeFiles(tx, disputeId, position, 'merchant', files);
    const answered = {
      response,
      answer: input.answer ?? null,
      answered_at: at,
    };
    if (response === 'contest') {
      await changeDispute(tx, dispute, { status: 'answered', ...answered });
      return;
    }
    await changeDispute(tx, dispute, { ...answered, status: 'answered' });
    await decideInTransaction(ctx, tx, { ...dispute, status: 'answered' }, record, {
      decision: 'buyer',
      by: 'merchant',
      refund: response === 'accept_refund',
      strike: false,
    });
  });
  return disputeView(ctx, disputeId);
}

/**
 * The operator's decision on an open or contested dispute: 404 dispute_not_found, 409
 * dispute_decided once decided. For the buyer: `refunded` follows, and with `strike` the merchant
 * takes a strike (the first warns, the second suspends) in the same transaction; a merchant already
 * suspended takes none, and the decision stands.
 */
export async function decideDispute(
  ctx: ServiceContext,
  disputeId: string,
  input: DecideInput,
): Promise<DisputeView> {
  if (input.note !== undefined) checkText('note', input.note);
  await decide(ctx, disputeId, {
    decision: input.decision,
    by: 'operator',
    refund: input.decision === 'buyer',
    strike: input.strike && input.decision === 'buyer',
    note: input.note ?? null,
  });
  return disputeView(ctx, disputeId);
}

interface Decision {
  decision: DisputeDecision;
  by: DisputeDecidedBy;
  refund: boolean;
  strike: boolean;
  note?: string | null;
}

/** Decides a dispute still open or answered; 409 dispute_decided otherwise. */
export async function decide(
  ctx: ServiceContext,
  disputeId: string,
  decision: Decision,
): Promise<DisputeRow> {
  return inEventTransaction(ctx, async (tx) => {
    const dispute = await tx.afterSale.dispute(disputeId);
    if (!dispute) throw notFound('dispute_not_found', `no dispute with id ${disputeId}`);
    if (dispute.status === 'decided') throw conflict('dispute_decided', 'the dispute was already decided');
    const record = (await tx.records.get(dispute.record_id))!;
    await decideInTransaction(ctx, tx, dispute, record, decision);
    return dispute;
  });
}

async function decideInTransaction(
  ctx: ServiceContext,
  tx: Stores,
  dispute: DisputeRow,
  record: RecordRow,
  d: Decision,
): Promise<void> {
  const at = iso(ctx);
  const remedy = d.decision === 'merchant' ? {} : { remedy: d.refund ? 'refund' : 'replace' };
  let current = record;
  ({ record: current } = await appendInTransaction(
    ctx,
    tx,
    current,
    'dispute_decided',
    {
      dispute: dispute.id,
      decision: d.decision,
      by: d.by,
      ...remedy,
    },
    'after-sale',
  ));
  if (d.refund)
    await appendInTransaction(ctx, tx, current, 'refunded', { dispute: dispute.id }, 'after-sale');
  // The strike commits with the decision, or neither does; a merchant already suspended takes none.
  const struck = d.strike && (await tx.merchants.get(dispute.merchant_id))?.status !== 'suspended';
  if (struck) {
    const reason = `dispute ${dispute.id} decided for the buyer (${dispute.reason})`;
    await strikeInTransaction(ctx, tx, dispute.merchant_id, reason);
  }
  await changeDispute(tx, dispute, {
    status: 'decided',
    decision: d.decision,
    decided_by: d.by,
    decided_at: at,
    decision_note: d.note ?? null,
  });
  await enqueueWebhook(tx, at, dispute.merchant_id, {
    type: 'dispute.decided',
    data: {
      ...ref(dispute.id, record),
      outcome: d.decision,
      decidedBy: d.by,
      decidedAt: at,
      refunded: d.refund,
      strike: struck,
    },
  });
}

async function changeDispute(
  tx: Stores,
  dispute: DisputeRow,
  change: Parameters<Stores['afterSale']['updateDispute']>[2],
): Promise<void> {
  if (!(await tx.afterSale.updateDispute(dispute.id, dispute.status, change))) {
    throw conflict('concurrent_dispute_step', 'the dispute changed at the same time; retry');
  }
}

async function storeFiles(
  tx: Stores,
  disputeId: string,
  from: number,
  side: 'buyer' | 'merchant',
  files: readonly EvidenceFile[],
): Promise<void> {
  await tx.afterSale.insertFiles(
    files.map((f, i) => ({
      dispute_id: disputeId,
      position: from + i,
      side,
      content_type: f.contentType,
      size: f.size,
      sha256: f.sha256,
      bytes: f.bytes,
    })),
  );
}

function ref(disputeId: string, record: RecordRow) {
  return { disputeId, recordId: record.id, externalId: record.external_id, merchantId: record.merchant_id };
}

export async function getDispute(ctx: ServiceContext, disputeId: string): Promise<DisputeRow> {
  const dispute = await ctx.storage.afterSale.dispute(disputeId);
  if (!dispute) throw notFound('dispute_not_found', `no dispute with id ${disputeId}`);
  return dispute;
}

export async function disputeView(ctx: ServiceContext, disputeId: string): Promise<DisputeView> {
  const d = await getDispute(ctx, disputeId);
  const files = await ctx.storage.afterSale.filesOf(disputeId);
  return {
    id: d.id,
    recordId: d.record_id,
    merchantId: d.merchant_id,
    reason: d.reason,
    description: d.description,
    status: d.status,
    openedAt: d.opened_at,
    respondBy: d.deadline_at,
    response: d.response,
    answer: d.answer,
    answeredAt: d.answered_at,
    decision: d.decision,
    decidedBy: d.decided_by,
    decidedAt: d.decided_at,
    files: files.map((f) => ({
      position: f.position,
      side: f.side,
      contentType: f.content_type,
      size: f.size,
      sha256: f.sha256,
    })),
    activatedBeforeReveal: await activatedBeforeReveal(ctx, d.record_id),
  };
}

/** See DisputeView.activatedBeforeReveal: read from the record's events, in seq order. */
export async function activatedBeforeReveal(ctx: ServiceContext, recordId: string): Promise<boolean | null> {
  const events = await ctx.storage.events.ofRecord(recordId);
  let sealedSale = false;
  for (const e of events) {
    if (
      e.type === 'sold' &&
      (JSON.parse(e.content) as { data?: { delivery?: unknown } }).data?.delivery === 'sealed'
    ) {
      sealedSale = true;
    } else if (sealedSale && e.type === 'revealed') {
      return false;
    } else if (sealedSale && e.type === 'activated') {
      return true;
    }
  }
  return sealedSale ? false : null;
}

/** The merchant's own dispute, or 404 (another merchant's is not found either). */
export async function merchantDispute(
  ctx: ServiceContext,
  merchant: Merchant,
  disputeId: string,
): Promise<DisputeView> {
  const d = await ctx.storage.afterSale.dispute(disputeId);
  if (!d || d.merchant_id !== merchant.id)
    throw notFound('dispute_not_found', `no dispute with id ${disputeId}`);
  return disputeView(ctx, disputeId);
}

/** Disputes waiting for someone, oldest first: open (the merchant) and answered (the operator). */
export async function listDisputes(
  ctx: ServiceContext,
  statuses: readonly DisputeRow['status'][] = ['open', 'answered'],
  limit = 100,
): Promise<DisputeRow[]> {
  return ctx.storage.afterSale.disputesWithStatus(statuses, limit);
}

/** What the verification page shows of an item's latest dispute: the service's words only. */
export interface PageDispute {
  status: DisputeRow['status'];
  reason: DisputeReason;
  openedAt: string;
  respondBy: string;
  decision: DisputeDecision | null;
  decidedAt: string | null;
}

/** The record's latest dispute for the page, or null when it never had one. */
export async function disputeForPage(ctx: ServiceContext, recordId: string): Promise<PageDispute | null> {
  const d = (await ctx.storage.afterSale.disputesOf(recordId)).at(-1);
  if (!d) return null;
  return {
    status: d.status,
    reason: d.reason,
    openedAt: d.opened_at,
    respondBy: d.deadline_at,
    decision: d.decision,
    decidedAt: d.decided_at,
  };
}
