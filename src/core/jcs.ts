/**
 * RFC 8785 JSON Canonicalization Scheme: sorted keys (by UTF-16 code units), no whitespace,
 * ECMAScript number and string serialization. Rejects what JSON cannot carry exactly:
 * non-finite numbers, lone surrogates, undefined, functions, bigints, symbols.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function canonicalJson(value: unknown): string {
  return serialize(value, '$');
}

/**
 * A value canonicalised once, to be placed as it is wherever an enclosing value is canonicalised:
 * `canonicalJson({ a: Canonical.of(x) })` is `canonicalJson({ a: x })`, without serialising `x`
 * again. Only `of` makes one, so its text is always canonicalJson's own output.
 */
export class Canonical {
  private constructor(readonly json: string) {}

  /** `path` names the value in errors, as where it will be placed (`$.metadata`). */
  static of(value: unknown, path = '$'): Canonical {
    return new Canonical(serialize(value, path));
  }
}

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} is not a JSON number`);
      return JSON.stringify(value); // ECMAScript Number serialization, as RFC 8785 requires (-0 -> 0)
    case 'string':
      return serializeString(value, path);
    case 'object': {
      if (value instanceof Canonical) return value.json;
      // Array.from visits holes (as undefined, which is rejected); map would skip them and emit `[,1]`.
      if (Array.isArray(value)) {
        return `[${Array.from(value, (v, i) => serialize(v, `${path}[${i}]`)).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`${path}: not a plain object`);
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort(); // default sort compares UTF-16 code units, as RFC 8785 says
      const parts: string[] = [];
      for (const key of keys) {
        parts.push(`${serializeString(key, path)}:${serialize(obj[key], `${path}.${key}`)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`${path}: ${typeof value} is not JSON`);
  }
}

/**
 * Whether `s` is well-formed UTF-16 (no lone surrogate), so that UTF-8 carries it exactly.
 * String.prototype.isWellFormed (ES2024, in Node >= 20) is far faster than the regex; the regex stays
 * as the fallback for runtimes without it.
 */
export const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

function serializeString(s: string, path: string): string {
  if (!isWellFormed(s)) throw new TypeError(`${path}: string holds a lone UTF-16 surrogate`);
  return JSON.stringify(s);
}
