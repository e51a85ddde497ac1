/**
 * HTML escaping for the verification page. Every value from a request or the database reaches the
 * page through `escapeHtml`, by way of the `markup` template tag, which escapes each interpolation
 * unless it is already-built markup (`SafeHtml`). Attribute values are always written in double
 * quotes, so escaping `"` and `'` makes them safe there too.
 *
 * (The tag is not called `html` so that Prettier leaves the templates' text exactly as written.)
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Markup that is already safe: what `markup` returns, or a trusted constant. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | Interpolation[];

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** Template tag: literal parts are trusted markup, every `${value}` is escaped (false/null/undefined: nothing). */
export function markup(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}
