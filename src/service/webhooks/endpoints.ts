/**
 * Webhook endpoints, as their owners manage them through the API: a merchant (its own endpoints,
 * with its key) or the operator (its own, with the admin token). Owners see only their endpoints:
 * another owner's is "not found", as a missing one is. The signing secret is shown at creation and
 * at rotation, and kept only sealed.
 */
import { iso, type ServiceContext } from '../context.ts';
import { badRequest, conflict, notFound, ServiceError } from '../errors.ts';
import { randomId } from '../random.ts';
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../../storage/rows.ts';
import { checkTarget, ForbiddenTargetError, type Resolver } from './address-policy.ts';
import { eventTypesFor, type WebhookEventType } from './events.ts';
import { OPERATOR_OWNER } from './outbox.ts';
import { newSigningSecret, sealSecret } from './signing.ts';

/** Endpoints an owner may have at once. */
export const MAX_ENDPOINTS_PER_OWNER = 20;
/** After a rotation, how long webhooks are signed with the old secret too, so receivers can switch. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;
/** Attempts shown per delivery in the log: the newest ones. */
export const ATTEMPTS_SHOWN = 20;

/** Whose endpoints: a merchant's (by id) or the operator's. */
export type EndpointOwner = { merchantId: string } | 'operator';

export interface WebhookSettings {
  /** WEBHOOK_ALLOW_PRIVATE: accept loopback, private and link-local targets. */
  allowPrivate: boolean;
  /** How URLs' hosts are resolved for the address check (tests pass their own). */
  resolve?: Resolver;
}

export interface EndpointView {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  createdAt: string;
  /** Until when webhooks are also signed with the secret the last rotation replaced; null if none. */
  previousSecretValidUntil: string | null;
}

export interface AttemptView {
  attempt: number;
  at: string;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  nextAttemptAt: string | null;
}

export interface DeliveryView {
  messageId: string;
  eventType: string;
  status: WebhookDeliveryRow['status'];
  createdAt: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  /** The newest ATTEMPTS_SHOWN attempts, oldest first. */
  log: AttemptView[];
}

const ownerKey = (owner: EndpointOwner) => (owner === 'operator' ? OPERATOR_OWNER : owner.merchantId);
const audienceOf = (owner: EndpointOwner) => (owner === 'operator' ? 'operator' : 'merchant');

export async function createEndpoint(
  ctx: ServiceContext,
  settings: WebhookSettings,
  owner: EndpointOwner,
  input: { url: string; eventTypes?: string[] | undefined; description?: string | undefined },
): Promise<{ endpoint: EndpointView; secret: string }> {
  const url = await allowedUrl(input.url, settings);
  const eventTypes = subscribable(owner, input.eventTypes);
  const existing = await ctx.storage.webhooks.endpoints(ownerKey(owner));
  if (existing.length >= MAX_ENDPOINTS_PER_OWNER) {
    throw conflict('too_many_webhook_endpoints', `at most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints each`);
  }
  const id = `we_${randomId()}`;
  const secret = newSigningSecret();
  const row: WebhookEndpointRow = {
    id,
    owner: ownerKey(owner),
    url: url.toString(),
    description: input.description ?? '',
    event_types: JSON.stringify(eventTypes),
    secret: sealSecret(ctx.keys, id, secret),
    previous_secret: null,
    previous_secret_until: null,
    created_at: iso(ctx),
    deleted_at: null,
  };
  await ctx.storage.webhooks.insertEndpoint(row);
  return { endpoint: endpointView(row), secret };
}

export async function listEndpoints(ctx: ServiceContext, owner: EndpointOwner): Promise<EndpointView[]> {
  return (await ctx.storage.webhooks.endpoints(ownerKey(owner))).map(endpointView);
}

export async function getEndpoint(
  ctx: ServiceContext,
  owner: EndpointOwner,
  id: string,
): Promise<EndpointView> {
  return endpointView(await ownEndpoint(ctx, owner, id));
}

/**
 * Deletes the endpoint: it gets nothing more and its pending deliveries are given up; its log stays
 * readable.
 */
export async function deleteEndpoint(
  ctx: ServiceContext,
  owner: EndpointOwner,
  id: string,
): Promise<EndpointView> {
  const endpoint = await ownEndpoint(ctx, owner, id);
  if (!(await ctx.storage.webhooks.deleteEndpoint(id, iso(ctx)))) throw endpointNotFound(id);
  return endpointView(endpoint);
}

/**
 * A new signing secret (shown once). For PREVIOUS_SECRET_GRACE_MS webhooks carry a signature with
 * the old secret too, so a receiver can switch without rejecting anything.
 */
export async function rotateSecret(
  ctx: ServiceContext,
  owner: EndpointOwner,
  id: string,
): Promise<{ endpoint: EndpointView; secret: string }> {
  const endpoint = await ownEndpoint(ctx, owner, id);
  const secret = newSigningSecret();
  const change = {
    secret: sealSecret(ctx.keys, id, secret),
    previous_secret: endpoint.secret,
    previous_secret_until: new Date(ctx.now().getTime() + PREVIOUS_SECRET_GRACE_MS).toISOString(),
  };
  if (!(await ctx.storage.webhooks.rotateSecret(id, change))) throw endpointNotFound(id);
  return { endpoint: endpointView({ ...endpoint, ...change }), secret };
}

/**
 * The endpoint's delivery log, newest message first, `limit` (1-100) at a time; `before` is the
 * `next` of the page before. Each delivery with its newest attempts.
 */
export async function deliveryLog(
  ctx: ServiceContext,
  owner: EndpointOwner,
  id: string,
  page: { before?: string | undefined; limit: number },
): Promise<{ deliveries: DeliveryView[]; next: string | null }> {
  await ownEndpoint(ctx, owner, id, { deleted: true });
  if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > 100) {
    throw badRequest('invalid_request', 'limit must be from 1 to 100');
  }
  const rows = await ctx.storage.webhooks.deliveries(id, parseCursor(page.before), page.limit);
  const attempts = await ctx.storage.webhooks.attempts(rows.map((r) => r.id));
  const byDelivery = new Map<string, WebhookAttemptRow[]>();
  for (const a of attempts) byDelivery.set(a.delivery_id, [...(byDelivery.get(a.delivery_id) ?? []), a]);
  const last = rows.at(-1);
  return {
    deliveries: rows.map((row) => deliveryView(row, row.type, byDelivery.get(row.id) ?? [])),
    next: rows.length === page.limit && last ? `${last.created_at}~${last.id}` : null,
  };
}

/**
 * Sends the message to the endpoint again as soon as a worker can, whatever became of it before
 * (delivered, failed, or still retrying: the schedule starts again). Same `webhook-id`: to the
 * receiver it is a duplicate.
 */
export async function replayMessage(
  ctx: ServiceContext,
  owner: EndpointOwner,
  endpointId: string,
  messageId: string,
): Promise<DeliveryView> {
  await ownEndpoint(ctx, owner, endpointId);
  const delivery = await ctx.storage.webhooks.delivery(endpointId, messageId);
  if (!delivery || !(await ctx.storage.webhooks.requeue(delivery.id, iso(ctx)))) {
    throw notFound('webhook_message_not_found', `no message ${messageId} for endpoint ${endpointId}`);
  }
  const [message, requeued] = await Promise.all([
    ctx.storage.webhooks.message(messageId),
    ctx.storage.webhooks.delivery(endpointId, messageId),
  ]);
  return deliveryView(requeued!, message!.type, await ctx.storage.webhooks.attempts([delivery.id]));
}

/** The endpoint if `owner` owns it (deleted ones only when asked), else 404 as if there were none. */
async function ownEndpoint(
  ctx: ServiceContext,
  owner: EndpointOwner,
  id: string,
  opts: { deleted?: boolean } = {},
): Promise<WebhookEndpointRow> {
  const endpoint = await ctx.storage.webhooks.endpoint(id);
  if (!endpoint || endpoint.owner !== ownerKey(owner) || (endpoint.deleted_at !== null && !opts.deleted)) {
    throw endpointNotFound(id);
  }
  return endpoint;
}

const endpointNotFound = (id: string) =>
  notFound('webhook_endpoint_not_found', `no webhook endpoint with id ${id}`);

/** `text` as an http(s) URL the address policy allows; 400 otherwise. */
async function allowedUrl(text: string, settings: WebhookSettings): Promise<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badRequest('invalid_webhook_url', 'url must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badRequest('invalid_webhook_url', 'url must be an http(s) URL');
  }
  // Credentials in the URL would be kept and shown in the clear: a receiver checks the signature instead.
  if (url.username !== '' || url.password !== '') {
    throw badRequest('invalid_webhook_url', 'url must not hold a user name or password');
  }
  if (settings.allowPrivate) return url;
  try {
    await checkTarget(url, settings.resolve);
  } catch (err) {
    if (err instanceof ForbiddenTargetError)
      throw new ServiceError(400, 'webhook_url_forbidden', err.message);
    throw err;
  }
  return url;
}

/** The event types asked for, or every type the owner can hear; 400 for one it cannot. */
function subscribable(owner: EndpointOwner, asked: readonly string[] | undefined): WebhookEventType[] {
  const allowed = eventTypesFor(audienceOf(owner));
  if (asked === undefined) return allowed;
  const refused = asked.filter((type) => !(allowed as string[]).includes(type));
  if (refused.length > 0) {
    throw badRequest(
      'invalid_event_type',
      `${refused.join(', ')}: not an event type ${audienceOf(owner)}s receive (${allowed.join(', ')})`,
    );
  }
  return allowed.filter((type) => asked.includes(type));
}

function parseCursor(text: string | undefined): { created_at: string; id: string } | null {
  if (text === undefined) return null;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)~([A-Za-z0-9_-]{1,64})$/.exec(text);
  if (!match) throw badRequest('invalid_request', 'before must be the `next` of an earlier page');
  return { created_at: match[1]!, id: match[2]! };
}

function endpointView(row: WebhookEndpointRow): EndpointView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    createdAt: row.created_at,
    previousSecretValidUntil: row.previous_secret === null ? null : row.previous_secret_until,
  };
}

function deliveryView(
  row: WebhookDeliveryRow,
  eventType: string,
  attempts: WebhookAttemptRow[],
): DeliveryView {
  return {
    messageId: row.message_id,
    eventType,
    status: row.status,
    createdAt: row.created_at,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    deliveredAt: row.delivered_at,
    log: attempts.slice(-ATTEMPTS_SHOWN).map((a) => ({
      attempt: a.attempt,
      at: a.started_at,
      statusCode: a.status_code,
      error: a.error,
      latencyMs: a.latency_ms,
      nextAttemptAt: a.next_attempt_at,
    })),
  };
}
