/** Shared TypeBox schemas: bounded strings and the shapes several routes return. */
import { Type, type Static, type StringOptions } from '@sinclair/typebox';
import {
  ANCHOR_STATUSES,
  BUNDLE_FORMAT_V1,
  BUNDLE_FORMAT_V2,
  STATE_PROOF_FORMAT,
  type BundleAnchor,
  type ProofBundleV1,
} from '../../core/index.ts';

/**
 * Text a request may carry: no NUL (PostgreSQL text cannot store it) and no lone UTF-16 surrogate (no
 * character at all: UTF-8 cannot encode it and RFC 8785, which hashes record content, refuses it).
 * Ajv compiles patterns with the `u` flag, so a surrogate pair is one code point and passes.
 */
export const TEXT_PATTERN = '^[^\\u0000\\ud800-\\udfff]*$';
export const TextField = (options: StringOptions = {}) => Type.String({ ...options, pattern: TEXT_PATTERN });

export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
export const IdParams = Type.Object({ id: Id });
export const Hex32 = Type.String({ pattern: '^0x[0-9a-f]{64}$' });
export const errorResponses = {
  400: { $ref: 'ErrorResponse#' },
  401: { $ref: 'ErrorResponse#' },
  403: { $ref: 'ErrorResponse#' },
  404: { $ref: 'ErrorResponse#' },
  409: { $ref: 'ErrorResponse#' },
  413: { $ref: 'ErrorResponse#' },
  429: { $ref: 'ErrorResponse#' },
} as const;
export const bearerAuth = [{ bearerAuth: [] }];

export const AnchorStatus = Type.Union(ANCHOR_STATUSES.map((status) => Type.Literal(status)));

const BundleAnchorSchema = Type.Object({
  chainId: Type.Integer(),
  contract: Type.String(),
  txHash: Type.Union([Type.String(), Type.Null()]),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  status: AnchorStatus,
});

/**
 * A proofmark.bundle.v1 as the API sends it. The format is core's (src/core/bundle.ts): its
 * constants name the format and the statuses here, and `_bundleFitsCore` below stops the build when
 * this schema and core's ProofBundleV1 part ways (a field added, dropped or retyped). The field
 * rules (32-byte hex, a pending bundle's nulls) stay in core's bundleShapeError alone: it judges
 * bundles from outside, while this schema serialises and documents the service's own, so it keeps
 * the looser shape the OpenAPI document has always published.
 */
export const Bundle = Type.Object(
  {
    format: Type.Literal(BUNDLE_FORMAT_V1),
    recordId: Type.String(),
    seq: Type.Integer(),
    prevLeaf: Type.String(),
    content: Type.Object({}, { additionalProperties: true }),
    leaf: Type.String(),
    proof: Type.Union([Type.Array(Type.String()), Type.Null()]),
    root: Type.Union([Type.String(), Type.Null()]),
    batchId: Type.Union([Type.Integer(), Type.Null()]),
    anchor: BundleAnchorSchema,
  },
  { description: `${BUNDLE_FORMAT_V1} (docs/proof-format.md)` },
);

/** `true` only when every Core value fits Schema and both name the same fields. */
type Fits<Core, Schema> = Core extends Schema
  ? [keyof Core] extends [keyof Schema]
    ? [keyof Schema] extends [keyof Core]
      ? true
      : never
    : never
  : never;
const _bundleFitsCore: Fits<ProofBundleV1, Static<typeof Bundle>> &
  Fits<BundleAnchor, Static<typeof BundleAnchorSchema>> = true;

const DirectoryValueSchema = Type.Union([
  Type.Object({ seq: Type.Integer(), leaf: Type.String(), ended: Type.Boolean() }),
  Type.Null(),
]);

/** proofmark.state.v1 (src/core/state.ts, docs/proof-format.md §10). */
export const StateProof = Type.Object(
  {
    format: Type.Literal(STATE_PROOF_FORMAT),
    recordId: Type.String(),
    recordKey: Type.String(),
    batchId: Type.Integer(),
    stateRoot: Type.String(),
    anchor: Type.Union([
      Type.Object({
        chainId: Type.Integer(),
        contract: Type.String(),
        txHash: Type.String(),
        blockNumber: Type.Integer(),
      }),
      Type.Null(),
    ]),
    value: DirectoryValueSchema,
    proof: Type.String({ description: 'the directory proof, proof-format.md §9, as 0x-hex' }),
  },
  { description: `${STATE_PROOF_FORMAT} (docs/proof-format.md)` },
);

/** proofmark.bundle.v2: a v1 bundle's fields and its record's state under the same batch. */
export const BundleV2 = Type.Object(
  {
    ...Bundle.properties,
    format: Type.Literal(BUNDLE_FORMAT_V2),
    state: Type.Object({
      batchId: Type.Integer(),
      stateRoot: Type.String(),
      value: DirectoryValueSchema,
      proof: Type.String(),
    }),
  },
  { description: `${BUNDLE_FORMAT_V2} (docs/proof-format.md)` },
);

export const Batch = Type.Object({
  id: Type.Integer(),
  root: Type.String(),
  leafCount: Type.Integer(),
  status: Type.Union([
    Type.Literal('sealed'),
    Type.Literal('submitted'),
    Type.Literal('anchored'),
    Type.Literal('final'),
  ]),
  sealedAt: Type.String(),
  txHash: Type.Union([Type.String(), Type.Null()]),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
});
