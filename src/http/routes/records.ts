import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { EVENT_TYPES, RECORD_KINDS } from '../../core/index.ts';
import { requireAdmin, requireMerchant } from '../auth.ts';
import { BacklogFull, countAccepted, refuseWhileBacklogFull } from '../backlog-guard.ts';
import { eraseEvent } from '../../service/erasure.ts';
import { checkEventData, checkRecordTexts } from '../../service/merchant-text.ts';
import { getMerchant } from '../../service/merchants.ts';
import { recordBundles, recordBundlesV2 } from '../../service/proofs.ts';
import { stateProofDocument } from '../../service/state-proofs.ts';
import { publicRecord } from '../../service/public-view.ts';
import { appendEvent } from '../../service/record-events.ts';
import { getRecord, recordEvents } from '../../service/records.ts';
import { MAX_RECORDS_PER_REQUEST, registerRecords } from '../../service/registration.ts';
import {
  AnchorStatus,
  bearerAuth,
  Bundle,
  BundleV2,
  errorResponses,
  Id,
  IdParams,
  StateProof,
  TEXT_PATTERN,
  TextField,
} from './schemas.ts';

const Text = (max: number) => TextField({ minLength: 1, maxLength: max });
/** Small, flat, public key-value data about the item: never secrets, never anything about a person. */
const PublicData = Type.Record(
  Type.String({ maxLength: 64 }),
  Type.Union([TextField({ maxLength: 500 }), Type.Number(), Type.Boolean()]),
  {
    maxProperties: 20,
    // Type.Record keeps only a pattern for its keys and drops the key schema's maxLength.
    propertyNames: { maxLength: 64, pattern: TEXT_PATTERN },
  },
);

const RecordInput = Type.Object(
  {
    externalId: Text(128),
    kind: Type.Union(RECORD_KINDS.map((k) => Type.Literal(k))),
    sku: Text(128),
    productName: Text(300),
    serial: Text(200),
    secret: Type.Optional(Text(500)),
    metadata: Type.Optional(PublicData),
  },
  { additionalProperties: false },
);

const Erasure = Type.Object(
  { at: Type.String(), by: Type.String() },
  { description: "the operator erased this event's content: who and when; its data is empty" },
);

const PublicEvent = Type.Object({
  seq: Type.Integer(),
  type: Type.String(),
  at: Type.String(),
  data: Type.Object({}, { additionalProperties: true }),
  leaf: Type.String(),
  anchor: Type.Object({
    status: AnchorStatus,
    batchId: Type.Union([Type.Integer(), Type.Null()]),
    txHash: Type.Union([Type.String(), Type.Null()]),
    blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  }),
  erased: Type.Optional(Erasure),
});

const Registered = Type.Object({
  records: Type.Array(
    Type.Object({
      id: Type.String(),
      externalId: Type.String(),
      status: AnchorStatus,
      verifyUrl: Type.String(),
    }),
  ),
});

export const PublicRecordSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  sku: Type.String(),
  productName: Type.String(),
  serial: Type.String(),
  metadata: Type.Object({}, { additionalProperties: true }),
  state: Type.String(),
  createdAt: Type.String(),
  hasSecret: Type.Boolean(),
  verifyUrl: Type.String(),
  merchant: Type.Object({
    id: Type.String(),
    name: Type.String(),
    status: Type.String(),
    verifiedSince: Type.Union([Type.String(), Type.Null()]),
  }),
  events: Type.Array(PublicEvent),
});

export const recordRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ctx = () => app.services.ctx;
  // Before the body is read: a request without a valid key, past its merchant's budget or into a
  // full backlog costs no parsing (and its connection closes: see slow-clients.ts).
  const merchantWrite = [requireMerchant, ...app.limits.merchant, refuseWhileBacklogFull];

  app.post(
    '/v1/records',
    {
      onRequest: merchantWrite,
      schema: {
        tags: ['merchant'],
        summary: 'Register up to 1,000 records, all or nothing; idempotent on externalId',
        description:
          'A replay of the same records returns the same ids (200 when nothing new was created, 201 otherwise). ' +
          'The same externalId with different content is a 409 and nothing is written. `secret` is kept only as a salted commitment. ' +
          'One key, one sale: a secret already held by a live record of any merchant (case, spaces and separators aside) is 409 ' +
          'duplicate_secret, a serial already held in this SKU 409 duplicate_serial; `refused` lists every such record and nothing ' +
          'is written. A secret of a refunded or revoked record may be registered again by its merchant (a re-issue). ' +
          'productName, sku, serial and metadata are shown on the verification page: control, bidi and invisible characters are 400 ' +
          'unsafe_text, text with nothing visible 400 blank_text; metadata naming a person (buyer, name, phone, email …) is 400 ' +
          'personal_data (README: what may go in metadata and data).',
        security: bearerAuth,
        body: Type.Object(
          { records: Type.Array(RecordInput, { minItems: 1, maxItems: MAX_RECORDS_PER_REQUEST }) },
          { additionalProperties: false },
        ),
        response: {
          ...errorResponses,
          200: Registered,
          201: Registered,
          503: BacklogFull,
        },
      },
    },
    async (request, reply) => {
      checkRecordTexts(request.body.records);
      const { created, records } = await registerRecords(ctx(), request.merchant!, request.body.records);
      countAccepted(app.services, request.merchant!.id, created);
      if (created > 0) app.services.batcher.kick();
      reply.status(created > 0 ? 201 : 200);
      return { records };
    },
  );

  app.post(
    '/v1/records/:id/events',
    {
      onRequest: merchantWrite,
      schema: {
        tags: ['merchant'],
        summary: `Add a lifecycle event (${EVENT_TYPES.join(', ')})`,
        description:
          'Only the issuing merchant may. Impossible steps (anything after revoked or refunded, a second activation) are 409. ' +
          '`data` is public and permanent: about the item, never a person (400 personal_data, unsafe_text, blank_text as for records). ' +
          'A record holds at most MAX_EVENTS_PER_RECORD events (409 record_event_limit), and `data` is at most ' +
          'MAX_EVENT_DATA_BYTES as canonical JSON (413 event_data_too_large); either way nothing is written.',
        security: bearerAuth,
        params: IdParams,
        body: Type.Object(
          { type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))), data: Type.Optional(PublicData) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            recordId: Type.String(),
            seq: Type.Integer(),
            type: Type.String(),
            leaf: Type.String(),
            status: AnchorStatus,
          }),
          ...errorResponses,
          503: BacklogFull,
        },
      },
    },
    async (request, reply) => {
      checkEventData(request.body.data);
      const event = await appendEvent(
        ctx(),
        request.merchant!,
        request.params.id,
        request.body.type,
        request.body.data,
      );
      countAccepted(app.services, request.merchant!.id, 1);
      app.services.batcher.kick();
      reply.status(201);
      return {
        recordId: event.record_id,
        seq: event.seq,
        type: event.type,
        leaf: event.leaf,
        status: 'pending' as const,
      };
    },
  );

  app.post(
    '/v1/records/:id/events/:seq/erasure',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['operator'],
        summary:
          "Erase one event's content: a tombstone replaces it; its leaf and every other proof stay valid",
        description:
          'For content that should never have been published (personal data). The tombstone names `by` and the time; the ' +
          "event's own bundle no longer verifies, the record's other events and every other record still do. The issuance " +
          '(seq 0) cannot be erased (409 issuance_not_erasable). Erasing again changes nothing.',
        security: bearerAuth,
        params: Type.Object({ id: Id, seq: Type.String({ pattern: '^[0-9]{1,10}$' }) }),
        body: Type.Object(
          {
            by: TextField({
              minLength: 1,
              maxLength: 100,
              description: 'who erased it: a role or ticket, not a person',
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            recordId: Type.String(),
            seq: Type.Integer(),
            type: Type.String(),
            erased: Erasure,
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const erased = await eraseEvent(ctx(), request.params.id, Number(request.params.seq), request.body.by);
      request.log.warn(
        { recordId: erased.recordId, seq: erased.seq, by: erased.erased.by },
        'event content erased',
      );
      return erased;
    },
  );

  app.get(
    '/v1/records/:id',
    {
      schema: {
        tags: ['public'],
        summary: 'A record: public fields, merchant, lifecycle with the anchor state of each event',
        params: IdParams,
        response: { 200: PublicRecordSchema, ...errorResponses },
      },
    },
    async (request) => {
      const record = await getRecord(ctx(), request.params.id);
      const [merchant, events] = await Promise.all([
        getMerchant(ctx(), record.merchant_id),
        recordEvents(ctx(), record.id),
      ]);
      return publicRecord(ctx(), record, merchant, events);
    },
  );

  app.get(
    '/v1/records/:id/proofs',
    {
      schema: {
        tags: ['public', 'auditor'],
        summary: 'One proofmark.bundle.v1 per event, in seq order (v2 for anchored events with ?format=v2)',
        params: IdParams,
        querystring: Type.Object(
          { format: Type.Optional(Type.Union([Type.Literal('v1'), Type.Literal('v2')])) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ recordId: Type.String(), bundles: Type.Array(Type.Union([Bundle, BundleV2])) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { chain } = app.services;
      const bundles =
        request.query.format === 'v2'
          ? await recordBundlesV2(ctx(), chain, request.params.id)
          : await recordBundles(ctx(), chain, request.params.id);
      return { recordId: request.params.id, bundles };
    },
  );

  app.get(
    '/v1/records/:id/state-proof',
    {
      schema: {
        tags: ['public', 'auditor'],
        summary:
          "The record's state (or absence) under a batch's item-directory root; by default the latest batch whose state root is anchored",
        params: IdParams,
        querystring: Type.Object(
          { batch: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,14}$' })) },
          { additionalProperties: false },
        ),
        response: { 200: StateProof, ...errorResponses },
      },
    },
    async (request) => {
      const { batch } = request.query;
      return stateProofDocument(
        ctx(),
        app.services.chain,
        request.params.id,
        batch === undefined ? undefined : Number(batch),
      );
    },
  );
};
