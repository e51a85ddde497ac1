/**
 * Hostile input for the fuzz tests (test/http/fuzz.test.ts, test/http/verify-fuzz.test.ts,
 * test/cli/verify-fuzz.test.ts) and single-bit flips for the tamper properties (test/core/tamper.test.ts):
 * unicode edge cases, boundary numbers, invalid UTF-8, huge strings, deep nesting, and one way to flip
 * one bit of a hex value, a string or a number.
 *
 * A hostile value travels as a Fragment: the raw bytes of a JSON value (which may be invalid UTF-8 or
 * not JSON at all), named by a short label so that a fast-check counterexample stays readable.
 */
import fc from 'fast-check';
import { bytesToHex, hexToBytes, type Hex } from '../../src/core/index.ts';

export interface Fragment {
  label: string;
  bytes: Buffer;
}

export function fragment(label: string, bytes: Buffer | string): Fragment {
  const value = { label, bytes: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8') };
  // fast-check prints counterexamples with this instead of dumping a megabyte of bytes.
  Object.defineProperty(value, fc.toStringMethod, { value: () => `<${label}>` });
  return value;
}

/** A JS value as its JSON text (JSON.stringify writes lone surrogates as \ud800 escapes). */
export const jsonFragment = (label: string, value: unknown): Fragment =>
  fragment(label, JSON.stringify(value) ?? 'null');

/** Strings that trip careless code, each named. */
export const UNICODE_EDGE_CASES: Readonly<Record<string, string>> = {
  'lone high surrogate': '\ud800',
  'lone low surrogate': '\udc00',
  'surrogates reversed': '\udc00\ud83d',
  'lone surrogate inside text': 'ab\ud83dcd',
  NUL: '\u0000',
  'NUL inside text': 'a\u0000b',
  'U+FFFF': '\uffff',
  'U+FFFE': '\ufffe',
  'byte order mark': '\ufeffbom',
  'replacement character': '\ufffd',
  'RTL override': 'invoice\u202egnp.exe',
  'Arabic, right to left': 'مرحبا بالعالم',
  'RLM and LRM marks': '\u200f\u200e',
  'combining marks': 'e\u0301\u0302\u0303\u0304',
  zalgo: 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319a\u0337\u0321l\u0338g\u0335o',
  'NFC e-acute': '\u00e9',
  'NFD e-acute': 'e\u0301',
  'emoji ZWJ family': '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466}',
  'rainbow flag ZWJ': '\u{1F3F3}\ufe0f\u200d\u{1F308}',
  'astral CJK': '\u{20731}\u{2070E}',
  'line and paragraph separators': '\u2028\u2029',
  'C0 and C1 controls': '\u0001\u0007\u001b[31m\u007f\u0085\u009b',
  'CRLF header injection': 'x\r\nSet-Cookie: a=b',
  'format strings': '%s%n%x%d{0}${7*7}{{7*7}}',
  HTML: '<script>alert(1)</script>',
  SQL: "'; DROP TABLE records; --",
  'dot-dot path': '../../../etc/passwd',
  'zero-width characters': '\u200b\u200c\u200d\u2060',
  'fullwidth text': '\uff57\uff49\uff44\uff45\u3000\uff54\uff45\uff58\uff54',
  'whitespace only': ' \t\n ',
  'prototype key': '__proto__',
};

/** Byte sequences that are not UTF-8: overlong forms, encoded surrogates, truncations, bytes never used. */
export const INVALID_UTF8: Readonly<Record<string, number[]>> = {
  'overlong slash': [0xc0, 0xaf],
  'overlong NUL': [0xc0, 0x80],
  'overlong 3-byte slash': [0xe0, 0x80, 0xaf],
  'overlong 4-byte slash': [0xf0, 0x80, 0x80, 0xaf],
  'encoded high surrogate': [0xed, 0xa0, 0x80],
  'encoded low surrogate': [0xed, 0xbf, 0xbf],
  'truncated 3-byte sequence': [0xe2, 0x82],
  'truncated 4-byte sequence': [0xf0, 0x9f, 0x98],
  'byte 0xFF': [0xff],
  'byte 0xFE': [0xfe],
  '5-byte sequence': [0xf8, 0x88, 0x80, 0x80, 0x80],
  'lone continuation byte': [0x80],
  'above U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
};

/** JSON texts at the edges of what numbers, strings and containers can be. */
export const BOUNDARY_JSON: readonly string[] = [
  '""',
  '0',
  '-0',
  '-1',
  '1.5',
  '9007199254740992', // 2^53
  '9007199254740993',
  '-9007199254740993',
  '4294967296', // 2^32
  '18446744073709551616', // 2^64
  `1${'0'.repeat(400)}`,
  '1e400',
  '-1e400',
  '1e-400',
  '"NaN"',
  '"Infinity"',
  '"-1"',
  '"1e400"',
  'null',
  'true',
  'false',
  '[]',
  '{}',
  '[null]',
  '{"":""}',
  '"0x"',
  `"0x${'0'.repeat(64)}"`,
];

/** Levels of nesting for the deep-nesting cases. */
export const DEEP = 10_000;

/** 10,000 levels of arrays or objects: far deeper than any body the API accepts. */
export const DEEP_FRAGMENTS: readonly Fragment[] = [
  fragment(`${DEEP} nested arrays`, `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`),
  fragment(`${DEEP} nested objects`, `${'{"":'.repeat(DEEP)}0${'}'.repeat(DEEP)}`),
];

const UNICODE_ENTRIES = Object.entries(UNICODE_EDGE_CASES);

/** One unicode edge case, or a few run together with ordinary text between. */
export const unicodeText: fc.Arbitrary<{ label: string; text: string }> = fc.oneof(
  fc.constantFrom(...UNICODE_ENTRIES).map(([label, text]) => ({ label, text })),
  fc.array(fc.constantFrom(...UNICODE_ENTRIES), { minLength: 2, maxLength: 4 }).map((parts) => ({
    label: parts.map(([l]) => l).join(' + '),
    text: parts.map(([, t]) => `ok ${t}`).join(''),
  })),
);

/**
 * Hostile strings: unicode edge cases, invalid UTF-8 between the quotes, arbitrary code points, and huge
 * strings of `sizes` characters (one-, three- and four-byte ones).
 */
export function hostileString(sizes: readonly number[]): fc.Arbitrary<Fragment> {
  return fc.oneof(
    { weight: 4, arbitrary: unicodeText.map(({ label, text }) => jsonFragment(label, text)) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...Object.entries(INVALID_UTF8))
        .map(([label, bytes]) =>
          fragment(label, Buffer.concat([Buffer.from('"ok '), Buffer.from(bytes), Buffer.from(' ok"')])),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => jsonFragment('code points', s)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...sizes), fc.constantFrom('x', '\u6d4b', '\u{1F3AE}'))
        .map(([n, unit]) => jsonFragment(`${n} x ${JSON.stringify(unit)}`, unit.repeat(n))),
    },
  );
}

/** Any hostile value: a hostile string, a boundary value, deep nesting or arbitrary JSON. */
export function hostileValue(sizes: readonly number[]): fc.Arbitrary<Fragment> {
  return fc.oneof(
    { weight: 4, arbitrary: hostileString(sizes) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...BOUNDARY_JSON).map((text) => fragment(text.slice(0, 24), text)),
    },
    { weight: 1, arbitrary: fc.constantFrom(...DEEP_FRAGMENTS) },
    {
      weight: 1,
      arbitrary: fc
        .jsonValue({ maxDepth: 3 })
        .map((v) => jsonFragment(`json ${JSON.stringify(v).slice(0, 40)}`, v)),
    },
  );
}

/** Arbitrary values made JSON as far as they go (fc.anything holds undefined, symbols, -0, Maps...). */
export const anythingAsJson: fc.Arbitrary<Fragment> = fc
  .anything({ maxDepth: 3, withBigInt: true, withNullPrototype: true, withBoxedValues: true })
  .map((v) => {
    const shown = fc.stringify(v);
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch {
      text = undefined; // a bigint somewhere: send how fast-check shows it, which is not JSON either
    }
    return fragment(`anything ${shown.slice(0, 40)}`, text ?? shown);
  });

// ---------------------------------------------------------------------------------------------------
// One field of a valid JSON body made hostile.

/** Where in a JSON body: keys and array indexes from the top. */
export type Path = Array<string | number>;

/** A hostile value at `path`, a hostile extra key in the object at `path`, or the member at `path` gone. */
export type Mutation =
  | { kind: 'value'; path: Path; value: Fragment }
  | { kind: 'key'; path: Path; key: Fragment }
  | { kind: 'missing'; path: Path };

/** Marks where the hostile bytes go; JSON.stringify writes it as an escaped string no real value holds. */
const HOLE = '\u0001hole\u0001';

export function objectAt(body: unknown, path: Path): Record<string | number, unknown> {
  return path.reduce<unknown>(
    (node, step) => (node as Record<string | number, unknown>)[step],
    body,
  ) as Record<string | number, unknown>;
}

/** `valid` with one mutation applied, as the bytes to send. */
export function mutatedBody(valid: Record<string, unknown>, mutation: Mutation): Buffer {
  const body = structuredClone(valid);
  if (mutation.kind === 'missing') {
    const parent = objectAt(body, mutation.path.slice(0, -1));
    const last = mutation.path.at(-1)!;
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
    return Buffer.from(JSON.stringify(body));
  }
  let hostile: Fragment;
  if (mutation.kind === 'value') {
    if (mutation.path.length === 0) return mutation.value.bytes;
    objectAt(body, mutation.path.slice(0, -1))[mutation.path.at(-1)!] = HOLE;
    hostile = mutation.value;
  } else {
    objectAt(body, mutation.path)[HOLE] = 'extra';
    hostile = mutation.key;
  }
  const [before, after] = JSON.stringify(body).split(JSON.stringify(HOLE));
  return Buffer.concat([Buffer.from(before!), hostile.bytes, Buffer.from(after!)]);
}

// ---------------------------------------------------------------------------------------------------
// Single-bit flips: the one way the tamper tests change a value.

/** `hex` (0x + an even number of hex digits) with bit `bit` (0 = the last byte's lowest) flipped. */
export function flipHexBit(hex: Hex, bit: number): Hex {
  const bytes = hexToBytes(hex);
  const index = bytes.length - 1 - Math.floor(bit / 8);
  bytes[index]! ^= 1 << (bit % 8);
  return bytesToHex(bytes);
}

/** `text` with bit `bit` (0-15) of UTF-16 code unit `index` flipped (may leave a lone surrogate). */
export function flipTextBit(text: string, index: number, bit: number): string {
  const code = text.charCodeAt(index) ^ (1 << bit);
  return text.slice(0, index) + String.fromCharCode(code) + text.slice(index + 1);
}

/** The integer `value` (0 to 2^53-1) with bit `bit` (0-52) flipped: still a safe integer. */
export function flipIntegerBit(value: number, bit: number): number {
  return Number(BigInt(value) ^ (1n << BigInt(bit)));
}

/** `value` with bit `bit` (0-63) of its IEEE 754 double flipped (may give NaN, ±Infinity or -0). */
export function flipNumberBit(value: number, bit: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  view.setUint8(7 - Math.floor(bit / 8), view.getUint8(7 - Math.floor(bit / 8)) ^ (1 << (bit % 8)));
  return view.getFloat64(0);
}
