/**
 * After the sale: a merchant's sealed sale, the buyer's reveal link (JSON here; the page is
 * routes/reveal-page.ts), disputes opened by buyers, answered by merchants and decided by the
 * operator. Opening and answering take JSON or multipart/form-data (fields plus evidence files).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { requireAdmin, requireMerchant } from '../auth.ts';
import { clientGroup } from '../client-address.ts';
import {
  answerDispute,
  decideDispute,
  disputeView,
  listDisputes,
  merchantDispute,
  openDispute,
} from '../../service/after-sale/disputes.ts';
import {
  MAX_EVIDENCE_BYTES,
  MAX_EVIDENCE_FILES,
  type EvidenceUpload,
} from '../../service/after-sale/evidence.ts';
import { reveal, revealStatus, sellSealed } from '../../service/after-sale/sealed-delivery.ts';
import { BacklogFull, countAccepted, refuseWhileBacklogFull } from '../backlog-guard.ts';
import { badRequest, notFound, ServiceError } from '../../service/errors.ts';
import { DISPUTE_REASONS, DISPUTE_RESPONSES } from '../../storage/rows.ts';
import { renderErrorPage } from '../page/render.ts';
import { setPageHeaders } from '../page/style.ts';
import { bearerAuth, errorResponses, IdParams, TextField } from './schemas.ts';

const TokenParams = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }),
});
const DisputeParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});

/** The text fields a form may carry, and how long each may be. */
const FIELD_BYTES = 8 * 1024;

/** The fields and files of a dispute step, from a JSON body or a multipart form. */
export interface StepInput {
  fields: Record<string, string>;
  files: EvidenceUpload[];
}

/**
 * Reads a step's input: JSON (string fields, no files) or multipart (fields, and files under any
 * name). 400 invalid_request for a non-string JSON field; 413 file_too_large, 400 too_many_files.
 */
export async function readStep(request: FastifyRequest): Promise<StepInput> {
  if (!request.isMultipart()) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body))
      throw badRequest('invalid_request', 'body must be an object');
    const fields: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) {
      if (typeof value === 'boolean') fields[key] = String(value);
      else if (typeof value !== 'string') throw badRequest('invalid_request', `body/${key} must be a string`);
      else fields[key] = value;
    }
    return { fields, files: [] };
  }
  const fields: Record<string, string> = {};
  const files: EvidenceUpload[] = [];
  try {
    for await (const part of request.parts({
      limits: { fileSize: MAX_EVIDENCE_BYTES, files: MAX_EVIDENCE_FILES, fields: 10, fieldSize: FIELD_BYTES },
    })) {
      if (part.type === 'file') files.push({ bytes: new Uint8Array(await part.toBuffer()) });
      else fields[part.fieldname] = String(part.value);
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new ServiceError(413, 'file_too_large', `an evidence file is over ${MAX_EVIDENCE_BYTES} bytes`);
    }
    if (code === 'FST_FILES_LIMIT_REACHED' || code === 'FST_FILES_LIMIT') {
      throw badRequest(
        'too_many_files',
        `at most ${MAX_EVIDENCE_FILES} evidence files may be attached to one step`,
      );
    }
    if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
      throw badRequest('invalid_request', 'the form has too many fields');
    }
    throw err;
  }
  return { fields, files };
}

const Dispute = Type.Object({
  id: Type.String(),
  recordId: Type.String(),
  merchantId: Type.String(),
  reason: Type.String(),
  description: Type.String(),
  status: Type.Union([Type.Literal('open'), Type.Literal('answered'), Type.Literal('decided')]),
  openedAt: Type.String(),
  respondBy: Type.String(),
  response: Type.Union([Type.String(), Type.Null()]),
  answer: Type.Union([Type.String(), Type.Null()]),
  answeredAt: Type.Union([Type.String(), Type.Null()]),
  decision: Type.Union([Type.String(), Type.Null()]),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
  files: Type.Array(
    Type.Object({
      position: Type.Integer(),
      side: Type.String(),
      contentType: Type.String(),
      size: Type.Integer(),
      sha256: Type.String(),
    }),
  ),
  activatedBeforeReveal: Type.Union([Type.Boolean(), Type.Null()]),
});

const stepDoc =
  'JSON, or multipart/form-data with the same fields and up to ' +
  `${MAX_EVIDENCE_FILES} evidence files (PNG, JPEG, WebP or PDF, checked by content, at most ${MAX_EVIDENCE_BYTES} bytes each; ` +
  "each file's SHA-256 goes into the step's anchored event).";

export const disputeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(multipart);
  const ctx = () => app.services.ctx;
  const secretLimit = {
    rateLimit: {
      max: app.services.rateLimits.secretPerMinute,
      timeWindow: '1 minute',
      keyGenerator: clientGroup,
    },
  };

  app.post(
    '/v1/records/:id/sealed-sale',
    {
      onRequest: [requireMerchant, ...app.limits.merchant, refuseWhileBacklogFull],
      schema: {
        tags: ['merchant'],
        summary: 'Record a sale with sealed delivery: proofmark keeps the secret sealed for the buyer',
        description:
          'Appends `sold` (data {delivery: "sealed"}) and keeps `secret` encrypted under the server key until ' +
          "SEALED_DELIVERY_TTL_HOURS after the sale, then deletes it. The answer holds the buyer's one-time reveal link: " +
          'hand it to the buyer; it is not stored and cannot be shown again. A record registered with a secret takes only ' +
          'that secret (400 secret_mismatch).',
        security: bearerAuth,
        params: IdParams,
        body: Type.Object(
          { secret: TextField({ minLength: 1, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            recordId: Type.String(),
            seq: Type.Integer(),
            leaf: Type.String(),
            revealUrl: Type.String(),
            expiresAt: Type.String(),
          }),
          ...errorResponses,
          503: BacklogFull,
        },
      },
    },
    async (request, reply) => {
      const sale = await sellSealed(ctx(), request.merchant!, request.params.id, request.body.secret);
      countAccepted(app.services, request.merchant!.id, 1);
      app.services.batcher.kick();
      reply.status(201);
      return sale;
    },
  );

  app.get(
    '/v1/reveal/:token',
    {
      schema: {
        tags: ['public'],
        summary: "A reveal link's state, without the secret",
        params: TokenParams,
        response: {
          200: Type.Object({
            recordId: Type.String(),
            revealedAt: Type.Union([Type.String(), Type.Null()]),
            expiresAt: Type.String(),
            available: Type.Boolean(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => revealStatus(ctx(), request.params.token),
  );

  app.post(
    '/v1/reveal/:token',
    {
      config: secretLimit,
      schema: {
        tags: ['public'],
        summary: "Reveal a sealed delivery's secret to the buyer",
        description:
          'The first reveal appends `revealed` to the item (anchored, with its time); later ones show the secret again ' +
          'and add nothing. 410 reveal_expired once the secret was deleted.',
        params: TokenParams,
        response: {
          200: Type.Object({
            recordId: Type.String(),
            secret: Type.String(),
            revealedAt: Type.String(),
            first: Type.Boolean(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const shown = await reveal(ctx(), request.params.token);
      if (shown.event) app.services.batcher.kick();
      return {
        recordId: shown.recordId,
        secret: shown.secret,
        revealedAt: shown.revealedAt,
        first: shown.first,
      };
    },
  );

  app.post(
    '/v1/records/:id/disputes',
    {
      config: secretLimit,
      schema: {
        tags: ['public'],
        summary: 'Open a dispute on a sold item (the buyer, showing possession)',
        description:
          `Fields: \`reason\` (${DISPUTE_REASONS.join(', ')}), \`description\`, and \`secret\` (checked within the ` +
          "record's guess budget, as the secret check) or `revealToken` (the reveal link's last part). " +
          `${stepDoc} 403 possession_required, 409 lifecycle_violation when a dispute is open or the item was never sold, ` +
          '409 record_event_limit when the item has no room left for a dispute (after 16 after-sale steps past MAX_EVENTS_PER_RECORD). ' +
          'The merchant must answer within DISPUTE_RESPONSE_HOURS, or the dispute is decided for the buyer.',
        params: IdParams,
        response: { 201: Dispute, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { fields, files } = await readStep(request);
      const view = await openDispute(ctx(), request.params.id, {
        secret: fields.secret,
        revealToken: fields.revealToken,
        reason: fields.reason ?? '',
        description: fields.description ?? '',
        files,
      });
      app.services.batcher.kick();
      reply.status(201);
      return view;
    },
  );

  // The page's form: the same step, answered with the page (303 to it) or an HTML error page.
  app.post(
    '/v/:id/dispute',
    { config: secretLimit, schema: { hide: true, tags: ['page'], params: IdParams } },
    async (request, reply) => {
      try {
        const { fields, files } = await readStep(request);
        await openDispute(ctx(), request.params.id, {
          // Named apart from the page's key-check field, so each form's input is its own.
          secret: fields.disputeSecret,
          revealToken: fields.revealToken,
          reason: fields.reason ?? '',
          description: fields.description ?? '',
          files: files.filter((f) => f.bytes.length > 0),
        });
        app.services.batcher.kick();
        return reply.redirect(`/v/${request.params.id}#dispute`, 303);
      } catch (err) {
        const status = err instanceof ServiceError && err.statusCode < 500 ? err.statusCode : 500;
        if (status === 500) request.log.error({ err }, 'dispute form failed');
        setPageHeaders(reply);
        return reply.status(status).send(renderErrorPage(status, `/v/${request.params.id}`));
      }
    },
  );

  app.get(
    '/v1/disputes/:id',
    {
      onRequest: [requireMerchant, ...app.limits.merchant],
      schema: {
        tags: ['merchant'],
        summary: "One of the merchant's disputes",
        security: bearerAuth,
        params: DisputeParams,
        response: { 200: Dispute, ...errorResponses },
      },
    },
    async (request) => merchantDispute(ctx(), request.merchant!, request.params.id),
  );

  app.post(
    '/v1/disputes/:id/answer',
    {
      onRequest: [requireMerchant, ...app.limits.merchant],
      schema: {
        tags: ['merchant'],
        summary: 'Answer a dispute before its deadline: accept_refund, replace or contest',
        description:
          `Fields: \`response\` (${DISPUTE_RESPONSES.join(', ')}) and an optional \`answer\`. ${stepDoc} ` +
          'accept_refund decides for the buyer and refunds the item; replace decides for the buyer without a refund; ' +
          'contest leaves the decision to the operator. 409 dispute_not_open, 409 dispute_deadline_passed.',
        security: bearerAuth,
        params: DisputeParams,
        response: { 200: Dispute, ...errorResponses },
      },
    },
    async (request) => {
      const { fields, files } = await readStep(request);
      const view = await answerDispute(ctx(), request.merchant!, request.params.id, {
        response: fields.response ?? '',
        answer: fields.answer,
        files,
      });
      app.services.batcher.kick();
      return view;
    },
  );

  app.get(
    '/v1/disputes/:id/files/:position',
    {
      onRequest: [requireMerchant, ...app.limits.merchant],
      schema: {
        tags: ['merchant'],
        summary: "An evidence file of one of the merchant's disputes",
        security: bearerAuth,
        params: Type.Object({
          id: DisputeParams.properties.id,
          position: Type.String({ pattern: '^[0-9]{1,2}$' }),
        }),
        response: {
          200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'the file as uploaded' }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      await merchantDispute(ctx(), request.merchant!, request.params.id);
      return sendFile(request.params.id, Number(request.params.position), reply);
    },
  );

  const sendFile = async (id: string, position: number, reply: import('fastify').FastifyReply) => {
    const file = await ctx().storage.afterSale.file(id, position);
    if (!file) throw notFound('file_not_found', `dispute ${id} has no file ${position}`);
    // Served as a download, never rendered in the API's origin.
    reply
      .header('content-type', file.content_type)
      .header('content-disposition', `attachment; filename="${id}-${position}"`)
      .header('x-content-type-options', 'nosniff');
    return Buffer.from(file.bytes);
  };

  app.get(
    '/v1/admin/disputes',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'Disputes waiting: open (for the merchant) and answered (contested, for the operator)',
        security: bearerAuth,
        querystring: Type.Object({
          status: Type.Optional(
            Type.Union([Type.Literal('open'), Type.Literal('answered'), Type.Literal('decided')]),
          ),
        }),
        response: { 200: Type.Object({ disputes: Type.Array(Dispute) }), ...errorResponses },
      },
    },
    async (request) => {
      const statuses = request.query.status ? [request.query.status] : (['open', 'answered'] as const);
      const rows = await listDisputes(ctx(), statuses);
      return { disputes: await Promise.all(rows.map((d) => disputeView(ctx(), d.id))) };
    },
  );

  app.get(
    '/v1/admin/disputes/:id',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'One dispute, with its files listed',
        security: bearerAuth,
        params: DisputeParams,
        response: { 200: Dispute, ...errorResponses },
      },
    },
    async (request) => disputeView(ctx(), request.params.id),
  );

  app.get(
    '/v1/admin/disputes/:id/files/:position',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'An evidence file of a dispute',
        security: bearerAuth,
        params: Type.Object({
          id: DisputeParams.properties.id,
          position: Type.String({ pattern: '^[0-9]{1,2}$' }),
        }),
        response: {
          200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'the file as uploaded' }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      await disputeView(ctx(), request.params.id);
      return sendFile(request.params.id, Number(request.params.position), reply);
    },
  );

  app.post(
    '/v1/admin/disputes/:id/decision',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'Decide a dispute (the operator arbitrates)',
        description:
          'For the buyer: the item is refunded, and with `strike` the merchant takes a strike (the first warns, the ' +
          'second suspends). For the merchant: the item takes events again. 409 dispute_decided once decided.',
        security: bearerAuth,
        params: DisputeParams,
        body: Type.Object(
          {
            decision: Type.Union([Type.Literal('buyer'), Type.Literal('merchant')]),
            strike: Type.Optional(Type.Boolean()),
            note: Type.Optional(TextField({ minLength: 1, maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Dispute, ...errorResponses },
      },
    },
    async (request) => {
      const view = await decideDispute(ctx(), request.params.id, {
        decision: request.body.decision,
        strike: request.body.strike ?? false,
        note: request.body.note,
      });
      app.services.batcher.kick();
      return view;
    },
  );
};
