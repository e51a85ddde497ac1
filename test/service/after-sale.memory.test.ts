/**
 * Sealed delivery and disputes (src/service/after-sale) on the memory store, with a test clock: one
 * first reveal, secrets deleted at expiry, possession required, one open dispute per item, answers
 * before the deadline, the operator's decision with refund and strike, the deadline decided by the
 * sweep, and the webhooks each step enqueues.
 */
import { describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../src/service/context.ts';
import { strikeMerchant, type Merchant } from '../../src/service/merchants.ts';
import { AFTER_SALE_RESERVE, appendEvent, DISPUTE_COURSE } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { createEndpoint } from '../../src/service/webhooks/endpoints.ts';
import {
  answerDispute,
  decideDispute,
  disputeView,
  openDispute,
} from '../../src/service/after-sale/disputes.ts';
import { MAX_EVIDENCE_FILES } from '../../src/service/after-sale/evidence.ts';
import { reveal, revealStatus, sellSealed } from '../../src/service/after-sale/sealed-delivery.ts';
import { sweepAfterSale } from '../../src/service/after-sale/sweep.ts';
import type { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';

const HOUR = 3_600_000;
const SECRET = 'KEY-1234-ABCD';
export const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

/** A record sold with sealed delivery; the default item's key is SECRET, any other item's its own (one key, one sale). */
async function sealedSale(ctx: ServiceContext, merchant: Merchant, externalId = 'item') {
  const secret = externalId === 'item' ? SECRET : `${SECRET}-${externalId}`;
  const id = (await registerRecords(ctx, merchant, [recordBody(externalId, { secret })])).records[0]!.id;
  const sale = await sellSealed(ctx, merchant, id, secret);
  return { id, sale, token: sale.revealUrl.split('/r/')[1]! };
}

async function setup() {
  const svc = memoryService();
  const { merchant } = await verifiedMerchant(svc.ctx);
  // Every webhook is heard, so each step's enqueueing shows.
  await createEndpoint(
    svc.ctx,
    { allowPrivate: true },
    { merchantId: merchant.id },
    { url: 'http://127.0.0.1:9/hook' },
  );
  return { ...svc, merchant };
}

/** A sealed sale, and `open()`: its buyer opens a dispute (reason other) through the reveal link. */
async function disputableSale(description = 'x') {
  const svc = await setup();
  const { id, token } = await sealedSale(svc.ctx, svc.merchant);
  const open = () =>
    openDispute(svc.ctx, id, { reason: 'other', description, revealToken: token, files: [] });
  return { ...svc, id, token, open };
}

async function types(storage: MemoryStorage, id: string): Promise<string[]> {
  return (await storage.events.ofRecord(id)).map((e) => e.type);
}

async function webhookTypes(storage: MemoryStorage, merchant: Merchant): Promise<string[]> {
  const [endpoint] = await storage.webhooks.endpoints(merchant.id);
  const deliveries = await storage.webhooks.deliveries(endpoint!.id, null, 100);
  return deliveries.map((d) => d.type).reverse();
}

const dataOf = async (storage: MemoryStorage, id: string, seq: number) =>
  (JSON.parse((await storage.events.ofRecord(id))[seq]!.content) as { data: Record<string, unknown> }).data;

describe('sealed delivery', () => {
  it('keeps the secret sealed, reveals it with one first reveal, and deletes it at expiry', async () => {
    const { ctx, storage, clock, merchant } = await setup();
    const { id, sale, token } = await sealedSale(ctx, merchant);
    expect(sale.expiresAt).toBe(new Date(clock.ms + 72 * HOUR).toISOString());
    const stored = await storage.afterSale.sealedOf(id);
    expect(stored?.sealed_secret).toMatch(/^v1\./);
    expect(JSON.stringify(stored)).not.toContain(SECRET);
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(await revealStatus(ctx, token)).toMatchObject({ recordId: id, revealedAt: null, available: true });

    clock.advance(HOUR);
    const first = await reveal(ctx, token);
    expect(first).toMatchObject({
      secret: SECRET,
      first: true,
      revealedAt: new Date(clock.ms).toISOString(),
    });
    clock.advance(HOUR);
    const second = await reveal(ctx, token);
    expect(second).toMatchObject({ secret: SECRET, first: false, revealedAt: first.revealedAt, event: null });
    expect(await types(storage, id)).toEqual(['issued', 'sold', 'revealed']);
    expect(await dataOf(storage, id, 1)).toEqual({ delivery: 'sealed' });

    await expect(reveal(ctx, 'not-a-token')).rejects.toMatchObject({
      statusCode: 404,
      code: 'reveal_not_found',
    });
    clock.advance(70 * HOUR);
    await expect(reveal(ctx, token)).rejects.toMatchObject({ statusCode: 410, code: 'reveal_expired' });
    expect((await sweepAfterSale(ctx)).purged).toBe(1);
    expect((await storage.afterSale.sealedOf(id))?.sealed_secret).toBeNull();
    expect(await revealStatus(ctx, token)).toMatchObject({ available: false });
  });

  it('refuses a secret other than the registered one, and a second sealed sale', async () => {
    const { ctx, storage, merchant } = await setup();
    const id = (await registerRecords(ctx, merchant, [recordBody('x', { secret: SECRET })])).records[0]!.id;
    await expect(sellSealed(ctx, merchant, id, 'WRONG')).rejects.toMatchObject({ code: 'secret_mismatch' });
    await expect(sellSealed(ctx, merchant, id, '  ')).rejects.toMatchObject({ code: 'secret_empty' });
    expect(await types(storage, id)).toEqual(['issued']);
    await sellSealed(ctx, merchant, id, SECRET);
    await expect(sellSealed(ctx, merchant, id, SECRET)).rejects.toMatchObject({
      code: 'lifecycle_violation',
    });
  });
});

describe('disputes', () => {
  it('requires possession: the secret within its guess budget, or the reveal link', async () => {
    const { ctx, storage, merchant } = await setup();
    const { id, token } = await sealedSale(ctx, merchant);
    const base: { reason: string; description: string; files: Array<{ bytes: Uint8Array }> } = {
      reason: 'already_used',
      description: 'used before I got it',
      files: [],
    };
    await expect(openDispute(ctx, id, base)).rejects.toMatchObject({
      statusCode: 403,
      code: 'possession_required',
    });
    await expect(openDispute(ctx, id, { ...base, secret: 'WRONG' })).rejects.toMatchObject({
      code: 'possession_required',
    });
    await expect(openDispute(ctx, id, { ...base, revealToken: 'bad' })).rejects.toMatchObject({
      code: 'possession_required',
    });
    for (let i = 0; i < 4; i++) await openDispute(ctx, id, { ...base, secret: 'WRONG' }).catch(() => {});
    await expect(openDispute(ctx, id, { ...base, secret: SECRET })).rejects.toMatchObject({
      statusCode: 429,
      code: 'secret_attempts_exhausted',
    });
    expect(await types(storage, id)).toEqual(['issued', 'sold']);
    const view = await openDispute(ctx, id, { ...base, revealToken: token, files: [{ bytes: PNG }] });
    expect(view).toMatchObject({ status: 'open', reason: 'already_used', activatedBeforeReveal: false });
  });

  it('refuses bad input and a second open dispute, writing nothing', async () => {
    const { ctx, storage, merchant } = await setup();
    const { id, token } = await sealedSale(ctx, merchant);
    const ok = { reason: 'other', description: 'broken', revealToken: token, files: [] };
    const refusals: Array<[Partial<Parameters<typeof openDispute>[2]>, string]> = [
      [{ reason: 'because' }, 'invalid_reason'],
      [{ description: 'mail me at a@b.example' }, 'personal_data'],
      [{ description: 'x\u202ey' }, 'unsafe_text'],
      [{ description: 'x'.repeat(2001) }, 'text_too_long'],
      [{ files: [{ bytes: new TextEncoder().encode('<html>') }] }, 'unsupported_file'],
      [{ files: Array.from({ length: MAX_EVIDENCE_FILES + 1 }, () => ({ bytes: PNG })) }, 'too_many_files'],
    ];
    for (const [change, code] of refusals) {
      await expect(openDispute(ctx, id, { ...ok, ...change })).rejects.toMatchObject({ code });
    }
    expect(await types(storage, id)).toEqual(['issued', 'sold']);
    await openDispute(ctx, id, ok);
    await expect(openDispute(ctx, id, ok)).rejects.toMatchObject({
      code: 'lifecycle_violation',
      message: 'a dispute is already open on the record',
    });
    // While it is open the merchant cannot end the record around it.
    await expect(appendEvent(ctx, merchant, id, 'revoked', undefined)).rejects.toMatchObject({
      code: 'lifecycle_violation',
    });
  });

  it('contested, then decided by the operator for the buyer: refunded, struck, every step in the history', async () => {
    const { ctx, storage, merchant } = await setup();
    const { id, token } = await sealedSale(ctx, merchant);
    const opened = await openDispute(ctx, id, {
      reason: 'will_not_activate',
      description: 'activation server says used',
      revealToken: token,
      files: [{ bytes: PNG }],
    });
    const answered = await answerDispute(ctx, merchant, opened.id, {
      response: 'contest',
      answer: 'it was fine when sent',
      files: [{ bytes: new TextEncoder().encode('%PDF-1.4 log') }],
    });
    expect(answered).toMatchObject({ status: 'answered', response: 'contest' });
    expect(answered.files.map((f) => [f.position, f.side, f.contentType])).toEqual([
      [0, 'buyer', 'image/png'],
      [1, 'merchant', 'application/pdf'],
    ]);
    await expect(
      answerDispute(ctx, merchant, opened.id, { response: 'contest', files: [] }),
    ).rejects.toMatchObject({ code: 'dispute_not_open' });

    const decided = await decideDispute(ctx, opened.id, {
      decision: 'buyer',
      strike: true,
      note: 'log shows use',
    });
    expect(decided).toMatchObject({ status: 'decided', decision: 'buyer', decidedBy: 'operator' });
    await expect(
      decideDispute(ctx, opened.id, { decision: 'merchant', strike: false }),
    ).rejects.toMatchObject({
      code: 'dispute_decided',
    });
    expect(await types(storage, id)).toEqual([
      'issued',
      'sold',
      'dispute_opened',
      'dispute_answered',
      'dispute_decided',
      'refunded',
    ]);
    expect(await dataOf(storage, id, 2)).toMatchObject({
      dispute: opened.id,
      reason: 'will_not_activate',
      evidence_1: opened.files[0]!.sha256,
    });
    expect(await dataOf(storage, id, 3)).toMatchObject({
      response: 'contest',
      evidence_1: answered.files[1]!.sha256,
    });
    expect(await dataOf(storage, id, 4)).toEqual({
      dispute: opened.id,
      decision: 'buyer',
      by: 'operator',
      remedy: 'refund',
    });
    expect(await storage.merchants.strikes(merchant.id)).toHaveLength(1);
    // One clock tick for all three: the log orders them by id.
    expect((await webhookTypes(storage, merchant)).sort()).toEqual([
      'dispute.decided',
      'dispute.opened',
      'merchant.strike',
    ]);
  });

  it('the strike commits with the decision: a failed strike leaves the dispute undecided, nothing written', async () => {
    const { ctx, storage, merchant, id, open } = await disputableSale('x');
    const d = await open();
    storage.faults.failNext('merchants.addStrike', 'before-persist');
    await expect(decideDispute(ctx, d.id, { decision: 'buyer', strike: true })).rejects.toThrow(
      'injected storage failure',
    );
    expect(await types(storage, id)).toEqual(['issued', 'sold', 'dispute_opened']);
    expect((await disputeView(ctx, d.id)).status).toBe('open');
    expect(await storage.merchants.strikes(merchant.id)).toHaveLength(0);
    // Decided again, it goes through whole.
    await decideDispute(ctx, d.id, { decision: 'buyer', strike: true });
    expect(await storage.merchants.strikes(merchant.id)).toHaveLength(1);
    expect((await types(storage, id)).slice(-2)).toEqual(['dispute_decided', 'refunded']);
  });

  it('a strike on a merchant already suspended: the decision stands, no strike is added', async () => {
    const { ctx, storage, merchant, id, open } = await disputableSale('x');
    const d = await open();
    await strikeMerchant(ctx, merchant.id, 'first');
    await strikeMerchant(ctx, merchant.id, 'second');
    expect((await storage.merchants.get(merchant.id))?.status).toBe('suspended');
    expect(await decideDispute(ctx, d.id, { decision: 'buyer', strike: true })).toMatchObject({
      status: 'decided',
      decision: 'buyer',
    });
    expect(await storage.merchants.strikes(merchant.id)).toHaveLength(2);
    expect((await types(storage, id)).slice(-2)).toEqual(['dispute_decided', 'refunded']);
  });

  it('decided for the merchant: nothing refunded, the item takes events again', async () => {
    const { ctx, storage, merchant, id, token, open } = await disputableSale('meh');
    const d = await open();
    await answerDispute(ctx, merchant, d.id, { response: 'contest', files: [] });
    await decideDispute(ctx, d.id, { decision: 'merchant', strike: true });
    expect((await types(storage, id)).slice(-1)).toEqual(['dispute_decided']);
    expect(await storage.merchants.strikes(merchant.id)).toHaveLength(0);
    expect((await storage.records.get(id))?.dispute).toBe('none');
    await openDispute(ctx, id, { reason: 'other', description: 'again', revealToken: token, files: [] });
  });

  it('a merchant who fills the record to MAX_EVENTS_PER_RECORD cannot shut the buyer out of after-sales', async () => {
    const { ctx, storage, merchant, id, token, open } = await disputableSale();
    ctx.recordLimits = { ...ctx.recordLimits, maxEvents: 4 };
    // issued, sold, then the merchant's events up to the limit: its next one is refused.
    await appendEvent(ctx, merchant, id, 'transferred', { to: 'a' });
    await appendEvent(ctx, merchant, id, 'transferred', { to: 'b' });
    await expect(appendEvent(ctx, merchant, id, 'transferred', { to: 'c' })).rejects.toMatchObject({
      statusCode: 409,
      code: 'record_event_limit',
    });
    // The buyer's reveal, a dispute, its answer and the refund still go in, past the limit.
    await reveal(ctx, token);
    const d = await open();
    await answerDispute(ctx, merchant, d.id, { response: 'contest', files: [] });
    await decideDispute(ctx, d.id, { decision: 'buyer', strike: false });
    expect((await types(storage, id)).slice(4)).toEqual([
      'revealed',
      'dispute_opened',
      'dispute_answered',
      'dispute_decided',
      'refunded',
    ]);
    expect((await storage.records.get(id))?.state).toBe('refunded');
  });

  it('after-sale steps stop AFTER_SALE_RESERVE events past the limit; a dispute opens only with room to finish', async () => {
    const { ctx, storage, id, open } = await disputableSale();
    ctx.recordLimits = { ...ctx.recordLimits, maxEvents: 2 };
    // Disputes decided for the merchant, one after another, until the reserve is spent.
    let cycles = 0;
    for (;;) {
      const opened = await open().catch((err: { code?: string }) => err);
      if (!('id' in opened)) {
        expect(opened.code).toBe('record_event_limit');
        break;
      }
      await decideDispute(ctx, opened.id, { decision: 'merchant', strike: false });
      cycles++;
    }
    // A dispute opens only with room for its whole course and the reveal still to come: each of
    // these took two events of it.
    const held = (await storage.events.ofRecord(id)).length;
    expect(held).toBe(2 + 2 * cycles);
    expect(held + DISPUTE_COURSE + 1).toBeGreaterThan(2 + AFTER_SALE_RESERVE);
    expect(cycles).toBe(6);
    await expect(open()).rejects.toMatchObject({ code: 'record_event_limit' });
    expect(await storage.events.ofRecord(id)).toHaveLength(held);
  });

  it('a dispute opened near the end of the reserve still takes the reveal, the answer, the decision and the refund', async () => {
    const { ctx, storage, merchant, id, token, open } = await disputableSale();
    ctx.recordLimits = { ...ctx.recordLimits, maxEvents: 2 };
    for (let i = 0; i < 5; i++) {
      await decideDispute(ctx, (await open()).id, { decision: 'merchant', strike: false });
    }
    const limit = 2 + AFTER_SALE_RESERVE;
    expect((await storage.events.ofRecord(id)).length + DISPUTE_COURSE + 1).toBe(limit - 1);
    const d = await open();
    await reveal(ctx, token);
    await answerDispute(ctx, merchant, d.id, { response: 'contest', files: [] });
    await decideDispute(ctx, d.id, { decision: 'buyer', strike: false });
    expect((await types(storage, id)).slice(-5)).toEqual([
      'dispute_opened',
      'revealed',
      'dispute_answered',
      'dispute_decided',
      'refunded',
    ]);
    expect((await storage.events.ofRecord(id)).length).toBeLessThanOrEqual(limit);
  });

  it('accept_refund and replace close the dispute for the buyer at once', async () => {
    const { ctx, storage, merchant } = await setup();
    const a = await sealedSale(ctx, merchant, 'a');
    const b = await sealedSale(ctx, merchant, 'b');
    const da = await openDispute(ctx, a.id, {
      reason: 'other',
      description: 'x',
      revealToken: a.token,
      files: [],
    });
    const db = await openDispute(ctx, b.id, {
      reason: 'other',
      description: 'x',
      revealToken: b.token,
      files: [],
    });
    expect(await answerDispute(ctx, merchant, da.id, { response: 'accept_refund', files: [] })).toMatchObject(
      {
        decision: 'buyer',
        decidedBy: 'merchant',
      },
    );
    await answerDispute(ctx, merchant, db.id, { response: 'replace', files: [] });
    expect((await types(storage, a.id)).slice(-3)).toEqual([
      'dispute_answered',
      'dispute_decided',
      'refunded',
    ]);
    expect((await types(storage, b.id)).slice(-2)).toEqual(['dispute_answered', 'dispute_decided']);
    expect((await storage.records.get(b.id))?.state).toBe('active');
  });

  it('warns before the deadline, then decides an unanswered dispute for the buyer at it', async () => {
    const { ctx, storage, clock, merchant } = await setup();
    const { id, token } = await sealedSale(ctx, merchant);
    const d = await openDispute(ctx, id, {
      reason: 'revoked_after_sale',
      description: 'x',
      revealToken: token,
      files: [],
    });
    expect(d.respondBy).toBe(new Date(clock.ms + 24 * HOUR).toISOString());
    expect(await sweepAfterSale(ctx)).toEqual({ warned: 0, decided: 0, purged: 0 });
    clock.advance(22 * HOUR);
    expect(await sweepAfterSale(ctx)).toMatchObject({ warned: 1, decided: 0 });
    expect(await sweepAfterSale(ctx)).toMatchObject({ warned: 0, decided: 0 });
    clock.advance(2 * HOUR);
    await expect(
      answerDispute(ctx, merchant, d.id, { response: 'contest', files: [] }),
    ).rejects.toMatchObject({
      code: 'dispute_deadline_passed',
    });
    expect(await sweepAfterSale(ctx)).toMatchObject({ decided: 1 });
    expect(await disputeView(ctx, d.id)).toMatchObject({ decision: 'buyer', decidedBy: 'deadline' });
    expect((await types(storage, id)).slice(-2)).toEqual(['dispute_decided', 'refunded']);
    expect(await webhookTypes(storage, merchant)).toEqual([
      'dispute.opened',
      'dispute.deadline_approaching',
      'dispute.decided',
    ]);
  });

  it('flags an activation reported before the buyer revealed the key', async () => {
    const { ctx, merchant } = await setup();
    const early = await sealedSale(ctx, merchant, 'early');
    await appendEvent(ctx, merchant, early.id, 'activated', undefined);
    await reveal(ctx, early.token);
    const late = await sealedSale(ctx, merchant, 'late');
    await reveal(ctx, late.token);
    await appendEvent(ctx, merchant, late.id, 'activated', undefined);
    const open = (s: typeof early) =>
      openDispute(ctx, s.id, { reason: 'already_used', description: 'x', revealToken: s.token, files: [] });
    expect((await open(early)).activatedBeforeReveal).toBe(true);
    expect((await open(late)).activatedBeforeReveal).toBe(false);
  });
});
