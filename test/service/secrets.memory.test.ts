/**
 * The secret checks' rules on the memory store, with a clock the test moves: the per-record budget
 * (a right secret costs nothing, the last wrong one is logged once, an exhausted record answers no
 * secret until its window ends, a comparison that cannot run costs nothing), where a record's salt
 * comes from (derived, sealed, or stored in the clear by an older version), sealing stored salts at
 * start, and registration replays spending tries.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { secretCommitment, type Hex } from '../../src/core/index.ts';
import { createServiceContext } from '../../src/service/context.ts';
import type { Merchant } from '../../src/service/merchants.ts';
import { randomSalt } from '../../src/service/random.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { SecretAttemptsExhausted } from '../../src/service/secret-attempts.ts';
import { checkSecret, derivedSalt, saltOf, secretMatches } from '../../src/service/secrets.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { sealStoredSalts } from '../../src/service/stored-salts.ts';
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { merchantRow, recordRow } from '../storage/fixtures.ts';
import { recordBody } from '../helpers/records.ts';

const HOUR = 3_600_000;

function world(limit = 3) {
  const storage = new MemoryStorage();
  let nowMs = Date.parse('2026-01-01T00:00:00.000Z');
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  );
  const now = () => new Date(nowMs);
  const ctx = createServiceContext({
    storage,
    keys: ServerKey.fromBytes(Buffer.alloc(32, 3)),
    now,
    publicBaseUrl: 'http://proofmark.test',
    secretGuesses: { limit, windowMs: HOUR },
    log,
  });
  return {
    ctx,
    lines,
    storage,
    advance: (ms: number) => (nowMs += ms),
    async record(id: string, secret: string, salt: 'derived' | Hex = 'derived') {
      if (!(await storage.merchants.get('m1'))) await storage.merchants.insert(merchantRow('m1'));
      const commitment = secretCommitment(secret, salt === 'derived' ? derivedSalt(ctx.keys, id) : salt);
      await storage.records.insertMany([
        recordRow(id, 'm1', `ext-${id}`, {
          secret_salt: salt === 'derived' ? null : salt,
          secret_commitment: commitment,
        }),
      ]);
    },
  };
}

describe('the per-record budget of secret checks', () => {
  it('a right secret costs nothing; wrong ones count down to 0, then every check is 429', async () => {
    const w = world(3);
    await w.record('r1', 'PIN-1');
    for (let i = 0; i < 5; i++) {
      expect(await checkSecret(w.ctx, 'r1', 'PIN-1')).toMatchObject({ match: true, tries: { left: 3 } });
    }
    expect(await checkSecret(w.ctx, 'r1', 'PIN-2')).toMatchObject({ match: false, tries: { left: 2 } });
    expect(await checkSecret(w.ctx, 'r1', 'PIN-3')).toMatchObject({ match: false, tries: { left: 1 } });
    expect(await checkSecret(w.ctx, 'r1', 'PIN-4')).toEqual({
      match: false,
      tries: { left: 0, retryAfterSeconds: 3600, limit: 3, windowSeconds: 3600 },
    });
    w.advance(600_000);
    for (const guess of ['PIN-1', 'PIN-5']) {
      const refused = await checkSecret(w.ctx, 'r1', guess).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(SecretAttemptsExhausted);
      expect(refused).toMatchObject({
        statusCode: 429,
        code: 'secret_attempts_exhausted',
        retryAfterSeconds: 3000,
      });
    }
    expect(await w.ctx.secretAttempts.tries('r1')).toMatchObject({ left: 0, retryAfterSeconds: 3000 });
    expect(w.ctx.secretAttempts.counters).toEqual({ wrongGuesses: 3, refused: 2, exhausted: 1 });
    // Logged once, at warn, when the last try went.
    const warned = w.lines.filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ recordId: 'r1', wrongSecrets: 3, retryAfterSeconds: 3600 });

    // The window ends an hour after the first wrong secret: the tries are back.
    w.advance(3_000_000);
    expect(await w.ctx.secretAttempts.tries('r1')).toMatchObject({ left: 3, retryAfterSeconds: null });
    expect(await checkSecret(w.ctx, 'r1', 'PIN-1')).toMatchObject({ match: true, tries: { left: 3 } });
  });

  it('a blank secret is 400 secret_empty and spends nothing; a record without a secret spends nothing', async () => {
    const w = world(1);
    await w.record('r1', 'PIN-1');
    await w.storage.records.insertMany([recordRow('r2', 'm1', 'ext-r2')]);
    await expect(checkSecret(w.ctx, 'r1', ' \u3000\n')).rejects.toMatchObject({
      statusCode: 400,
      code: 'secret_empty',
    });
    for (let i = 0; i < 3; i++)
      expect(await checkSecret(w.ctx, 'r2', 'x')).toEqual({ match: false, tries: null });
    await expect(checkSecret(w.ctx, 'nope', 'x')).rejects.toMatchObject({ statusCode: 404 });
    expect(await w.storage.secretAttempts.get('r1')).toBeUndefined();
    expect(await w.storage.secretAttempts.get('r2')).toBeUndefined();
  });

  it('several records at once: one exhausted refuses all, and the others get their tries back', async () => {
    const w = world(1);
    await w.record('r1', 'A');
    await w.record('r2', 'B');
    await checkSecret(w.ctx, 'r2', 'wrong');
    await expect(w.ctx.secretAttempts.compare(['r1', 'r2'], () => true)).rejects.toBeInstanceOf(
      SecretAttemptsExhausted,
    );
    expect(await w.storage.secretAttempts.get('r1')).toBeUndefined();
    expect((await w.storage.secretAttempts.get('r2'))?.failures).toBe(1);
  });

  it('a comparison that cannot run (a sealed salt under another key) costs no try', async () => {
    const w = world(1);
    const sealedElsewhere = ServerKey.fromBytes(Buffer.alloc(32, 9)).seal(
      'stored-salt',
      Buffer.alloc(32),
      'r1',
    );
    await w.storage.merchants.insert(merchantRow('m1'));
    await w.storage.records.insertMany([
      recordRow('r1', 'm1', 'ext-r1', {
        secret_salt: sealedElsewhere,
        secret_commitment: `0x${'00'.repeat(32)}`,
      }),
    ]);
    await expect(checkSecret(w.ctx, 'r1', 'A')).rejects.toThrow();
    expect(await w.storage.secretAttempts.get('r1')).toBeUndefined();
  });

  it('racing checks compare at most the limit in a window', async () => {
    const w = world(3);
    await w.record('r1', 'PIN-1');
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => checkSecret(w.ctx, 'r1', `wrong-${i}`)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(17);
  });
});

describe('where a commitment salt comes from', () => {
  it('derived from the server key and the record id: one per record, none stored', async () => {
    const w = world();
    expect(derivedSalt(w.ctx.keys, 'r1')).toMatch(/^0x[0-9a-f]{64}$/);
    expect(derivedSalt(w.ctx.keys, 'r1')).toBe(derivedSalt(w.ctx.keys, 'r1'));
    expect(derivedSalt(w.ctx.keys, 'r1')).not.toBe(derivedSalt(w.ctx.keys, 'r2'));
    expect(derivedSalt(ServerKey.fromBytes(Buffer.alloc(32, 4)), 'r1')).not.toBe(
      derivedSalt(w.ctx.keys, 'r1'),
    );
    expect(saltOf(w.ctx.keys, { id: 'r1', secret_salt: null })).toBe(derivedSalt(w.ctx.keys, 'r1'));
  });

  it('salts older versions stored in the clear are sealed at start, bound to their record, and still check', async () => {
    const w = world();
    const salts = Array.from({ length: 1203 }, () => randomSalt());
    await w.storage.merchants.insert(merchantRow('m1'));
    await w.storage.records.insertMany(
      salts.map((salt, i) =>
        recordRow(`r${String(i).padStart(5, '0')}`, 'm1', `ext-${i}`, {
          secret_salt: salt,
          secret_commitment: secretCommitment(`PIN-${i}`, salt),
        }),
      ),
    );
    // Before sealing, a plain salt still checks (an older instance may be running beside this one).
    expect(secretMatches(w.ctx.keys, (await w.storage.records.get('r00007'))!, 'PIN-7')).toBe(true);

    expect(await sealStoredSalts(w.ctx)).toBe(1203);
    expect(await w.storage.records.plainSalts('', 10)).toEqual([]);
    for (const i of [0, 500, 1202]) {
      const record = (await w.storage.records.get(`r${String(i).padStart(5, '0')}`))!;
      expect(record.secret_salt).toMatch(/^v1\./);
      expect(record.secret_salt).not.toContain(salts[i]!.slice(2));
      expect(saltOf(w.ctx.keys, record)).toBe(salts[i]);
      expect(secretMatches(w.ctx.keys, record, `PIN-${i}`)).toBe(true);
      // Moved to another record, a sealed salt does not open.
      expect(() => saltOf(w.ctx.keys, { ...record, id: 'r00001' })).toThrow();
    }
    expect(await sealStoredSalts(w.ctx)).toBe(0);
  });
});

describe('registration replays', () => {
  const merchant = { id: 'm1' } as Merchant;

  it('a right secret replays for free; a changed one is 409 and spends a try; past the budget, 429', async () => {
    const w = world(2);
    await w.storage.merchants.insert(merchantRow('m1'));
    const input = recordBody('card-1', { kind: 'card', secret: 'PIN-1' });
    const [first] = (await registerRecords(w.ctx, merchant, [input])).records;
    expect((await registerRecords(w.ctx, merchant, [{ ...input, secret: ' PIN-1 ' }])).created).toBe(0);
    expect(await w.storage.secretAttempts.get(first!.id)).toBeUndefined();

    for (const wrong of ['PIN-2', 'PIN-3']) {
      await expect(registerRecords(w.ctx, merchant, [{ ...input, secret: wrong }])).rejects.toMatchObject({
        statusCode: 409,
        code: 'external_id_conflict',
      });
    }
    for (const secret of ['PIN-4', 'PIN-1']) {
      await expect(
        registerRecords(w.ctx, merchant, [recordBody('card-2'), { ...input, secret }]),
      ).rejects.toMatchObject({ statusCode: 429, code: 'secret_attempts_exhausted' });
    }
    // Nothing of the refused requests was written.
    expect(await w.storage.records.byExternalIds('m1', ['card-2'])).toEqual([]);
    await expect(registerRecords(w.ctx, merchant, [{ ...input, secret: '   ' }])).rejects.toMatchObject({
      code: 'secret_empty',
    });
  });

  it('new records get a derived salt: nothing stored, the commitment checks', async () => {
    const w = world();
    await w.storage.merchants.insert(merchantRow('m1'));
    const [r] = (await registerRecords(w.ctx, merchant, [recordBody('card-1', { secret: 'K3Y' })])).records;
    const row = (await w.storage.records.get(r!.id))!;
    expect(row.secret_salt).toBeNull();
    expect(row.secret_commitment).toBe(secretCommitment('K3Y', derivedSalt(w.ctx.keys, r!.id)));
  });
});
