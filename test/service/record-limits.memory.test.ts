/**
 * Bounded records on the memory store (issue 13, attack 5): a record takes at most
 * MAX_EVENTS_PER_RECORD events and each event's data at most MAX_EVENT_DATA_BYTES as canonical JSON,
 * refused with nothing written; a verdict reads the issuance and the record's state only; the page
 * reads one page of the lifecycle, newest first.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Logger } from 'pino';
import { canonicalJson, type Hex } from '../../src/core/index.ts';
import type { AnchorChain } from '../../src/chain/registry.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { lifecyclePage } from '../../src/service/records.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { verdictFor } from '../../src/service/verdicts.ts';
import { outcome } from '../helpers/outcome.ts';
import { memoryService, verifiedMerchant } from '../helpers/memory-context.ts';
import { recordBody } from '../helpers/records.ts';

async function oneRecord(limits: { maxEvents: number; maxEventDataBytes: number }) {
  const service = memoryService();
  service.ctx.recordLimits = limits;
  const { merchant } = await verifiedMerchant(service.ctx);
  const id = (await registerRecords(service.ctx, merchant, [recordBody('bounded')])).records[0]!.id;
  return { ...service, merchant, id };
}

describe('bounded records on the memory store', () => {
  it('a record holds at most MAX_EVENTS_PER_RECORD events, its issuance included; then 409 and nothing written', async () => {
    const { ctx, storage, merchant, id } = await oneRecord({ maxEvents: 4, maxEventDataBytes: 2048 });
    for (let i = 0; i < 3; i++) await appendEvent(ctx, merchant, id, 'transferred', { to: `t-${i}` });
    const before = await storage.events.ofRecord(id);
    expect(before).toHaveLength(4);
    expect(await outcome(appendEvent(ctx, merchant, id, 'transferred', undefined))).toBe(
      '409 record_event_limit',
    );
    // An event that would end the record is refused the same way: the limit comes before the lifecycle.
    expect(await outcome(appendEvent(ctx, merchant, id, 'revoked', undefined))).toBe(
      '409 record_event_limit',
    );
    expect(await storage.events.ofRecord(id)).toEqual(before);
    expect((await storage.records.get(id))!.head_seq).toBe(3);
  });

  it('event data over MAX_EVENT_DATA_BYTES as canonical UTF-8 JSON: 413, nothing written; at the limit it is kept', async () => {
    const { ctx, storage, merchant, id } = await oneRecord({ maxEvents: 10, maxEventDataBytes: 64 });
    // {"note":"…"} is 11 bytes of JSON around the text; 张 is 3 bytes of UTF-8.
    const atLimit = { note: '张'.repeat(17) + 'x'.repeat(2) };
    expect(Buffer.byteLength(canonicalJson(atLimit))).toBe(64);
    const over = { note: '张'.repeat(18) };
    expect(Buffer.byteLength(canonicalJson(over))).toBe(65);
    expect(await outcome(appendEvent(ctx, merchant, id, 'transferred', over))).toBe(
      '413 event_data_too_large',
    );
    expect(await storage.events.ofRecord(id)).toHaveLength(1);
    expect(await outcome(appendEvent(ctx, merchant, id, 'transferred', atLimit))).toBe('ok');
    expect(await storage.events.ofRecord(id)).toHaveLength(2);
  });

  it("a verdict reads the record's issuance alone, never its whole lifecycle", async () => {
    const { ctx, storage, merchant, id } = await oneRecord({ maxEvents: 50, maxEventDataBytes: 2048 });
    for (let i = 0; i < 30; i++) await appendEvent(ctx, merchant, id, 'transferred', { to: `t-${i}` });
    const whole = vi.spyOn(storage.events, 'ofRecord');
    const range = vi.spyOn(storage.events, 'ofRecordRange');
    const chain = { rootOf: async () => `0x${'00'.repeat(32)}` as Hex } as unknown as AnchorChain;
    const log = { error: () => {} } as unknown as Logger;
    const verdict = await verdictFor(ctx, chain, log, id, { scan: null });
    expect(verdict).toMatchObject({ verdict: 'pending', issuance: { seq: 0, type: 'issued' } });
    expect(whole).not.toHaveBeenCalled();
    expect(range.mock.calls).toEqual([[id, 0, 0]]);
  });

  it('the lifecycle a page at a time, newest first; null past the last page', async () => {
    const { ctx, storage, merchant, id } = await oneRecord({ maxEvents: 50, maxEventDataBytes: 2048 });
    for (let i = 0; i < 24; i++) await appendEvent(ctx, merchant, id, 'transferred', { to: `t-${i}` });
    const record = (await storage.records.get(id))!;
    const seqs = async (page: number) => {
      const shown = await lifecyclePage(ctx, record, page, 10);
      return shown && { ...shown, events: shown.events.map((e) => e.seq) };
    };
    expect(await seqs(1)).toEqual({
      page: 1,
      pages: 3,
      total: 25,
      events: [24, 23, 22, 21, 20, 19, 18, 17, 16, 15],
    });
    expect(await seqs(3)).toEqual({ page: 3, pages: 3, total: 25, events: [4, 3, 2, 1, 0] });
    expect(await seqs(4)).toBeNull();
    expect(await seqs(0)).toBeNull();
  });
});
