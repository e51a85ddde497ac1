/** Shared TypeBox schemas: bounded strings and the shapes several routes return. */
import { Type, type StringOptions } from '@sinclair/typebox';

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

export const AnchorStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('anchored'),
  Type.Literal('final'),
]);

export const Bundle = Type.Object(
  {
    format: Type.Literal('proofmark.bundle.v1'),
    recordId: Type.String(),
    seq: Type.Integer(),
    prevLeaf: Type.String(),
    content: Type.Object({}, { additionalProperties: true }),
    leaf: Type.String(),
    proof: Type.Union([Type.Array(Type.String()), Type.Null()]),
    root: Type.Union([Type.String(), Type.Null()]),
    batchId: Type.Union([Type.Integer(), Type.Null()]),
    anchor: Type.Object({
      chainId: Type.Integer(),
      contract: Type.String(),
      txHash: Type.Union([Type.String(), Type.Null()]),
      blockNumber: Type.Union([Type.Integer(), Type.Null()]),
      status: AnchorStatus,
    }),
  },
  { description: 'proofmark.bundle.v1 (docs/proof-format.md)' },
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
