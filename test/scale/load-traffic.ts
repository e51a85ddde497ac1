/**
 * The traffic of the load test (load.test.ts): workers, each one merchant's client over real HTTP
 * (keep-alive), mixing registrations (new, partly replayed, wholly replayed, conflicting, malformed),
 * lifecycle events (valid and deliberately impossible, and on another merchant's record), proof
 * lookups and verdicts (API and page). Each worker owns the records it registers and is sequential,
 * so it knows every record's exact state and therefore the exact answer each request must get.
 * Anything else (a 5xx, a network error, an unexpected status or body) is written down as a failure.
 * What was acknowledged, refused and scanned is tallied for the reconciliation afterwards.
 */
import { ApiClient } from '../../src/client/client.ts';
import { verifyBundle } from '../../src/core/index.ts';
import { mixedFields, recordBody, type RecordBody } from '../helpers/records.ts';
import { newAcknowledged, noteEvent, noteRegistration, type Acknowledged } from './cluster.ts';

export interface LoadMerchant {
  id: string;
  apiKey: string;
}

type RecordState = 'active' | 'revoked' | 'refunded';
const EVENT_TYPES = ['sold', 'activated', 'transferred', 'revoked', 'refunded'] as const;
type EventType = (typeof EVENT_TYPES)[number];

/** A record as the worker that registered it knows it (it is the only writer of its events). */
export interface OwnedRecord {
  id: string;
  externalId: string;
  merchantId: string;
  head: number;
  state: RecordState;
  sold: boolean;
  activated: boolean;
  /** A proof lookup showed the issuance final: from then on the verdict is genuine (or revoked). */
  issuanceFinal: boolean;
}

export interface Tally {
  ack: Acknowledged;
  records: OwnedRecord[];
  /** externalIds sent only in refused registrations: none may exist afterwards. */
  refusedExternalIds: Set<string>;
  /** Verdicts answered 200 (API and page), per record (all from one address: one scanner per record). */
  scans: Map<string, number>;
  /** "operation status" -> count. */
  outcomes: Map<string, number>;
  verdicts: Map<string, number>;
  /** Anchored or final bundles from proof lookups that the core's verifyBundle accepted. */
  bundlesVerified: number;
  /**
   * Answers that may have put a proof in the server's proof cache (final bundles, and verdicts,
   * which read the issuance's proof): an upper bound on the cache's growth.
   */
  proofsCacheable: number;
  requests: number;
  /** Of every request, in the order they were answered. */
  latenciesMs: number[];
  failures: string[];
}

export function newTally(): Tally {
  return {
    ack: newAcknowledged(),
    records: [],
    refusedExternalIds: new Set(),
    scans: new Map(),
    outcomes: new Map(),
    verdicts: new Map(),
    bundlesVerified: 0,
    proofsCacheable: 0,
    requests: 0,
    latenciesMs: [],
    failures: [],
  };
}

/** Past this many failures the workers stop: a dead server would otherwise make a tight loop. */
const MAX_FAILURES = 50;

interface Reply {
  status: number;
  body: unknown;
  contentType: string;
}

interface Worker {
  index: number;
  /** The service, without a token: `call` adds the one a request needs. */
  api: ApiClient;
  rand: () => number;
  me: LoadMerchant;
  other: LoadMerchant;
  mine: OwnedRecord[];
  /** Those of `mine` with lifecycle events: reads favour them, so revoked and refunded ones are read too. */
  eventful: OwnedRecord[];
  /** externalIds of earlier accepted registrations, for whole replays. */
  earlier: string[][];
  nextExternal: number;
  tally: Tally;
}

/** Runs the workers for `durationMs`, tallying into `tally` (readable while they run). */
export async function runTraffic(
  opts: {
    baseUrl: string;
    merchants: LoadMerchant[];
    workers: number;
    durationMs: number;
  },
  tally: Tally = newTally(),
): Promise<Tally> {
  const deadline = Date.now() + opts.durationMs;
  const api = new ApiClient(opts.baseUrl);
  await Promise.all(
    Array.from({ length: opts.workers }, async (_, index) => {
      const w: Worker = {
        index,
        api,
        rand: mulberry32(index + 1),
        me: opts.merchants[index % opts.merchants.length]!,
        other: opts.merchants[(index + 1) % opts.merchants.length]!,
        mine: [],
        eventful: [],
        earlier: [],
        nextExternal: 0,
        tally,
      };
      while (Date.now() < deadline && tally.failures.length < MAX_FAILURES) {
        const op = w.mine.length === 0 ? register : pickWeighted(w.rand, OPERATIONS);
        try {
          await op(w);
        } catch (err) {
          const { message, cause } = err as Error;
          tally.failures.push(`worker ${index} ${op.name}: ${message}${cause ? ` (${String(cause)})` : ''}`);
        }
      }
    }),
  );
  return tally;
}

/** How often each operation runs, relative to the others. */
const OPERATIONS: Array<[number, (w: Worker) => Promise<void>]> = [
  [22, register],
  [3, replay],
  [2, conflict],
  [1, malformed],
  [26, lifecycleEvent],
  [1, foreignEvent],
  [18, proofs],
  [18, verdict],
  [5, page],
  [2, unknown],
];

async function register(w: Worker): Promise<void> {
  const fresh = Array.from({ length: 1 + Math.floor(w.rand() * 50) }, () => newExternalId(w));
  const reused =
    w.mine.length > 0 && w.rand() < 0.2
      ? [...new Set(Array.from({ length: 1 + Math.floor(w.rand() * 3) }, () => pick(w.rand, w.mine)))]
      : [];
  const externalIds = [...reused.map((r) => r.externalId), ...fresh];
  const res = await call(w, 'POST', '/v1/records', w.me.apiKey, {
    records: externalIds.map((e) => mixed(e)),
  });
  if (!expectStatus(w, 'register', res, 201)) return;
  const records = (res.body as { records: Array<{ id: string; externalId: string }> }).records;
  if (records.map((r) => r.externalId).join() !== externalIds.join()) {
    return void w.tally.failures.push(`register: answered externalIds out of order or missing`);
  }
  reused.forEach((r, i) => {
    if (records[i]!.id !== r.id) w.tally.failures.push(`register: replayed ${r.externalId} got a new id`);
  });
  for (const r of records.slice(reused.length)) {
    if (w.tally.ack.records.has(r.externalId)) w.tally.failures.push(`register: ${r.externalId} twice`);
    const owned: OwnedRecord = {
      id: r.id,
      externalId: r.externalId,
      merchantId: w.me.id,
      head: 0,
      state: 'active',
      sold: false,
      activated: false,
      issuanceFinal: false,
    };
    w.mine.push(owned);
    w.tally.records.push(owned);
  }
  noteRegistration(w.tally.ack, res);
  if (w.earlier.length < 200) w.earlier.push(externalIds);
}

/** A whole earlier request again: 200, the same ids, nothing new. */
async function replay(w: Worker): Promise<void> {
  if (w.earlier.length === 0) return register(w);
  const externalIds = pick(w.rand, w.earlier);
  const res = await call(w, 'POST', '/v1/records', w.me.apiKey, {
    records: externalIds.map((e) => mixed(e)),
  });
  if (!expectStatus(w, 'replay', res, 200)) return;
  const records = (res.body as { records: Array<{ id: string; externalId: string }> }).records;
  records.forEach((r, i) => {
    if (r.externalId !== externalIds[i] || w.tally.ack.records.get(r.externalId) !== r.id)
      w.tally.failures.push(`replay: ${externalIds[i]} answered ${r.externalId} ${r.id}`);
  });
}

/** New records with one earlier externalId whose content differs: 409, and none of it is written. */
async function conflict(w: Worker): Promise<void> {
  const fresh = Array.from({ length: 1 + Math.floor(w.rand() * 3) }, () => newExternalId(w));
  const old = pick(w.rand, w.mine);
  const res = await call(w, 'POST', '/v1/records', w.me.apiKey, {
    records: [...fresh.map((e) => mixed(e)), mixed(old.externalId, 1)],
  });
  for (const e of fresh) w.tally.refusedExternalIds.add(e);
  if (expectStatus(w, 'conflict', res, 409)) expectCode(w, 'conflict', res, 'external_id_conflict');
}

/** A record of a kind that does not exist: 400, nothing written. */
async function malformed(w: Worker): Promise<void> {
  const externalId = newExternalId(w);
  w.tally.refusedExternalIds.add(externalId);
  const res = await call(w, 'POST', '/v1/records', w.me.apiKey, {
    records: [{ ...mixed(externalId), kind: 'weapon' }],
  });
  if (expectStatus(w, 'malformed', res, 400)) expectCode(w, 'malformed', res, 'invalid_request');
}

/** The lifecycle rules of src/service/records.ts, from the worker's own knowledge of the record. */
function allowedEvents(r: OwnedRecord): EventType[] {
  if (r.state !== 'active') return [];
  return EVENT_TYPES.filter(
    (t) => !(t === 'sold' && r.sold) && !(t === 'activated' && r.activated) && !(t === 'refunded' && !r.sold),
  );
}

const EVENT_WEIGHT: Record<EventType, number> = {
  sold: 4,
  activated: 3,
  transferred: 3,
  revoked: 0.6,
  refunded: 0.6,
};

async function lifecycleEvent(w: Worker): Promise<void> {
  const r = target(w);
  const allowed = allowedEvents(r);
  const impossible = EVENT_TYPES.filter((t) => !allowed.includes(t));
  const refuse = allowed.length === 0 || (impossible.length > 0 && w.rand() < 0.08);
  const type = refuse
    ? pick(w.rand, impossible)
    : pickWeighted(
        w.rand,
        allowed.map((t) => [EVENT_WEIGHT[t], t]),
      );
  const data = type === 'transferred' ? { to: `buyer-${Math.floor(w.rand() * 1e6)}` } : undefined;
  const res = await call(w, 'POST', `/v1/records/${r.id}/events`, w.me.apiKey, {
    type,
    ...(data && { data }),
  });
  if (refuse) {
    if (expectStatus(w, 'event-impossible', res, 409))
      expectCode(w, 'event-impossible', res, 'lifecycle_violation');
    return;
  }
  if (!expectStatus(w, 'event', res, 201)) return;
  const body = res.body as { recordId: string; seq: number; type: string };
  if (body.recordId !== r.id || body.seq !== r.head + 1 || body.type !== type) {
    return void w.tally.failures.push(`event: expected ${r.id} seq ${r.head + 1}: ${JSON.stringify(body)}`);
  }
  if (r.head === 0) w.eventful.push(r);
  r.head = body.seq;
  if (type === 'sold') r.sold = true;
  if (type === 'activated') r.activated = true;
  if (type === 'revoked' || type === 'refunded') r.state = type;
  noteEvent(w.tally.ack, r.id, body.seq);
}

/** Another merchant's key on this worker's record: 403, nothing written. */
async function foreignEvent(w: Worker): Promise<void> {
  if (w.other.id === w.me.id) return;
  const r = target(w);
  const res = await call(w, 'POST', `/v1/records/${r.id}/events`, w.other.apiKey, { type: 'transferred' });
  if (expectStatus(w, 'event-foreign', res, 403)) expectCode(w, 'event-foreign', res, 'not_record_owner');
}

interface BundleLike {
  seq: number;
  proof: unknown;
  anchor: { status: string };
}

/** Every event's bundle, in seq order; anchored ones pass the core's own verification. */
async function proofs(w: Worker): Promise<void> {
  const r = target(w);
  const head = r.head;
  const res = await call(w, 'GET', `/v1/records/${r.id}/proofs`);
  if (!expectStatus(w, 'proofs', res, 200)) return;
  const bundles = (res.body as { bundles: BundleLike[] }).bundles;
  if (bundles.map((b) => b.seq).join() !== Array.from({ length: head + 1 }, (_, i) => i).join()) {
    return void w.tally.failures.push(`proofs: ${r.id} has seqs ${bundles.map((b) => b.seq)}, head ${head}`);
  }
  for (const b of bundles) {
    if (b.anchor.status === 'pending') {
      if (b.proof !== null) w.tally.failures.push(`proofs: pending bundle of ${r.id} has a proof`);
      continue;
    }
    if (b.anchor.status === 'final') w.tally.proofsCacheable++;
    const verdict = verifyBundle(b);
    if (!verdict.valid) w.tally.failures.push(`proofs: ${r.id} seq ${b.seq}: ${verdict.reason}`);
    else w.tally.bundlesVerified++;
  }
  if (bundles[0]!.anchor.status === 'final') r.issuanceFinal = true;
}

async function verdict(w: Worker): Promise<void> {
  const r = target(w);
  const res = await call(w, 'GET', `/v1/verify/${r.id}`);
  if (!expectStatus(w, 'verify', res, 200)) return;
  noteScan(w.tally, r.id);
  const word = (res.body as { verdict: string }).verdict;
  w.tally.verdicts.set(word, (w.tally.verdicts.get(word) ?? 0) + 1);
  const expected =
    r.state !== 'active' ? ['revoked'] : r.issuanceFinal ? ['genuine'] : ['genuine', 'pending'];
  if (!expected.includes(word)) {
    w.tally.failures.push(`verify: ${r.id} (${r.state}, final ${r.issuanceFinal}) is ${word}`);
  }
}

async function page(w: Worker): Promise<void> {
  const r = target(w);
  const res = await call(w, 'GET', `/v/${r.id}`);
  if (!expectStatus(w, 'page', res, 200)) return;
  noteScan(w.tally, r.id);
  if (!res.contentType.startsWith('text/html')) w.tally.failures.push(`page: ${res.contentType}`);
}

/** A code nobody issued: 404 not_found, and no scan is counted. */
async function unknown(w: Worker): Promise<void> {
  const id = `nx${Math.floor(w.rand() * 1e12).toString(36)}w${w.index}`;
  const onPage = w.rand() < 0.5;
  const res = await call(w, 'GET', onPage ? `/v/${id}` : `/v1/verify/${id}`);
  if (expectStatus(w, onPage ? 'page-unknown' : 'verify-unknown', res, 404) && !onPage) {
    const word = (res.body as { verdict: string }).verdict;
    if (word !== 'not_found') w.tally.failures.push(`verify-unknown: ${id} is ${word}`);
  }
}

/** One of the worker's records; half the time one with lifecycle events. */
function target(w: Worker): OwnedRecord {
  return pick(w.rand, w.eventful.length > 0 && w.rand() < 0.5 ? w.eventful : w.mine);
}

function noteScan(tally: Tally, recordId: string): void {
  tally.proofsCacheable++;
  tally.scans.set(recordId, (tally.scans.get(recordId) ?? 0) + 1);
}

/** Registrations mix kinds, secrets and metadata; another variant of an id is conflicting content. */
function mixed(externalId: string, variant = 0): RecordBody {
  return recordBody(externalId, mixedFields(externalId, variant));
}

function newExternalId(w: Worker): string {
  return `load-w${w.index}-${w.nextExternal++}`;
}

async function call(w: Worker, method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
  w.tally.requests++;
  const started = Date.now();
  const res = await (token ? w.api.withToken(token) : w.api).request(method, path, body);
  w.tally.latenciesMs.push(Date.now() - started);
  const { status, contentType } = res;
  return { status, contentType, body: contentType.includes('json') ? res.json() : res.text() };
}

function expectStatus(w: Worker, op: string, res: Reply, expected: number): boolean {
  const key = `${op} ${res.status}`;
  w.tally.outcomes.set(key, (w.tally.outcomes.get(key) ?? 0) + 1);
  if (res.status === expected) return true;
  const body = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  w.tally.failures.push(`${op}: expected ${expected}, got ${res.status} ${body.slice(0, 300)}`);
  return false;
}

function expectCode(w: Worker, op: string, res: Reply, code: string): void {
  const got = (res.body as { code?: string }).code;
  if (got !== code) w.tally.failures.push(`${op}: expected code ${code}, got ${got}`);
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function pickWeighted<T>(rand: () => number, items: ReadonlyArray<readonly [number, T]>): T {
  let x = rand() * items.reduce((a, [weight]) => a + weight, 0);
  for (const [weight, item] of items) if ((x -= weight) < 0) return item;
  return items.at(-1)![1];
}

/** A small seeded PRNG: each worker makes the same choices run after run (timing aside). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
