/**
 * Issue 13, attack 2, replayed: a copy of the database files gives away short PINs. Before, every
 * record stored its secret salt beside its commitment in files of mode 0644, so a 3-digit PIN came
 * back in 538 keccaks. Now a record's salt is derived from the server key (SECRET_KEY, never in the
 * database) and the salts older versions stored are sealed under it at start.
 *
 * The attacker here holds the SQLite files (main file, -wal and -shm), taken while the service runs
 * and again after it stopped, knows a record has a 4-digit PIN and its public commitment, and tries
 * all 10,000 PINs against every 32-byte value in the copy: every 64-digit hex string and every
 * 32-byte window of every base64 string in the raw bytes, and every 32-byte slice of every blob in
 * every row. It must find nothing, for a record registered now and for one an older version stored
 * with its salt in the clear. The control: with the server key, the same search finds both PINs.
 * What is not protected, shown too: a backup taken before the upgrade still gives the old PIN away.
 */
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createHmac } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalJson,
  hexToBytes,
  keccak256,
  secretCommitment,
  ZERO32,
  type Hex,
} from '../../src/core/index.ts';
import { leafOfJson } from '../../src/service/leaves.ts';
import { newApiKey, randomId, randomSalt } from '../../src/service/random.ts';
import { issuanceContent } from '../../src/service/registration.ts';
import { derivedSalt, saltOf } from '../../src/service/secrets.ts';
import { secretIndex } from '../../src/service/uniqueness.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { recordBody } from '../helpers/records.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';

const DB_FILES = ['proofmark.sqlite', 'proofmark.sqlite-wal', 'proofmark.sqlite-shm'];
const PINS = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0'));
const PIN_BYTES = PINS.map((pin) => Buffer.from(pin));
const fourDigits = () => String(Math.floor(Math.random() * 10_000)).padStart(4, '0');

/** The database files as they are now, copied to a directory of their own. */
function copyDatabase(dataDir: string, moment: string): { dir: string; moment: string } {
  const dir = mkdtempSync(join(tmpdir(), 'proofmark-abuse-copy-'));
  for (const file of readdirSync(dataDir).filter((f) => DB_FILES.includes(f))) {
    cpSync(join(dataDir, file), join(dir, file));
  }
  return { dir, moment };
}

/** Every 32-byte value the copy holds, as the attacker would try them as salts. */
function saltsIn(copy: { dir: string }): Buffer[] {
  const found = new Map<string, Buffer>();
  const add = (bytes: Buffer) => found.set(bytes.toString('hex'), bytes);
  const files = readdirSync(copy.dir).map((f) => readFileSync(join(copy.dir, f)));
  for (const text of files.map((bytes) => bytes.toString('latin1'))) {
    for (const [, hex] of text.matchAll(/(?:0x)?([0-9a-fA-F]{64})/g)) add(Buffer.from(hex!, 'hex'));
    for (const [token] of text.matchAll(/[A-Za-z0-9+/_-]{43,}/g)) {
      for (const encoding of ['base64', 'base64url'] as const) {
        const bytes = Buffer.from(token, encoding);
        for (let i = 0; i + 32 <= bytes.length; i++) add(bytes.subarray(i, i + 32));
      }
    }
  }
  // Every value of every row, read as SQLite reads the copy (the WAL applied): blobs in 32-byte slices.
  const db = new Database(join(copy.dir, 'proofmark.sqlite'));
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{
      name: string;
    }>;
    for (const { name } of tables) {
      for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>) {
        for (const value of Object.values(row)) {
          if (Buffer.isBuffer(value)) {
            for (let i = 0; i + 32 <= value.length; i += 32) add(value.subarray(i, i + 32));
          }
        }
      }
    }
  } finally {
    db.close();
  }
  return [...found.values()];
}

/**
 * All 10,000 PINs under every salt, each hash compared with every commitment sought: the PIN found
 * for each commitment (null when none) and after how many hashes, and the work it took in all.
 */
function bruteForce(
  commitments: readonly Hex[],
  salts: readonly Buffer[],
): { pins: Array<string | null>; foundAfter: number[]; hashes: number; ms: number } {
  const started = performance.now();
  const targets = commitments.map((c) => Buffer.from(hexToBytes(c)));
  const pins: Array<string | null> = commitments.map(() => null);
  const foundAfter = commitments.map(() => 0);
  const data = Buffer.alloc(36);
  let hashes = 0;
  for (const salt of salts) {
    salt.copy(data, 0);
    for (let i = 0; i < PINS.length; i++) {
      PIN_BYTES[i]!.copy(data, 32);
      hashes++;
      const hash = keccak256(data);
      targets.forEach((target, t) => {
        if (pins[t] === null && target.equals(hash)) [pins[t], foundAfter[t]] = [PINS[i]!, hashes];
      });
    }
    if (pins.every((p) => p !== null)) break;
  }
  return { pins, foundAfter, hashes, ms: Math.round(performance.now() - started) };
}

/** ServerKey.mac's input: each part length-prefixed. */
function framed(...parts: string[]): Buffer {
  return Buffer.concat(
    parts.flatMap((p) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(Buffer.byteLength(p));
      return [length, Buffer.from(p)];
    }),
  );
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('a copy of the database files (issue 13, attack 2)', () => {
  let dataDir: string;
  let serve: ServeProcess | undefined;
  const copies: Array<{ dir: string; moment: string }> = [];
  const legacy = { id: randomId(), pin: fourDigits(), salt: randomSalt(), commitment: '' as Hex };
  const fresh = { id: '', pin: fourDigits(), commitment: '' as Hex };
  let oldBackup: { dir: string; moment: string };
  const modes: Record<string, string> = {};
  let keys: ServerKey;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofmark-abuse-db-'));
    // What an older version left: a merchant, its key, and a card whose salt is stored in the clear.
    const apiKey = newApiKey();
    const at = new Date().toISOString();
    const storage = await openStorage({ dataDir });
    try {
      await storage.merchants.insert({
        id: 'legacy-shop',
        name: 'Legacy Card Shop',
        name_key: null,
        contact_email: null,
        status: 'verified',
        created_at: at,
        verified_at: at,
        suspended_at: null,
      });
      await storage.merchants.insertKey({
        key_hash: apiKey.hash,
        merchant_id: 'legacy-shop',
        created_at: at,
        revoked_at: null,
      });
      legacy.commitment = secretCommitment(legacy.pin, legacy.salt);
      const input = recordBody('legacy-card', { kind: 'card' });
      const content = canonicalJson(
        issuanceContent('legacy-shop', input, legacy.commitment, at, randomSalt()),
      );
      await storage.records.insertMany([
        {
          id: legacy.id,
          merchant_id: 'legacy-shop',
          external_id: input.externalId,
          kind: 'card',
          sku: input.sku,
          product_name: input.productName,
          serial: input.serial,
          metadata: '{}',
          secret_salt: legacy.salt,
          secret_commitment: legacy.commitment,
          fingerprint: ZERO32,
          head_seq: 0,
          state: 'active',
          sold: 0,
          activated: 0,
          revealed: 0,
          dispute: 'none',
          created_at: at,
        },
      ]);
      await storage.events.insertMany([
        {
          record_id: legacy.id,
          seq: 0,
          type: 'issued',
          content,
          leaf: leafOfJson(legacy.id, 0, ZERO32, content),
          prev_leaf: ZERO32,
          created_at: at,
          batch_id: null,
          leaf_index: null,
        },
      ]);
    } finally {
      await storage.close();
    }
    oldBackup = copyDatabase(dataDir, 'a backup taken before the upgrade');
    // And the modes it left them with.
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'proofmark.sqlite'), 0o644);

    // The upgrade: no SECRET_KEY or ADMIN_TOKEN, so both are generated into DATA_DIR (development).
    serve = await spawnServe({ DATA_DIR: dataDir, DEV_CHAIN_PORT: '0', LOG_LEVEL: 'info' }, 'copied');
    const res = await serve.http<{ records: Array<{ id: string }> }>('POST', '/v1/records', apiKey.key, {
      records: [recordBody('fresh-card', { kind: 'card', secret: fresh.pin })],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    fresh.id = res.body.records[0]!.id;
    const proofs = await serve.http<{ bundles: Array<{ content: { secretCommitment: Hex } }> }>(
      'GET',
      `/v1/records/${fresh.id}/proofs`,
    );
    fresh.commitment = proofs.body.bundles[0]!.content.secretCommitment;

    for (const file of readdirSync(dataDir)) modes[file] = mode(join(dataDir, file));
    modes['DATA_DIR'] = mode(dataDir);
    copies.push(copyDatabase(dataDir, 'taken while the service runs'));
    await serve.stop();
    copies.push(copyDatabase(dataDir, 'taken after it stopped'));
    keys = ServerKey.fromBytes(Buffer.from(readFileSync(join(dataDir, 'secret-key'), 'utf8').trim(), 'hex'));
  }, 120_000);

  afterAll(async () => {
    await serve?.stop();
    for (const dir of [dataDir, oldBackup?.dir, ...copies.map((c) => c.dir)]) {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds its files 0600 in a 0700 directory, tightening what an older version left', () => {
    expect(modes).toMatchObject({
      DATA_DIR: '700',
      'proofmark.sqlite': '600',
      'proofmark.sqlite-wal': '600',
      'proofmark.sqlite-shm': '600',
      'secret-key': '600',
      'admin-token': '600',
    });
    console.log(`database copy: modes ${JSON.stringify(modes)}`);
  });

  it('sealed the salt an older version stored in the clear, and it is gone from every file', () => {
    expect(serve!.output.join('')).toContain('sealed secret salts stored in the clear by an older version');
    const plain = [Buffer.from(legacy.salt.slice(2)), Buffer.from(hexToBytes(legacy.salt))];
    for (const copy of copies) {
      for (const file of readdirSync(copy.dir)) {
        const bytes = readFileSync(join(copy.dir, file));
        for (const needle of plain) expect(bytes.includes(needle), `${file} ${copy.moment}`).toBe(false);
      }
    }
  });

  it('all 10,000 PINs against every 32-byte value in the copy: no PIN found without the server key', () => {
    // The copies share most values: one search over all of them, each hash checked against both cards.
    const perCopy = copies.map((copy) => ({ copy, salts: saltsIn(copy) }));
    const salts = [...new Map(perCopy.flatMap((c) => c.salts).map((b) => [b.toString('hex'), b])).values()];
    for (const { salts: own } of perCopy) expect(own.length).toBeGreaterThan(10); // leaves, roots, content salts
    const result = bruteForce([fresh.commitment, legacy.commitment], salts);
    console.log(
      `database copy (${copies.map((c) => c.moment).join('; ')}): ` +
        `${perCopy.map((c) => c.salts.length).join(' and ')} candidate salts (${salts.length} distinct) x 10,000 PINs = ` +
        `${result.hashes.toLocaleString('en')} keccaks in ${result.ms} ms: a card registered now: ` +
        `${result.pins[0] ?? 'PIN not found'}; a card an older version stored: ${result.pins[1] ?? 'PIN not found'} ` +
        `(time to recover a 4-digit PIN from a copy: not possible without the key)`,
    );
    expect(result.pins).toEqual([null, null]);
  }, 300_000);

  it('the control: with the server key the same search finds both PINs', () => {
    const copy = copies.at(-1)!;
    const db = new Database(join(copy.dir, 'proofmark.sqlite'), { readonly: true });
    const stored = db.prepare('SELECT id, secret_salt FROM records WHERE id = ?').get(legacy.id) as {
      id: string;
      secret_salt: string;
    };
    db.close();
    expect(stored.secret_salt).toMatch(/^v1\./);
    const withKey: Array<[string, { commitment: Hex; pin: string }, Hex]> = [
      ['a card registered now', fresh, derivedSalt(keys, fresh.id)],
      ['a card an older version stored', legacy, saltOf(keys, stored)],
    ];
    for (const [what, record, salt] of withKey) {
      const result = bruteForce([record.commitment], [Buffer.from(hexToBytes(salt))]);
      console.log(
        `database copy with the server key, ${what}: PIN found after ${result.foundAfter[0]!.toLocaleString('en')} keccaks (${result.ms} ms)`,
      );
      expect(result.pins).toEqual([record.pin]);
    }
  });

  it('what the upgrade cannot reach: a backup taken before it still gives the old PIN away', () => {
    const result = bruteForce([legacy.commitment], saltsIn(oldBackup));
    console.log(
      `database copy ${oldBackup.moment}: the old card's PIN found after ${result.foundAfter[0]!.toLocaleString('en')} keccaks (${result.ms} ms)`,
    );
    expect(result.pins).toEqual([legacy.pin]);
  });

  it('the blind index (one key, one sale) cannot be matched against a guessed 4-digit PIN without the server key', () => {
    const copy = copies.at(-1)!;
    const db = new Database(join(copy.dir, 'proofmark.sqlite'), { readonly: true });
    const rows = db
      .prepare(`SELECT key FROM unique_keys WHERE record_id = ? AND type = 'secret'`)
      .all(fresh.id) as Array<{ key: string }>;
    db.close();
    expect(rows).toHaveLength(1);
    const index = rows[0]!.key;
    // All 10,000 PINs under the unkeyed hashes a careless index would use; then, as the attacker's
    // best case, the right PIN itself under every 32-byte value in the copy, tried as the server key
    // and as the index's subkey: if not even the right PIN matches, no guess can.
    const started = performance.now();
    const candidates = saltsIn(copy);
    let tried = 0;
    let found: string | null = null;
    for (const pin of PINS) {
      const unkeyed = [
        createHash('sha256').update(pin).digest('hex'),
        createHash('sha256').update(framed('card', pin)).digest('hex'),
        createHmac('sha256', 'card').update(pin).digest('hex'),
        Buffer.from(keccak256(Buffer.from(pin))).toString('hex'),
      ];
      tried += unkeyed.length;
      if (unkeyed.some((guess) => index.includes(guess))) found = pin;
    }
    for (const candidate of candidates) {
      tried += 2;
      const viaMaster = secretIndex(ServerKey.fromBytes(candidate), 'card', fresh.pin);
      const viaSubkey = createHmac('sha256', candidate).update(framed('card', fresh.pin)).digest('hex');
      if (viaMaster === index || index.includes(viaSubkey)) found = fresh.pin;
    }
    const ms = Math.round(performance.now() - started);
    console.log(
      `database copy, blind index: 10,000 PINs unkeyed and the right PIN under ${candidates.length} candidate keys, ` +
        `${tried.toLocaleString('en')} index values in ${ms} ms: ${found ?? 'PIN not found'}`,
    );
    expect(found).toBeNull();
    // The control: with the server key, the index of the card's PIN is the stored value.
    expect(PINS.filter((pin) => secretIndex(keys, 'card', pin) === index)).toEqual([fresh.pin]);
  }, 300_000);
});
