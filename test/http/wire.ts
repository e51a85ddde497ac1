/**
 * Shared by the fuzz tests that talk to a listening instance over a real socket (test/http/fuzz.test.ts,
 * test/http/verify-fuzz.test.ts): a raw HTTP client that sends exactly the bytes, path and headers it is
 * given, the checks every answer must pass, and a fingerprint of what the database holds.
 */
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { sql, type Kysely } from 'kysely';
import { expect } from 'vitest';
import type { Database } from '../../src/storage/sql/schema.ts';
import type { Harness } from '../helpers/harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { tableNames } from '../helpers/db-inspect.ts';

/** How long an answer may take before the request counts as a hang (generous: a loaded 2-core machine). */
export const ANSWER_TIMEOUT_MS = 20_000;

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface RawRequest {
  method: string;
  /** Sent as it is: no URL parsing, so `../`, `%00` and broken escapes reach the server. */
  path: string;
  headers?: Record<string, string>;
  /** One buffer is sent with a content-length; an array of chunks with transfer-encoding: chunked. */
  body?: Buffer | Buffer[];
}

let clientNumber = 0;

/**
 * Sends one request on a fresh connection. Each request comes from its own client address
 * (X-Forwarded-For; the instance runs with TRUST_PROXY=true), so the per-client rate limits on the
 * secret routes never stop the fuzzer from reaching their handlers.
 */
export function send(port: number, req: RawRequest): Promise<Answer> {
  clientNumber++;
  const forwardedFor = `10.${(clientNumber >> 16) & 255}.${(clientNumber >> 8) & 255}.${clientNumber & 255}`;
  const headers: Record<string, string> = { 'x-forwarded-for': forwardedFor, ...req.headers };
  if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
  const what = `${req.method} ${req.path.slice(0, 120)}`;
  return new Promise((resolve, reject) => {
    let answered = false;
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        headers,
        agent: false,
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer (413) and close before it has read the whole of a large body: the
      // answer counts, the broken pipe does not.
      if (answered && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) return;
      reject(
        new Error(
          `${what}: ${err.name === 'AbortError' || err.name === 'TimeoutError' ? `no answer within ${ANSWER_TIMEOUT_MS} ms` : err.message}`,
        ),
      );
    });
    if (Array.isArray(req.body)) {
      for (const chunk of req.body) outgoing.write(chunk);
      outgoing.end();
    } else {
      outgoing.end(req.body);
    }
  });
}

function parseJson(answer: Answer, what: string): Record<string, unknown> {
  try {
    return JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: the answer is not JSON: ${answer.text.slice(0, 200)}`);
  }
}

/**
 * Writes `bytes` to a fresh TCP connection, optionally half-closes it, and returns whatever comes back
 * until the server closes the connection or `waitMs` passes: for requests no HTTP client will send.
 */
export function sendRawBytes(
  port: number,
  bytes: Buffer,
  opts: { halfClose: boolean; waitMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, opts.waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server's answer ends with its side closed (FIN) or the connection destroyed.
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return done();
      clearTimeout(timer);
      reject(err);
    });
    socket.write(bytes, () => {
      if (opts.halfClose) socket.end();
    });
  });
}

/** The one error shape of the JSON API, with the status in the body matching the answer's. */
export function expectErrorBody(answer: Answer, what: string): void {
  expect(answer.headers['content-type'], what).toMatch(/^application\/json/);
  const body = parseJson(answer, what);
  // A registration refused for duplicates also lists the refused records (and nothing else extra).
  const keys = Object.keys(body).filter((k) => !(k === 'refused' && /^duplicate_/.test(String(body.code))));
  expect(keys.sort(), what).toEqual(['code', 'error', 'message', 'statusCode']);
  expect(body.statusCode, what).toBe(answer.status);
  for (const key of ['code', 'error', 'message']) {
    expect(typeof body[key] === 'string' && body[key] !== '', `${what}: ${key}`).toBe(true);
  }
}

/**
 * What every answer to hostile input must be: not a 5xx, and a refusal that says what it is. The JSON
 * API refuses with the error shape; `GET /v1/verify/:id` answers an unknown item with its not_found
 * verdict; the pages under /v/ refuse with an HTML page.
 */
export function expectHonestAnswer(answer: Answer, what: string): void {
  const context = `${what} -> ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, context).toBeGreaterThanOrEqual(200);
  expect(answer.status, context).toBeLessThan(500);
  if (answer.status < 400) return;
  if (/^text\/html/.test(String(answer.headers['content-type']))) {
    expect(context.startsWith('GET /v/') || context.startsWith('POST /v/'), context).toBe(true);
    expect(answer.text, context).toMatch(/^<!doctype html>/i);
    return;
  }
  const body = parseJson(answer, context);
  if (answer.status === 404 && body.verdict === 'not_found') {
    expect(context).toMatch(/^GET \/v1\/verify\//);
    expect(typeof body.reason, context).toBe('string');
    return;
  }
  expectErrorBody(answer, context);
}

/**
 * Tables that change with no request to blame: `scans` and `scan_sightings` (a GET of /v1/verify/:id
 * or /v/:id from a new network counts a scan by design, written behind once a second, and old
 * windows' sightings are pruned) and `leases` (the batcher renews its leader lease); and
 * `duplicate_refusals`, the operator's log of registrations refused as duplicates, which a refused
 * request writes by design (and nothing else). Everything else must be exactly as it was after a
 * refused request.
 */
export const BACKGROUND_TABLES: ReadonlySet<string> = new Set([
  'scans',
  'scan_sightings',
  'leases',
  'duplicate_refusals',
]);

export interface DatabaseState {
  rows: Record<string, number>;
  /** sha256 over every row of every table but the background ones. */
  hash: string;
}

/** The tables compared, read from the schema once per database. */
const comparedTables = new WeakMap<Kysely<Database>, Promise<string[]>>();
/** The last state read, and SQLite's count of rows changed on the connection when it was read. */
const lastRead = new WeakMap<Kysely<Database>, { changes: number; state: DatabaseState }>();

/**
 * Rows changed so far on the one SQLite connection the instance and the test share (inserts, updates
 * and deletes, rolled back or not), or null on PostgreSQL. While it stands still, no row has changed.
 */
async function rowsChangedSoFar(db: Kysely<Database>): Promise<number | null> {
  try {
    const { rows } = await sql<{ n: number }>`SELECT total_changes() AS n`.execute(db);
    return Number(rows[0]!.n);
  } catch {
    return null;
  }
}

export async function databaseState(db: Kysely<Database>): Promise<DatabaseState> {
  const changes = await rowsChangedSoFar(db);
  const last = lastRead.get(db);
  if (changes !== null && last?.changes === changes) return last.state;
  if (!comparedTables.has(db)) {
    comparedTables.set(
      db,
      tableNames(db).then((names) => names.filter((n) => !BACKGROUND_TABLES.has(n))),
    );
  }
  const rows: Record<string, number> = {};
  const hash = createHash('sha256');
  for (const name of await comparedTables.get(db)!) {
    const result = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(name)}`.execute(db);
    rows[name] = result.rows.length;
    const lines = result.rows.map((row) => JSON.stringify(row)).sort();
    hash.update(`${name}\n${lines.join('\n')}\n`);
  }
  const state = { rows, hash: hash.digest('hex') };
  if (changes !== null) lastRead.set(db, { changes, state });
  return state;
}

/** Waits until every batch is final, so that nothing changes in the background after an accepted seal. */
export async function settle(h: Harness): Promise<void> {
  await waitFor(
    'every batch final',
    async () =>
      (await h.runtime.storage.db.selectFrom('batches').select('id').where('status', '!=', 'final').execute())
        .length === 0,
    60_000,
  );
}

export interface Tally {
  refused: number;
  accepted: number;
}

/**
 * Sends `req`, checks the answer, and for a refusal (4xx) that the database is unchanged; an accepted
 * request (2xx) is allowed its writes and counted apart. Returns the answer.
 */
export async function sendHostile(h: Harness, port: number, req: RawRequest, tally: Tally): Promise<Answer> {
  const db = h.runtime.storage.db;
  const before = await databaseState(db);
  const answer = await send(port, req);
  const what = `${req.method} ${req.path.slice(0, 120)}`;
  expectHonestAnswer(answer, what);
  if (answer.status >= 400) {
    tally.refused++;
    expect(await databaseState(db), `${what} -> ${answer.status}: the database changed`).toEqual(before);
  } else {
    tally.accepted++;
    await settle(h);
  }
  return answer;
}
