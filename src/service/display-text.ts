/**
 * What text the verification page may show from a merchant: no control characters, no bidi
 * controls (U+202E made "正品 genuine ✓" read backwards next to a verdict), nothing invisible
 * (zero-width spaces and joiners, fillers that render as nothing), and never text that is all blank.
 * Checked where merchants write it (names at admission; product fields, metadata and event data at
 * registration) so it is refused with a 400 naming the field, not silently altered.
 */
import { badRequest, type ServiceError } from './errors.ts';

/** Why a code point may not be shown, or undefined when it may. */
function forbiddenKind(cp: number, ch: string): string | undefined {
  if (/\p{Cc}/u.test(ch)) return 'a control character';
  if (
    cp === 0x061c ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069)
  )
    return 'a bidi control';
  if (
    (cp >= 0x200b && cp <= 0x200d) ||
    (cp >= 0x2060 && cp <= 0x2064) ||
    cp === 0xfeff ||
    cp === 0x034f ||
    cp === 0x115f ||
    cp === 0x1160 ||
    cp === 0x3164 ||
    cp === 0xffa0 ||
    cp === 0x2800 ||
    cp === 0x00ad
  )
    return 'an invisible character';
  if (/[\p{Zl}\p{Zp}]/u.test(ch)) return 'a line or paragraph separator';
  if (/\p{Co}/u.test(ch)) return 'a private-use character';
  if (/\p{Cf}/u.test(ch)) return 'an invisible formatting character';
  return undefined;
}

/** Something a person can see: not white space, not a mark alone, not one of the forbidden characters. */
const VISIBLE = /[^\p{White_Space}\p{M}\p{Cc}\p{Cf}\p{Co}\u115f\u1160\u3164\uffa0\u2800]/u;

/**
 * Every code point forbiddenKind names, in one class: exactly the union of its tests, so a text it
 * does not match holds no forbidden character and the per-character walk (which says which one, and
 * why) runs only for text about to be refused. (U+034F, a combining mark, stands outside the class.)
 */
const ANY_FORBIDDEN =
  /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u200b-\u200d\u2060-\u2064\ufeff\u115f\u1160\u3164\uffa0\u2800\u00ad\p{Zl}\p{Zp}\p{Co}\p{Cf}]|\u034f/u;

/** The first reason `text` may not be shown, or null when it may. */
export function displayTextProblem(text: string): string | null {
  if (!ANY_FORBIDDEN.test(text)) return VISIBLE.test(text) ? null : 'is blank';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const kind = forbiddenKind(cp, ch);
    if (kind) return `holds U+${cp.toString(16).toUpperCase().padStart(4, '0')}, ${kind}`;
  }
  return VISIBLE.test(text) ? null : 'is blank';
}

/**
 * 400 `unsafe_text` (a forbidden character) or `blank_text` naming `field`, or null when the text
 * may be shown.
 */
export function displayTextError(field: string, text: string): ServiceError | null {
  const problem = displayTextProblem(text);
  if (problem === null) return null;
  return problem === 'is blank'
    ? badRequest('blank_text', `${field} is blank: it needs at least one visible character`)
    : badRequest(
        'unsafe_text',
        `${field} ${problem}: control, bidi and invisible characters are not allowed in text the verification page shows`,
      );
}

/** Throws displayTextError's error for the first field (of `[name, text]` pairs) that may not be shown. */
export function assertDisplayable(fields: Iterable<readonly [string, string]>): void {
  for (const [field, text] of fields) {
    const error = displayTextError(field, text);
    if (error) throw error;
  }
}

/**
 * Text neutralised for display: every forbidden character replaced by U+FFFD. For what was stored
 * before the rule (or by a path that skipped it): the page never renders a bidi control, whatever
 * the database holds.
 */
export function displaySafe(text: string): string {
  let out = '';
  for (const ch of text) out += forbiddenKind(ch.codePointAt(0)!, ch) ? '\ufffd' : ch;
  return out;
}
