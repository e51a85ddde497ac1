/**
 * Forged proof bundles for the verify fuzzers (test/http/verify-fuzz.test.ts, test/cli/verify-fuzz.test.ts):
 * one change to a real, valid bundle: a bit flipped in a hash, an integer or a text, a member replaced by
 * a hostile value, a member removed or added, or a huge proof. Each forgery says what an honest verifier
 * must answer (docs/proof-format.md §5-6): `invalid` when the proof commits to what changed; `valid` when
 * the format says the member is never trusted (txHash, blockNumber) or is ignored (unknown members
 * outside `content`); `either` when the change is no change (a value replaced by an equal one).
 */
import fc from 'fast-check';
import type { ProofBundleV1 } from '../../src/core/index.ts';
import {
  flipHexBit,
  flipIntegerBit,
  flipTextBit,
  hostileString,
  hostileValue,
  mutatedBody,
  objectAt,
  type Fragment,
  type Path,
} from './hostile.ts';

export type Forgery =
  | { kind: 'flip hex'; path: Path; bit: number }
  | { kind: 'flip integer'; path: Path; bit: number }
  | { kind: 'flip text'; path: Path; index: number; bit: number }
  | { kind: 'replace'; path: Path; value: Fragment }
  | { kind: 'missing'; path: Path }
  | { kind: 'extra member'; path: Path; key: Fragment }
  | { kind: 'huge proof'; nodes: number };

export type Expected = 'invalid' | 'valid' | 'either';

/** Members a verifier never trusts: changing them leaves a bundle as valid as it was. */
const UNTRUSTED = new Set(['anchor.txHash', 'anchor.blockNumber']);

const TOP_MEMBERS: Path[] = [
  ['format'],
  ['recordId'],
  ['seq'],
  ['prevLeaf'],
  ['content'],
  ['leaf'],
  ['proof'],
  ['root'],
  ['batchId'],
  ['anchor'],
  ['anchor', 'chainId'],
  ['anchor', 'contract'],
  ['anchor', 'txHash'],
  ['anchor', 'blockNumber'],
  ['anchor', 'status'],
];

/** Every member of `bundle` worth forging, content members and proof nodes included. */
export function bundlePaths(bundle: ProofBundleV1): Path[] {
  return [
    ...TOP_MEMBERS,
    ...Object.keys(bundle.content).map((key) => ['content', key]),
    ...(bundle.proof ?? []).map((_, i) => ['proof', i]),
  ];
}

/** One forgery of `bundle`; `sizes` bounds the huge strings and proofs. */
export function forgeryOf(bundle: ProofBundleV1, sizes: readonly number[]): fc.Arbitrary<Forgery> {
  const hexPaths: Path[] = [
    ['leaf'],
    ['root'],
    ['prevLeaf'],
    ['content', 'salt'],
    ['anchor', 'contract'],
    ['anchor', 'txHash'],
    ...(typeof bundle.content.secretCommitment === 'string' ? [['content', 'secretCommitment']] : []),
    ...(bundle.proof ?? []).map((_, i) => ['proof', i]),
  ];
  const integerPaths: Path[] = [['seq'], ['batchId'], ['anchor', 'chainId'], ['anchor', 'blockNumber']];
  const textPaths: Path[] = [
    ['recordId'],
    ...Object.entries(bundle.content)
      .filter(([, v]) => typeof v === 'string' && v !== '')
      .map(([k]) => ['content', k]),
  ];
  return fc.oneof(
    fc.record({
      kind: fc.constant('flip hex' as const),
      path: fc.constantFrom(...hexPaths),
      bit: fc.nat({ max: 255 }),
    }),
    fc.record({
      kind: fc.constant('flip integer' as const),
      path: fc.constantFrom(...integerPaths),
      bit: fc.nat({ max: 52 }),
    }),
    fc.record({
      kind: fc.constant('flip text' as const),
      path: fc.constantFrom(...textPaths),
      index: fc.nat(),
      bit: fc.nat({ max: 15 }),
    }),
    fc.record({
      kind: fc.constant('replace' as const),
      path: fc.constantFrom(...bundlePaths(bundle)),
      value: hostileValue(sizes),
    }),
    fc.record({ kind: fc.constant('missing' as const), path: fc.constantFrom(...bundlePaths(bundle)) }),
    fc.record({
      kind: fc.constant('extra member' as const),
      path: fc.constantFrom<Path>([], ['anchor'], ['content']),
      key: hostileString(sizes.filter((n) => n <= 1000)),
    }),
    fc.record({ kind: fc.constant('huge proof' as const), nodes: fc.constantFrom(1_000, 10_000, 50_000) }),
  );
}

const at = (bundle: unknown, path: Path): unknown => objectAt(bundle, path) as unknown;

/** The forged bundle as the bytes of a JSON document. */
export function forge(bundle: ProofBundleV1, forgery: Forgery): Buffer {
  const body = structuredClone(bundle) as unknown as Record<string, unknown>;
  const set = (path: Path, value: unknown) => {
    objectAt(body, path.slice(0, -1))[path.at(-1)!] = value;
  };
  switch (forgery.kind) {
    case 'flip hex':
      set(
        forgery.path,
        flipHexBit(at(body, forgery.path) as `0x${string}`, forgery.bit % hexBits(body, forgery.path)),
      );
      break;
    case 'flip integer':
      set(forgery.path, flipIntegerBit(at(body, forgery.path) as number, forgery.bit));
      break;
    case 'flip text': {
      const text = at(body, forgery.path) as string;
      set(forgery.path, flipTextBit(text, forgery.index % text.length, forgery.bit));
      break;
    }
    case 'replace':
      return mutatedBody(body, { kind: 'value', path: forgery.path, value: forgery.value });
    case 'missing':
      return mutatedBody(body, { kind: 'missing', path: forgery.path });
    case 'extra member':
      return mutatedBody(body, { kind: 'key', path: forgery.path, key: forgery.key });
    case 'huge proof':
      body.proof = [
        ...(bundle.proof ?? []),
        ...Array.from({ length: forgery.nodes }, (_, i) => `0x${i.toString(16).padStart(64, '0')}`),
      ];
      break;
  }
  return Buffer.from(JSON.stringify(body));
}

function hexBits(body: unknown, path: Path): number {
  return ((at(body, path) as string).length - 2) * 4;
}

/** What an honest verifier must say of `forge(bundle, forgery)`. */
export function expectedVerdict(bundle: ProofBundleV1, forgery: Forgery): Expected {
  const where = 'path' in forgery ? forgery.path.join('.') : '';
  switch (forgery.kind) {
    case 'flip hex':
    case 'flip integer':
      return UNTRUSTED.has(where) ? 'valid' : 'invalid';
    case 'flip text':
    case 'missing':
    case 'huge proof':
      return 'invalid';
    case 'replace': {
      // A replacement that reads back as the same JSON (seq 0 by -0 or 1e-400, an empty proof by []) is
      // no forgery at all; an untrusted member may be replaced by another well-formed value.
      if (sameJson(parseOrUndefined(forgery.value.bytes), at(bundle, forgery.path))) return 'either';
      return UNTRUSTED.has(where) ? 'either' : 'invalid';
    }
    case 'extra member':
      // A __proto__ key is refused by the JSON parser before any verifier sees it.
      if (parseOrUndefined(forgery.key.bytes) === '__proto__') return 'either';
      // A body that is not UTF-8 is refused whole (400 invalid_json; the CLI: not valid UTF-8).
      if (!isUtf8(forgery.key.bytes)) return 'invalid';
      return where === 'content' ? 'invalid' : 'valid';
  }
}

/** Equal as JSON; too deep to write out (10,000 levels) is not equal to anything in a real bundle. */
function sameJson(a: unknown, b: unknown): boolean {
  try {
    return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function parseOrUndefined(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
