import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Canonical, canonicalJson } from '../../src/core/index.ts';

const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 2000 : 300));

/** A double from its IEEE 754 bit pattern, as RFC 8785 Appendix B lists them. */
function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('canonicalJson: RFC 8785 examples', () => {
  it('serializes the example of section 3.2.2', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    expect(canonicalJson(JSON.parse(input))).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it('sorts keys by UTF-16 code units, as in section 3.2.3 (a non-BMP key sorts before U+FB33)', () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`;
    const out = canonicalJson(JSON.parse(input));
    expect(out).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    // By code point U+1F600 would come last; UTF-16 order puts its lead surrogate 0xD83D before 0xFB33.
    expect(out.indexOf('\ud83d\ude00')).toBeLessThan(out.indexOf('\ufb33'));
  });

  it('sorts keys by code unit, not by locale or case', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, A: 4, é: 5, e: 6, '10': 7, '9': 8, '': 9 })).toBe(
      '{"":9,"10":7,"9":8,"A":4,"B":2,"a":3,"b":1,"e":6,"é":5}',
    );
  });

  it('sorts nested objects and keeps array order', () => {
    expect(canonicalJson({ z: [{ y: 1, x: 2 }, 3, [{ b: null, a: [] }]], a: {} })).toBe(
      '{"a":{},"z":[{"x":2,"y":1},3,[{"a":[],"b":null}]]}',
    );
  });

  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
  const appendixB: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(appendixB)('serializes the number with bits %s as %s (Appendix B)', (bits, text) => {
    expect(canonicalJson(fromBits(bits))).toBe(text);
    expect(canonicalJson([fromBits(bits)])).toBe(`[${text}]`);
  });

  it.each(['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000'])(
    'rejects the Appendix B bit pattern %s (NaN or Infinity)',
    (bits) => {
      expect(() => canonicalJson(fromBits(bits))).toThrow(TypeError);
    },
  );

  it('escapes strings as RFC 8785 section 3.2.2.2 says', () => {
    const controls = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('');
    expect(canonicalJson(controls)).toBe(
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
        '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d' +
        '\\u001e\\u001f"',
    );
    expect(canonicalJson('"\\/')).toBe('"\\"\\\\/"');
    // Everything else, DEL, U+2028/2029, non-BMP and non-ASCII included, is written as itself.
    const raw = '\u007f\u0080\u2028\u2029€中文😀\ufeff\uffff';
    expect(canonicalJson(raw)).toBe(`"${raw}"`);
    // Unicode is not normalised: NFC and NFD spellings stay different.
    expect(canonicalJson('Caf\u00e9')).not.toBe(canonicalJson('Cafe\u0301'));
  });

  it('writes literals and empty containers without whitespace', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(false)).toBe('false');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([1, [2, [3]], { a: [] }])).toBe('[1,[2,[3]],{"a":[]}]');
    expect(canonicalJson(-0)).toBe('0');
  });

  it('accepts objects without a prototype', () => {
    const obj = Object.create(null) as Record<string, unknown>;
    obj.b = 1;
    obj.a = 2;
    expect(canonicalJson(obj)).toBe('{"a":2,"b":1}');
  });

  it('treats "__proto__" from JSON.parse as an ordinary key', () => {
    expect(canonicalJson(JSON.parse('{"b":1,"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1},"b":1}');
  });
});

describe('canonicalJson: rejects what JSON cannot carry', () => {
  const cases: [string, unknown][] = [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['NaN in an array', [1, NaN]],
    ['Infinity in an object', { a: Infinity }],
    ['undefined', undefined],
    ['undefined in an object', { a: 1, b: undefined }],
    ['undefined in an array', [undefined]],
    // eslint-disable-next-line no-sparse-arrays
    ['a hole in a sparse array', [1, , 3]],
    ['a bigint', 1n],
    ['a bigint in an object', { n: 10n }],
    ['a symbol', Symbol('s')],
    ['a function', () => 1],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', '\udc00'],
    ['a high surrogate at the end', 'abc\ud83d'],
    ['reversed surrogates', '\ude00\ud83d'],
    ['a lone surrogate in a key', { '\ud800': 1 }],
    ['a lone surrogate deep inside', { a: [{ b: ['\udfff'] }] }],
    ['a Date', new Date(0)],
    ['a Map', new Map([['a', 1]])],
    [
      'a class instance',
      new (class Point {
        x = 1;
      })(),
    ],
    ['a boxed string', new String('x')],
    ['a Uint8Array', new Uint8Array(2)],
    ['an object with a custom prototype', Object.create({ inherited: 1 })],
  ];
  it.each(cases)('rejects %s with a TypeError', (_, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('names where the problem is', () => {
    expect(() => canonicalJson({ a: [0, { b: NaN }] })).toThrow(/\$\.a\[1\]\.b/);
  });
});

describe('canonicalJson: properties', () => {
  // jsonValue yields what JSON.parse can yield, -0 included; canonicalize writes -0 as 0 too, so the two
  // must agree on every value, with no exclusions.
  const json = fc.oneof(
    fc.jsonValue(),
    fc.jsonValue({ stringUnit: 'binary' }),
    fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 3 }),
  );

  it('equals the canonicalize package (reference implementation) on arbitrary JSON', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns },
    );
  });

  it('equals the canonicalize package on doubles of any bit pattern', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(canonicalJson(x)).toBe(canonicalize(x));
        expect(JSON.parse(canonicalJson(x))).toBe(x === 0 ? 0 : x); // round trip, -0 becomes 0
      }),
      { numRuns },
    );
  });

  it('is a fixed point: canonicalizing the parsed output changes nothing', () => {
    fc.assert(
      fc.property(json, (value) => {
        const once = canonicalJson(value);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
      { numRuns },
    );
  });

  it('does not depend on the order in which members were inserted', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 2 })),
        fc.func(fc.integer()),
        (obj, rank) => {
          const entries = Object.entries(obj);
          const shuffled = Object.fromEntries(
            entries
              .map((e, i) => [rank(e[0], i), e] as const)
              .sort((a, b) => a[0] - b[0])
              .map(([, e]) => e),
          );
          expect(canonicalJson(shuffled)).toBe(canonicalJson(obj));
        },
      ),
      { numRuns },
    );
  });
});

describe('Canonical: a value canonicalised once, placed as it is', () => {
  it('places the same text as canonicalising the value in place', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 2 })),
        fc.jsonValue({ maxDepth: 3 }),
        fc.string({ unit: 'binary' }),
        (outer, inner, key) => {
          expect(canonicalJson({ ...outer, [key]: Canonical.of(inner) })).toBe(
            canonicalJson({ ...outer, [key]: inner }),
          );
          expect(canonicalJson([Canonical.of(inner), outer])).toBe(canonicalJson([inner, outer]));
          expect(Canonical.of(inner).json).toBe(canonicalJson(inner));
        },
      ),
      { numRuns },
    );
  });

  it('rejects what canonicalJson rejects, naming the place it was given', () => {
    expect(() => Canonical.of({ a: NaN }, '$.metadata')).toThrow(/\$\.metadata\.a/);
    expect(() => Canonical.of({ a: '\ud800' })).toThrow(TypeError);
  });
});
