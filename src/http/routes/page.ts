/**
 * The verification page behind every QR code: `GET /v/:id` renders the verdict as HTML (and counts a
 * scan, like GET /v1/verify/:id); `POST /v/:id/secret` answers the page's key/PIN form, within the
 * same per-address and per-record limits as the API's check, and says how many tries are left.
 * `GET /m/:id` is a merchant's credit page, linked from the merchant's name. All are hidden from
 * OpenAPI. This plugin's scope has its own form-body parser and an error handler that
 * answers in HTML, so neither leaks into the JSON API.
 */
import { disputeForPage } from '../../service/after-sale/disputes.ts';
import { reveal, revealStatus } from '../../service/after-sale/sealed-delivery.ts';
import { renderRevealAsk, renderRevealed } from '../page/reveal.ts';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { badRequest, notFound } from '../../service/errors.ts';
import { publicRecord } from '../../service/public-view.ts';
import { lifecyclePage } from '../../service/records.ts';
import type { ScanRequest } from '../../service/scanners.ts';
import { DAY_MS } from '../../service/scans.ts';
import { SecretAttemptsExhausted, type SecretTries } from '../../service/secret-attempts.ts';
import { checkSecret, isBlankSecret, secretTries } from '../../service/secrets.ts';
import { verdictFor, type Verdict } from '../../service/verdicts.ts';
import { BRIEFLY } from '../cache-control.ts';
import { clientGroup } from '../client-address.ts';
import { LIFECYCLE_PAGE_EVENTS } from '../page/lifecycle.ts';
import { renderMerchantPage } from '../page/merchant.ts';
import { renderErrorPage, renderVerdictPage, type PageView, type SecretCheck } from '../page/render.ts';
import { pageCspWithCheck, setPageHeaders } from '../page/style.ts';
import { Id } from './schemas.ts';

/** Ids the API would accept; anything else cannot exist, so it is not_found without a lookup. */
const ID_PATTERN = new RegExp(Id.pattern!);
const isId = (id: string) => id.length <= (Id.maxLength ?? 64) && ID_PATTERN.test(id);

const PageParams = Type.Object({ id: Type.String() });

/**
 * The lifecycle page a query asks for: `?page=N` (1 is the newest), 1 without one; 400 for anything
 * else. Other query parameters (a QR code's or a messenger's) are ignored, not refused.
 */
function lifecyclePageAsked(query: unknown): number {
  const page = (query as Record<string, unknown> | undefined)?.page;
  if (page === undefined) return 1;
  if (typeof page !== 'string' || !/^[1-9][0-9]{0,5}$/.test(page)) {
    throw badRequest('invalid_page', 'page must be a whole number from 1');
  }
  return Number(page);
}
const MAX_SECRET = 500;

export const pageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The form posts application/x-www-form-urlencoded; only this plugin's routes accept it.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 2048 },
    (_request, body, done) => {
      const fields: Record<string, string> = Object.create(null);
      for (const [key, value] of new URLSearchParams(body as string)) fields[key] ??= value;
      done(null, fields);
    },
  );

  app.setErrorHandler((err: { statusCode?: number }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'page failed');
    const id = (request.params as { id?: string } | undefined)?.id;
    const back = request.routeOptions.url?.startsWith('/m/') ? '/m/' : '/v/';
    // A 404 has nothing to go back to: the page it would link is the one not found.
    const backTo = id && isId(id) && status !== 404 ? `${back}${id}` : undefined;
    setPageHeaders(reply);
    reply.status(status).send(renderErrorPage(status, backTo));
  });

  /**
   * The verdict; an id the API could never have issued is not_found without a lookup or a scan.
   * `scan` is the request when it may count as a scan, null when it is not one.
   */
  async function lookup(id: string, scan: ScanRequest | null): Promise<Verdict> {
    const { ctx, chain, log } = app.services;
    if (!isId(id))
      return { verdict: 'not_found', recordId: id, reason: 'no item was registered under this code' };
    return verdictFor(ctx, chain, log, id, { scan });
  }

  /** The page's status for a check's outcome (200 for a plain view and for match or no match). */
  const CHECK_STATUS: Partial<Record<SecretCheck, number>> = { missing: 400, exhausted: 429 };

  /**
   * Renders the verdict page, with page `page` of the record's lifecycle (400 past the last); `tries`
   * (read here when not given) shows with the key/PIN form.
   */
  async function send(
    reply: FastifyReply,
    v: Verdict,
    page: number,
    check?: { outcome: SecretCheck; tries?: SecretTries },
  ) {
    const { ctx, explorerUrl, displayTimeZone, browserCheck, chain } = app.services;
    let shown: Pick<PageView, 'record' | 'lifecycle'> = {};
    if (v.record && v.merchant) {
      const lifecycle = await lifecyclePage(ctx, v.record, page, LIFECYCLE_PAGE_EVENTS);
      if (!lifecycle) throw badRequest('invalid_page', `the lifecycle has no page ${page}`);
      shown = { record: publicRecord(ctx, v.record, v.merchant, lifecycle.events), lifecycle };
    }
    const tries = check?.tries ?? (v.record && (await secretTries(ctx, v.record)));
    const dispute = v.record ? await disputeForPage(ctx, v.record.id) : null;
    const html = renderVerdictPage({
      verdict: v.verdict,
      recordId: v.recordId,
      reason: v.reason,
      ...shown,
      ...(v.scans && { scans: v.scans }),
      scanWindowDays: Math.round(ctx.scans.windowMs / DAY_MS),
      explorerUrl,
      timeZone: displayTimeZone,
      ...(check && { secretCheck: check.outcome }),
      ...(tries && { secretTries: tries }),
      ...(v.uniqueness && { uniqueness: { uniqueness: v.uniqueness, reissueOf: v.reissueOf ?? null } }),
      ...(dispute && { dispute: { view: dispute, now: ctx.now() } }),
      disputeForm: v.record?.sold === 1 && v.record.state === 'active' && v.record.dispute === 'none',
      ...(browserCheck &&
        v.record && {
          browserCheck: {
            script: browserCheck,
            chainId: chain.chainId,
            contract: chain.contract,
            headSeq: v.record.head_seq,
          },
        }),
    });
    const status = v.verdict === 'not_found' ? 404 : ((check && CHECK_STATUS[check.outcome]) ?? 200);
    setPageHeaders(reply, browserCheck && v.record ? pageCspWithCheck(browserCheck) : undefined);
    if (tries?.retryAfterSeconds && check?.outcome === 'exhausted') {
      reply.header('retry-after', String(tries.retryAfterSeconds));
    }
    return reply.status(status).send(html);
  }

  const RevealParams = Type.Object({
    token: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }),
  });
  app.get(
    '/r/:token',
    {
      schema: {
        hide: true,
        tags: ['page'],
        summary: "A sealed delivery's reveal page",
        params: RevealParams,
      },
    },
    async (request, reply) => {
      const status = await revealStatus(app.services.ctx, request.params.token);
      setPageHeaders(reply);
      return reply.send(renderRevealAsk(request.params.token, status, app.services.displayTimeZone));
    },
  );
  app.post(
    '/r/:token',
    {
      config: {
        rateLimit: {
          max: app.services.rateLimits.secretPerMinute,
          timeWindow: '1 minute',
          keyGenerator: clientGroup,
        },
      },
      schema: {
        hide: true,
        tags: ['page'],
        summary: "Reveal a sealed delivery's key (HTML)",
        params: RevealParams,
      },
    },
    async (request, reply) => {
      const shown = await reveal(app.services.ctx, request.params.token);
      if (shown.event) app.services.batcher.kick();
      setPageHeaders(reply);
      return reply.send(renderRevealed(shown, app.services.displayTimeZone));
    },
  );

  app.get(
    '/v/:id',
    {
      onRequest: app.limits.verdict,
      schema: {
        hide: true,
        tags: ['page'],
        summary: 'The verification page (HTML) a QR code leads to; counts a scan',
        params: PageParams,
      },
    },
    async (request, reply) => {
      const page = lifecyclePageAsked(request.query);
      // Only the landing view counts a scan: turning the lifecycle's pages is not another scan.
      return send(reply, await lookup(request.params.id, page === 1 ? request : null), page);
    },
  );

  const check = app.services.browserCheck;
  if (check) {
    // Named by its hash: a new bundle is a new path, so this one may be cached for good.
    app.get(check.path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('x-content-type-options', 'nosniff')
        .send(check.code),
    );
  }

  app.get(
    '/m/:id',
    {
      onRequest: app.limits.verdict,
      schema: {
        hide: true,
        tags: ['page'],
        summary: "A merchant's credit page (HTML): GET /v1/merchants/:id/profile for people",
        params: PageParams,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      if (!isId(id)) throw notFound('merchant_not_found', 'no such merchant');
      const credit = await app.services.credit.get(app.services.ctx, id);
      setPageHeaders(reply);
      reply.header('cache-control', BRIEFLY);
      return reply.send(renderMerchantPage(credit, app.services.displayTimeZone));
    },
  );

  app.post(
    '/v/:id/secret',
    {
      config: {
        rateLimit: {
          max: app.services.rateLimits.secretPerMinute,
          timeWindow: '1 minute',
          keyGenerator: clientGroup,
        },
      },
      schema: {
        hide: true,
        tags: ['page'],
        summary: "The page's key/PIN form: the page again, with match or no match (rate-limited)",
        params: PageParams,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const body = request.body as Record<string, unknown> | null | undefined;
      const secret = typeof body?.secret === 'string' ? body.secret : '';
      if (secret.length > MAX_SECRET) {
        setPageHeaders(reply);
        return reply.status(413).send(renderErrorPage(413, isId(id) ? `/v/${id}` : undefined));
      }
      // Checking a key is not another scan: the page was already viewed to get here.
      const v = await lookup(id, null);
      if (!v.record) return send(reply, v, 1);
      if (isBlankSecret(secret)) return send(reply, v, 1, { outcome: 'missing' });
      try {
        const { match, tries } = await checkSecret(app.services.ctx, id, secret);
        return await send(reply, v, 1, { outcome: match ? 'match' : 'no_match', ...(tries && { tries }) });
      } catch (err) {
        if (!(err instanceof SecretAttemptsExhausted)) throw err;
        const tries = app.services.ctx.secretAttempts.noneLeft(err.retryAfterSeconds);
        return send(reply, v, 1, { outcome: 'exhausted', tries });
      }
    },
  );
};
