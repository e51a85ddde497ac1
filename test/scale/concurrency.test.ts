/**
 * Two instances on one PostgreSQL database and one chain, hit at once: the database's constraints,
 * not any in-process state, decide every race.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import {
  checkAnchoredExactlyOnce,
  clusterEnv,
  newAcknowledged,
  noteEvent,
  noteRegistration,
  startSharedChain,
  type SharedChain,
} from './cluster.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('two instances, one PostgreSQL database: concurrent requests', () => {
  let skip: string | null = null;
  let database: TestDatabase | undefined;
  let chain: SharedChain | undefined;
  let contract = '';
  let a: Harness | undefined;
  let b: Harness | undefined;
  const ack = newAcknowledged();

  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    database = await createTestDatabase('postgres');
    chain = await startSharedChain();
    contract = await chain.deploy();
    const env = clusterEnv(chain.url, contract);
    [a, b] = await Promise.all([startHarness({ database, env }), startHarness({ database, env })]);
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await chain?.close();
    await database?.drop();
  });

  const both = () => [a!, b!];

  it('the same externalIds registered at once through both instances exist once, with one id each', async (t) => {
    if (skip) return t.skip(skip);
    const { apiKey } = await a!.verifiedMerchant();
    const externalIds = Array.from({ length: 400 }, (_, i) => `dup-${i}`);
    // 24 requests of 120 overlapping ids each, in different orders, alternating between instances.
    const requests = Array.from({ length: 24 }, (_, r) => {
      const start = (r * 47) % externalIds.length;
      const ids = Array.from({ length: 120 }, (_, k) => externalIds[(start + k) % externalIds.length]!);
      return { via: both()[r % 2]!, ids: shuffled(ids, r + 1) };
    });
    const responses = await Promise.all(
      requests.map(({ via, ids }) =>
        via.call('POST', '/v1/records', {
          token: apiKey,
          body: { records: ids.map((id) => recordBody(id)) },
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    for (const res of responses) expect([200, 201], res.body).toContain(res.statusCode);
    expect(statuses).toContain(201);

    const idsByExternal = new Map<string, Set<string>>();
    for (const res of responses) {
      for (const rec of res.json().records as { id: string; externalId: string }[]) {
        const set = idsByExternal.get(rec.externalId) ?? new Set();
        set.add(rec.id);
        idsByExternal.set(rec.externalId, set);
      }
      noteRegistration(ack, res);
    }
    const covered = new Set(requests.flatMap((r) => r.ids));
    expect(idsByExternal.size).toBe(covered.size);
    for (const [externalId, ids] of idsByExternal) expect([externalId, ids.size]).toEqual([externalId, 1]);

    const db = a!.runtime.storage.db;
    const rows = await db
      .selectFrom('records')
      .select(['id', 'external_id'])
      .where('external_id', 'like', 'dup-%')
      .execute();
    expect(rows).toHaveLength(covered.size);
    for (const row of rows) expect(idsByExternal.get(row.external_id)).toEqual(new Set([row.id]));
    // Exactly one issuance event per record, nothing else.
    const events = await db
      .selectFrom('events')
      .innerJoin('records', 'records.id', 'events.record_id')
      .select(['events.record_id', 'events.seq'])
      .where('records.external_id', 'like', 'dup-%')
      .execute();
    expect(events).toHaveLength(covered.size);
    expect(events.every((e) => e.seq === 0)).toBe(true);
  });

  it('a conflicting registration racing the original: one 201, one 409, the loser writes nothing', async (t) => {
    if (skip) return t.skip(skip);
    const { apiKey } = await b!.verifiedMerchant('Race Merchant');
    const db = a!.runtime.storage.db;
    for (let round = 0; round < 12; round++) {
      const shared = `race-${round}`;
      const mine = (side: string) => [1, 2, 3].map((k) => recordBody(`race-${round}-${side}-${k}`));
      // The same externalId with different content: another serial, or a secret the other lacks.
      const base = { ...recordBody(shared), secret: undefined };
      const [sharedX, sharedY] =
        round % 2 === 0
          ? [
              { ...base, serial: `X-${round}` },
              { ...base, serial: `Y-${round}` },
            ]
          : [base, { ...base, secret: `PIN-${round}` }];
      const bodyX = { records: [...mine('x'), sharedX] };
      const bodyY = { records: [sharedY, ...mine('y')] };
      const [x, y] = await Promise.all([
        a!.call('POST', '/v1/records', { token: apiKey, body: bodyX }),
        b!.call('POST', '/v1/records', { token: apiKey, body: bodyY }),
      ]);
      expect([x.statusCode, y.statusCode].sort(), `${x.body} ${y.body}`).toEqual([201, 409]);
      const [winner, loser, winBody, loseBody] =
        x.statusCode === 201 ? [x, y, bodyX, bodyY] : [y, x, bodyY, bodyX];
      expect(loser.json().code).toBe('external_id_conflict');
      noteRegistration(ack, winner);

      const stored = await db
        .selectFrom('records')
        .select(['external_id', 'serial', 'id', 'secret_commitment'])
        .where('external_id', 'like', `race-${round}%`)
        .orderBy('external_id')
        .execute();
      // Only the winner's four records; the shared one carries the winner's content.
      expect(stored.map((r) => r.external_id).sort()).toEqual(
        winBody.records.map((r) => r.externalId).sort(),
      );
      const winShared = winBody.records.find((r) => r.externalId === shared)!;
      const storedShared = stored.find((r) => r.external_id === shared)!;
      expect(storedShared.serial).toBe(winShared.serial);
      expect(storedShared.secret_commitment !== null).toBe(winShared.secret !== undefined);
      for (const r of loseBody.records.filter((r) => r.externalId !== shared)) {
        expect(stored.some((s) => s.external_id === r.externalId)).toBe(false);
      }
      const orphanEvents = await db
        .selectFrom('events')
        .select('record_id')
        .where('record_id', 'not in', db.selectFrom('records').select('id'))
        .execute();
      expect(orphanEvents).toEqual([]);
      // The loser sent again, alone, is still a 409; the winner replayed through the other instance
      // answers 200 with the same ids.
      const again = await (winner === x ? a! : b!).call('POST', '/v1/records', {
        token: apiKey,
        body: loseBody,
      });
      expect(again.statusCode, again.body).toBe(409);
      const replay = await (winner === x ? b! : a!).call('POST', '/v1/records', {
        token: apiKey,
        body: winBody,
      });
      expect(replay.statusCode).toBe(200);
      expect(replay.json().records.map((r: { id: string }) => r.id)).toEqual(
        winner.json().records.map((r: { id: string }) => r.id),
      );
    }
  });

  it('concurrent lifecycle events on one record: seqs unique and gapless, losers get 409', async (t) => {
    if (skip) return t.skip(skip);
    const { apiKey } = await a!.verifiedMerchant('Event Merchant');
    const reg = await a!.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [recordBody('ev-1'), recordBody('ev-2')] },
    });
    expect(reg.statusCode).toBe(201);
    noteRegistration(ack, reg);
    const [rec1, rec2] = reg.json().records.map((r: { id: string }) => r.id) as [string, string];
    const db = a!.runtime.storage.db;

    // Many transfers at once, through both instances: every one either takes the next seq or is a 409.
    const accepted: number[] = [];
    let conflicts = 0;
    for (let round = 0; round < 6; round++) {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          both()[i % 2]!.call('POST', `/v1/records/${rec1}/events`, {
            token: apiKey,
            body: { type: 'transferred', data: { to: `owner-${round}-${i}` } },
          }),
        ),
      );
      for (const res of results) {
        if (res.statusCode === 201) {
          accepted.push(res.json().seq);
          noteEvent(ack, rec1, res.json().seq);
        } else {
          expect(res.statusCode, res.body).toBe(409);
          expect(res.body).toContain('concurrent_event');
          conflicts++;
        }
      }
    }
    expect(accepted.length).toBeGreaterThan(5);
    expect(new Set(accepted).size).toBe(accepted.length);
    expect([...accepted].sort((x, y) => x - y)).toEqual(accepted.map((_, i) => i + 1));
    const chainRows = await db
      .selectFrom('events')
      .select(['seq', 'leaf', 'prev_leaf'])
      .where('record_id', '=', rec1)
      .orderBy('seq')
      .execute();
    expect(chainRows.map((r) => r.seq)).toEqual(Array.from({ length: accepted.length + 1 }, (_, i) => i));
    for (let i = 1; i < chainRows.length; i++) expect(chainRows[i]!.prev_leaf).toBe(chainRows[i - 1]!.leaf);
    const head = await db
      .selectFrom('records')
      .select('head_seq')
      .where('id', '=', rec1)
      .executeTakeFirstOrThrow();
    expect(head.head_seq).toBe(accepted.length);
    console.log(`lifecycle race: ${accepted.length} accepted, ${conflicts} answered 409`);

    // A record may be sold once: racing "sold" through both instances, exactly one 201.
    const sold = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        both()[i % 2]!.call('POST', `/v1/records/${rec2}/events`, { token: apiKey, body: { type: 'sold' } }),
      ),
    );
    const soldOk = sold.filter((r) => r.statusCode === 201);
    expect(soldOk).toHaveLength(1);
    for (const r of sold) if (r.statusCode !== 201) expect(r.statusCode, r.body).toBe(409);
    noteEvent(ack, rec2, soldOk[0]!.json().seq);
    const rec2Events = await db.selectFrom('events').select('type').where('record_id', '=', rec2).execute();
    expect(rec2Events.map((e) => e.type).sort()).toEqual(['issued', 'sold']);
  });

  it('concurrent strikes: numbers 1 and 2, the merchant suspended once', async (t) => {
    if (skip) return t.skip(skip);
    const db = a!.runtime.storage.db;
    for (let round = 0; round < 10; round++) {
      const { id, apiKey } = await a!.verifiedMerchant(`Strike Merchant ${round}`);
      // Operators on both instances strike at the same moment; a 409 concurrent_strike asks to retry.
      const strike = async (via: Harness, reason: string): Promise<LightMyRequestResponse> => {
        for (;;) {
          const res = await via.admin('POST', `/v1/merchants/${id}/strikes`, { reason });
          if (res.statusCode === 409 && res.json().code === 'concurrent_strike') continue;
          return res;
        }
      };
      const results = await Promise.all([a!, b!, a!, b!].map((h, i) => strike(h, `report ${i}`)));
      const ok = results.filter((r) => r.statusCode === 200);
      expect(ok, results.map((r) => r.body).join('\n')).toHaveLength(2);
      for (const res of results.filter((r) => r.statusCode !== 200)) {
        expect([res.statusCode, res.json().code]).toEqual([409, 'merchant_suspended']);
      }
      const strikes = await db
        .selectFrom('merchant_strikes')
        .select(['number', 'created_at'])
        .where('merchant_id', '=', id)
        .orderBy('number')
        .execute();
      expect(strikes.map((s) => s.number)).toEqual([1, 2]);
      const merchant = await db
        .selectFrom('merchants')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(merchant.status).toBe('suspended');
      expect(merchant.suspended_at).toBe(strikes[1]!.created_at);
      // Suspended once: its keys were revoked with the second strike and work on neither instance.
      for (const h of both()) {
        const res = await h.call('POST', '/v1/records', {
          token: apiKey,
          body: { records: [recordBody('x')] },
        });
        expect([401, 403]).toContain(res.statusCode);
      }
    }
  });

  it('operators sealing on both instances at once: every event lands in exactly one batch', async (t) => {
    if (skip) return t.skip(skip);
    const { apiKey } = await a!.verifiedMerchant('Seal Merchant');
    const db = a!.runtime.storage.db;
    for (let round = 0; round < 4; round++) {
      const reg = await b!.call('POST', '/v1/records', {
        token: apiKey,
        body: { records: Array.from({ length: 200 }, (_, i) => recordBody(`seal-${round}-${i}`)) },
      });
      expect(reg.statusCode).toBe(201);
      noteRegistration(ack, reg);
      const seals = await Promise.all([a!, b!, a!, b!].map((h) => h.admin('POST', '/v1/admin/batches/seal')));
      // A seal that loses the race for a batch id tries the next one; none half-writes.
      for (const res of seals) expect(res.statusCode, res.body).toBe(200);
      const sealedIds = seals
        .filter((r) => r.statusCode === 200)
        .flatMap((r) => (r.json().batches as { id: number }[]).map((x) => x.id));
      expect(new Set(sealedIds).size).toBe(sealedIds.length);
    }
    const pending = await db.selectFrom('events').select('seq').where('batch_id', 'is', null).execute();
    expect(pending).toEqual([]);
    const batches = await db.selectFrom('batches').select(['id', 'leaf_count']).orderBy('id').execute();
    expect(batches.map((x) => x.id)).toEqual(batches.map((_, i) => i + 1));
    const counts = await db
      .selectFrom('events')
      .select(['batch_id', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('batch_id')
      .orderBy('batch_id')
      .execute();
    expect(counts.map((c) => [c.batch_id, Number(c.n)])).toEqual(batches.map((x) => [x.id, x.leaf_count]));
  });

  it('everything acknowledged above is anchored exactly once', async (t) => {
    if (skip) return t.skip(skip);
    // Either instance may be asked to seal; the leader anchors.
    await b!.sealAndWaitFinal(45_000);
    await checkAnchoredExactlyOnce(a!.runtime.storage.db, chain!.url, contract, ack);
    // One leader between them (polled: a leader that missed its renewal under load may have just
    // handed over, and the other learns it at its next tick).
    await waitFor(
      'exactly one leader',
      () => both().filter((h) => h.runtime.services.batcher.status.leader).length === 1,
    );
  });
});
