/**
 * Webhook endpoints: a merchant manages its own under /v1/webhooks with its key, the operator its own
 * under /v1/admin/webhooks with the admin token; the routes are the same. Public: the event types
 * and the shape of each one's body.
 */
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requireAdmin, requireMerchant } from '../auth.ts';
import {
  createEndpoint,
  deleteEndpoint,
  deliveryLog,
  getEndpoint,
  listEndpoints,
  replayMessage,
  rotateSecret,
  type EndpointOwner,
} from '../../service/webhooks/endpoints.ts';
import { WEBHOOK_EVENT_TYPES, WEBHOOK_EVENTS, webhookBodySchema } from '../../service/webhooks/events.ts';
import { bearerAuth, errorResponses, Id, IdParams, TEXT_PATTERN, TextField } from './schemas.ts';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const WebhookEndpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Type.String(),
  eventTypes: Type.Array(Type.String()),
  createdAt: Type.String(),
  previousSecretValidUntil: Nullable(Type.String()),
});

export const WebhookEndpointWithSecret = Type.Object({
  ...WebhookEndpoint.properties,
  secret: Type.String({
    description: 'the signing secret (whsec_…), shown only here: verify each webhook with it',
  }),
});

export const WebhookDelivery = Type.Object({
  messageId: Type.String({ description: 'the webhook-id header of every attempt' }),
  eventType: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  createdAt: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Nullable(Type.String()),
  deliveredAt: Nullable(Type.String()),
  log: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      at: Type.String(),
      statusCode: Type.Union([Type.Integer(), Type.Null()]),
      error: Nullable(Type.String()),
      latencyMs: Type.Integer(),
      nextAttemptAt: Nullable(Type.String()),
    }),
  ),
});

export const WebhookDeliveryPage = Type.Object({
  deliveries: Type.Array(WebhookDelivery),
  next: Nullable(Type.String({ description: 'pass as `before` for the next page' })),
});

export const WebhookEventTypes = Type.Object({
  eventTypes: Type.Array(
    Type.Object({
      type: Type.String(),
      description: Type.String(),
      audience: Type.Array(Type.String()),
      body: Type.Object({}, { additionalProperties: true, description: 'JSON Schema of the body' }),
    }),
  ),
});

const NewEndpoint = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, pattern: TEXT_PATTERN }),
    eventTypes: Type.Optional(
      Type.Array(Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t))), {
        minItems: 1,
        maxItems: WEBHOOK_EVENT_TYPES.length,
        uniqueItems: true,
        description: 'default: every type the owner receives',
      }),
    ),
    description: Type.Optional(TextField({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const LogQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
    before: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const ReplayParams = Type.Object({ id: Id, messageId: Id });

/** Who calls a set of endpoint routes, and how the caller is told from the request. */
interface Scope {
  prefix: string;
  tag: string;
  auth: (app: FastifyInstance) => preHandlerAsyncHookHandler[];
  owner: (request: FastifyRequest) => EndpointOwner;
}

const SCOPES: Scope[] = [
  {
    prefix: '/v1/webhooks/endpoints',
    tag: 'merchant',
    auth: (app) => [requireMerchant, ...app.limits.merchant],
    owner: (request) => ({ merchantId: request.merchant!.id }),
  },
  {
    prefix: '/v1/admin/webhooks/endpoints',
    tag: 'operator',
    auth: () => [requireAdmin],
    owner: () => 'operator',
  },
];

export const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ctx = () => app.services.ctx;

  app.get(
    '/v1/webhooks/event-types',
    {
      schema: {
        tags: ['public'],
        summary: 'Webhook event types: who receives each, and the JSON Schema of its body',
        response: { 200: WebhookEventTypes, ...errorResponses },
      },
    },
    async () => ({
      eventTypes: WEBHOOK_EVENT_TYPES.map((type) => ({
        type,
        description: WEBHOOK_EVENTS[type].description,
        audience: [...WEBHOOK_EVENTS[type].audience],
        body: webhookBodySchema(type) as Record<string, unknown>,
      })),
    }),
  );

  for (const { prefix, tag, auth, owner } of SCOPES) {
    const whose = tag === 'operator' ? "the operator's" : "the merchant's";
    const common = { preHandler: auth(app) };

    app.post(
      prefix,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: `Register a webhook endpoint (${whose}); its signing secret is shown once`,
          security: bearerAuth,
          body: NewEndpoint,
          response: { 201: WebhookEndpointWithSecret, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await createEndpoint(
          ctx(),
          app.services.webhooks,
          owner(request),
          request.body,
        );
        reply.status(201);
        return { ...endpoint, secret };
      },
    );

    app.get(
      prefix,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: `List ${whose} webhook endpoints`,
          security: bearerAuth,
          response: { 200: Type.Object({ endpoints: Type.Array(WebhookEndpoint) }), ...errorResponses },
        },
      },
      async (request) => ({ endpoints: await listEndpoints(ctx(), owner(request)) }),
    );

    app.get(
      `${prefix}/:id`,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: `One of ${whose} webhook endpoints`,
          security: bearerAuth,
          params: IdParams,
          response: { 200: WebhookEndpoint, ...errorResponses },
        },
      },
      async (request) => getEndpoint(ctx(), owner(request), request.params.id),
    );

    app.delete(
      `${prefix}/:id`,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: 'Delete a webhook endpoint: it gets nothing more; its delivery log stays readable',
          security: bearerAuth,
          params: IdParams,
          response: { 200: WebhookEndpoint, ...errorResponses },
        },
      },
      async (request) => deleteEndpoint(ctx(), owner(request), request.params.id),
    );

    app.post(
      `${prefix}/:id/secret`,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: 'Rotate the signing secret (shown once); the old one also signs for 24 hours',
          security: bearerAuth,
          params: IdParams,
          response: { 201: WebhookEndpointWithSecret, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await rotateSecret(ctx(), owner(request), request.params.id);
        reply.status(201);
        return { ...endpoint, secret };
      },
    );

    app.get(
      `${prefix}/:id/deliveries`,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: 'The delivery log: messages newest first, each with its attempts',
          security: bearerAuth,
          params: IdParams,
          querystring: LogQuery,
          response: { 200: WebhookDeliveryPage, ...errorResponses },
        },
      },
      async (request) =>
        deliveryLog(ctx(), owner(request), request.params.id, {
          before: request.query.before,
          limit: Number(request.query.limit ?? 50),
        }),
    );

    app.post(
      `${prefix}/:id/deliveries/:messageId/replay`,
      {
        ...common,
        schema: {
          tags: [tag],
          summary: 'Send a message to the endpoint again, with the same webhook-id',
          security: bearerAuth,
          params: ReplayParams,
          response: { 202: WebhookDelivery, ...errorResponses },
        },
      },
      async (request, reply) => {
        const delivery = await replayMessage(
          ctx(),
          owner(request),
          request.params.id,
          request.params.messageId,
        );
        reply.status(202);
        return delivery;
      },
    );
  }
};
