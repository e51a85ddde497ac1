/**
 * The typed client of the proofmark HTTP API, used by the CLI, the tests and the benchmark: one
 * method per route, JSON in and out, every failure one ApiError. Each method resolves to the body
 * the route answers, as it came; where the status itself means something (a replayed registration,
 * a not_found verdict) the method says how it reports it.
 */
import { ApiError, refused, unreachable } from './errors.ts';
import { ApiResponse } from './response.ts';
import { fetchTransport, type Transport } from './transport.ts';
import type {
  Batch,
  BatchPage,
  BundleCheck,
  ChainInfo,
  DuplicateRefusals,
  Dispute,
  DisputeAnswer,
  DisputeDecisionInput,
  ErasedEvent,
  EventAck,
  Evidence,
  Health,
  MerchantCredit,
  MerchantKey,
  MerchantProfile,
  NewEvent,
  NewDispute,
  NewMerchant,
  PublicRecord,
  RecordInput,
  RecordProofs,
  RecordProofsV2,
  StateProof,
  RegisteredRecord,
  RevealedSecret,
  RevealStatus,
  SealedSale,
  StrikeRecord,
  VerdictBody,
  WebhookEndpoints,
  WebhookEventTypes,
} from './types.ts';

/** A JSON request body serialised ahead of time (a benchmark keeps JSON.stringify out of its timing). */
export class SerialisedJson<T> {
  /** Ties the text to the type it was made from; never set. */
  declare private readonly of: T;
  readonly text: string;

  constructor(value: T) {
    this.text = JSON.stringify(value);
  }
}

export interface ApiClientOptions {
  /** Sent as a bearer token with every request: the admin token or a merchant's API key. */
  token?: string;
  /** How requests reach the service; fetch against `base` (30 s a request) unless given. */
  transport?: Transport;
}

/** POST /v1/records: `created` is false when nothing new was (a whole replay, answered 200). */
export interface Registration {
  created: boolean;
  records: RegisteredRecord[];
}

const JSON_TYPE = 'application/json';

export class ApiClient {
  private readonly token: string | undefined;
  private readonly transport: Transport;

  /** `base`: the service's URL without a trailing slash; with another transport, only a label. */
  constructor(
    readonly base: string,
    opts: ApiClientOptions = {},
  ) {
    this.token = opts.token;
    this.transport = opts.transport ?? fetchTransport(base);
  }

  /** The same service through the same transport, as the holder of `token`. */
  withToken(token: string): ApiClient {
    return new ApiClient(this.base, { token, transport: this.transport });
  }

  // The operator's routes (admin token).

  createMerchant(merchant: NewMerchant): Promise<MerchantKey> {
    return this.json('POST', '/v1/merchants', merchant);
  }

  verifyMerchant(id: string, evidence: Evidence[]): Promise<MerchantProfile> {
    return this.json('POST', `${merchantPath(id)}/verify`, { evidence });
  }

  strikeMerchant(id: string, reason: string): Promise<MerchantProfile> {
    return this.json('POST', `${merchantPath(id)}/strikes`, { reason });
  }

  /** A new API key; the merchant's old ones stop working. */
  rotateMerchantKey(id: string): Promise<MerchantKey> {
    return this.json('POST', `${merchantPath(id)}/keys`);
  }

  /** The merchant's strikes with their reasons (the public profile has only their number and date). */
  merchantStrikes(id: string): Promise<StrikeRecord> {
    return this.json('GET', `${merchantPath(id)}/strikes`);
  }

  /** Replaces one event's content with a tombstone naming `by`; its leaf and every other proof stay valid. */
  eraseEvent(recordId: string, seq: number, by: string): Promise<ErasedEvent> {
    return this.json('POST', `${recordPath(recordId)}/events/${seq}/erasure`, { by });
  }

  /** Registrations refused as duplicates, newest first: of one merchant, or of all. */
  duplicates(opts: { merchant?: string; limit?: number } = {}): Promise<DuplicateRefusals> {
    const query = new URLSearchParams();
    if (opts.merchant !== undefined) query.set('merchant', opts.merchant);
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    const search = query.size > 0 ? `?${query}` : '';
    return this.json('GET', `/v1/admin/duplicates${search}`);
  }

  /** Seals everything pending now; anchoring follows in the background. */
  sealNow(): Promise<{ batches: Batch[] }> {
    return this.json('POST', '/v1/admin/batches/seal');
  }

  // A merchant's routes (its API key).

  /** Up to 1,000 records, all or nothing; idempotent on externalId. */
  async registerRecords(
    records: RecordInput[] | SerialisedJson<{ records: RecordInput[] }>,
  ): Promise<Registration> {
    const body = records instanceof SerialisedJson ? records : { records };
    const res = await this.answer('POST', '/v1/records', body);
    const { records: registered } = this.parse<{ records: RegisteredRecord[] }>('POST', '/v1/records', res);
    return { created: res.status === 201, records: registered };
  }

  addEvent(recordId: string, event: NewEvent): Promise<EventAck> {
    return this.json('POST', `${recordPath(recordId)}/events`, event);
  }

  // Webhooks: a merchant's endpoints (its key), or the operator's (the admin token).

  /** The webhook endpoint routes of the merchant holding the key, or with 'operator' of the operator. */
  webhooks(owner: 'merchant' | 'operator' = 'merchant'): WebhookEndpoints {
    const base = owner === 'operator' ? '/v1/admin/webhooks/endpoints' : '/v1/webhooks/endpoints';
    const one = (id: string) => `${base}/${encodeURIComponent(id)}`;
    return {
      create: (endpoint) => this.json('POST', base, endpoint),
      list: () => this.json('GET', base),
      get: (id) => this.json('GET', one(id)),
      delete: (id) => this.json('DELETE', one(id)),
      rotateSecret: (id) => this.json('POST', `${one(id)}/secret`),
      deliveries: (id, page = {}) => {
        const query = new URLSearchParams();
        if (page.limit !== undefined) query.set('limit', String(page.limit));
        if (page.before !== undefined) query.set('before', page.before);
        const search = query.toString();
        return this.json('GET', `${one(id)}/deliveries${search && `?${search}`}`);
      },
      replay: (id, messageId) =>
        this.json('POST', `${one(id)}/deliveries/${encodeURIComponent(messageId)}/replay`),
    };
  }

  // After the sale (sealed delivery, disputes). Evidence files go as multipart/form-data, which
  // this JSON client does not send: the routes take the same fields as JSON without files.

  /** The merchant sells its record with sealed delivery; the answer's revealUrl is shown only here. */
  sealedSale(recordId: string, secret: string): Promise<SealedSale> {
    return this.json('POST', `${recordPath(recordId)}/sealed-sale`, { secret });
  }

  /** A reveal link's state, without the secret. */
  revealStatus(token: string): Promise<RevealStatus> {
    return this.json('GET', revealPath(token));
  }

  /** The buyer reveals the secret; the first reveal is anchored as `revealed`. */
  reveal(token: string): Promise<RevealedSecret> {
    return this.json('POST', revealPath(token));
  }

  /** The buyer opens a dispute, showing possession with `secret` or `revealToken`. */
  openDispute(recordId: string, input: NewDispute): Promise<Dispute> {
    return this.json('POST', `${recordPath(recordId)}/disputes`, input);
  }

  /** One of the merchant's disputes. */
  dispute(id: string): Promise<Dispute> {
    return this.json('GET', disputePath(id));
  }

  /** The merchant's answer before the deadline. */
  answerDispute(id: string, answer: DisputeAnswer): Promise<Dispute> {
    return this.json('POST', `${disputePath(id)}/answer`, answer);
  }

  /** An evidence file of one of the merchant's disputes. */
  disputeFile(id: string, position: number): Promise<Uint8Array> {
    return this.bytes(`${disputePath(id)}/files/${position}`, '*/*');
  }

  /** The operator's list: open and answered disputes, or those of one status. */
  adminDisputes(status?: Dispute['status']): Promise<{ disputes: Dispute[] }> {
    return this.json('GET', `/v1/admin/disputes${status ? `?status=${status}` : ''}`);
  }

  adminDispute(id: string): Promise<Dispute> {
    return this.json('GET', `/v1/admin/disputes/${encodeURIComponent(id)}`);
  }

  adminDisputeFile(id: string, position: number): Promise<Uint8Array> {
    return this.bytes(`/v1/admin/disputes/${encodeURIComponent(id)}/files/${position}`, '*/*');
  }

  /** The operator's decision; for the buyer it refunds the item, and strikes the merchant with `strike`. */
  decideDispute(id: string, decision: DisputeDecisionInput): Promise<Dispute> {
    return this.json('POST', `/v1/admin/disputes/${encodeURIComponent(id)}/decision`, decision);
  }

  // Public routes.

  /** Every webhook event type: who receives it and the JSON Schema of its body. */
  webhookEventTypes(): Promise<WebhookEventTypes> {
    return this.json('GET', '/v1/webhooks/event-types');
  }

  merchant(id: string): Promise<MerchantProfile> {
    return this.json('GET', merchantPath(id));
  }

  /** The merchant's credit record: items, revoked and refunded shares, disputes, strikes. */
  merchantCredit(id: string): Promise<MerchantCredit> {
    return this.json('GET', `${merchantPath(id)}/profile`);
  }

  record(id: string): Promise<PublicRecord> {
    return this.json('GET', recordPath(id));
  }

  /** One proofmark.bundle.v1 per event, in seq order. */
  proofs(recordId: string): Promise<RecordProofs> {
    return this.json('GET', `${recordPath(recordId)}/proofs`);
  }

  /** proofmark.bundle.v2 for each anchored event (v1 for pending ones), in seq order. */
  proofsV2(recordId: string): Promise<RecordProofsV2> {
    return this.json('GET', `${recordPath(recordId)}/proofs?format=v2`);
  }

  /**
   * The record's state proof (proofmark.state.v1) under batch `batchId`, or under the latest batch
   * whose state root is anchored. Untrusted: check it with core's checkFreshness against the chain.
   */
  stateProof(recordId: string, batchId?: number): Promise<StateProof> {
    const query = batchId === undefined ? '' : `?batch=${batchId}`;
    return this.json('GET', `${recordPath(recordId)}/state-proof${query}`);
  }

  /** The QR code of the record's verification page, as a PNG or an SVG document. */
  qrCode(recordId: string, format: 'png' | 'svg'): Promise<Uint8Array> {
    return this.bytes(
      `${recordPath(recordId)}/qr.${format}`,
      format === 'png' ? 'image/png' : 'image/svg+xml',
    );
  }

  /** The verdict, counting a scan; an unknown id is the not_found verdict (HTTP 404), not an error. */
  async verdict(recordId: string): Promise<VerdictBody> {
    const path = verifyPath(recordId);
    const res = await this.send('GET', path, undefined, JSON_TYPE);
    const notFound = res.status === 404 ? readVerdict(res) : null;
    if (notFound?.verdict === 'not_found') return notFound;
    return this.parse('GET', path, this.expectOk('GET', path, res));
  }

  /** Whether `secret` matches the record's commitment (rate-limited). */
  checkSecret(recordId: string, secret: string): Promise<{ match: boolean }> {
    return this.json('POST', `${verifyPath(recordId)}/secret`, { secret });
  }

  /** Any bundle, checked by the service against its chain. */
  verifyBundle(bundle: unknown): Promise<BundleCheck> {
    return this.json('POST', '/v1/verify', bundle);
  }

  // The auditor's routes.

  /** One page of batches in id order, after batch id `after` (default 0), `limit` (1-1000, default 100) long. */
  batches(page: { after?: number; limit?: number } = {}): Promise<BatchPage> {
    const query = new URLSearchParams();
    if (page.after !== undefined) query.set('after', String(page.after));
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    const search = query.toString();
    return this.json('GET', `/v1/batches${search && `?${search}`}`);
  }

  batch(id: number): Promise<Batch> {
    return this.json('GET', `/v1/batches/${id}`);
  }

  /** The batch's leaves, 32 bytes each, in tree order. */
  batchLeaves(id: number): Promise<Uint8Array> {
    return this.bytes(`/v1/batches/${id}/leaves`, 'application/octet-stream');
  }

  /** The chain and contract the service anchors to. */
  chain(): Promise<ChainInfo> {
    return this.json('GET', '/v1/chain');
  }

  health(): Promise<Health> {
    return this.json('GET', '/healthz');
  }

  // Any route.

  /** GET of any JSON document the service serves. */
  getJson<T>(path: string): Promise<T> {
    return this.json('GET', path);
  }

  /**
   * One request as it is, for callers that look at the status themselves: resolves to any answer,
   * error statuses included, and throws (an ApiError) only when there was none.
   */
  request(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    return this.send(method, path, body, JSON_TYPE);
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.parse(method, path, await this.answer(method, path, body));
  }

  private async bytes(path: string, accept: string): Promise<Uint8Array> {
    return this.expectOk('GET', path, await this.send('GET', path, undefined, accept)).bytes;
  }

  /** A 2xx answer, else its ApiError. */
  private async answer(method: string, path: string, body: unknown): Promise<ApiResponse> {
    return this.expectOk(method, path, await this.send(method, path, body, JSON_TYPE));
  }

  private expectOk(method: string, path: string, res: ApiResponse): ApiResponse {
    if (!res.ok) throw refused(method, path, res.status, res.statusText, res.text());
    return res;
  }

  private parse<T>(method: string, path: string, res: ApiResponse): T {
    try {
      return res.json<T>();
    } catch {
      throw new ApiError(
        `${method} ${path} returned HTTP ${res.status} with a body that is not JSON`,
        method,
        path,
        res.status,
        null,
      );
    }
  }

  private async send(method: string, path: string, body: unknown, accept: string): Promise<ApiResponse> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    // No content-type without a body: the service rejects an empty JSON body.
    if (body !== undefined) headers['content-type'] = JSON_TYPE;
    const text =
      body instanceof SerialisedJson ? body.text : body === undefined ? undefined : JSON.stringify(body);
    try {
      return new ApiResponse(
        await this.transport({ method, path, headers, ...(text !== undefined && { body: text }) }),
      );
    } catch (err) {
      throw unreachable(this.base, method, path, err);
    }
  }
}

/** A 404's body when it is a verdict (GET /v1/verify/:id answers not_found so), else null. */
function readVerdict(res: ApiResponse): VerdictBody | null {
  try {
    const body = res.json<VerdictBody | null>();
    return typeof body?.verdict === 'string' ? body : null;
  } catch {
    return null;
  }
}

const merchantPath = (id: string) => `/v1/merchants/${encodeURIComponent(id)}`;
const recordPath = (id: string) => `/v1/records/${encodeURIComponent(id)}`;
const disputePath = (id: string) => `/v1/disputes/${encodeURIComponent(id)}`;
const revealPath = (token: string) => `/v1/reveal/${encodeURIComponent(token)}`;
const verifyPath = (id: string) => `/v1/verify/${encodeURIComponent(id)}`;

/** Fetches a public JSON document (a bundle, a record's proofs) from any http(s) URL. */
export function fetchJson(url: string): Promise<unknown> {
  const { origin, pathname, search } = new URL(url);
  return new ApiClient(origin).getJson(`${pathname}${search}`);
}
