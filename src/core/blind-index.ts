/**
 * How a secret is normalised for the platform-wide blind index (one key, one sale). Deliberately
 * broader than the commitment's rule (docs/proof-format.md: trim(NFC(secret))): two spellings a
 * buyer would take for the same key must give the same index value, so a key cannot be sold twice
 * by retyping it in another case or with other separators. A too-broad rule only refuses a
 * registration (the merchant sees 409 and can check); a too-narrow one lets a double sale through.
 *
 * Per kind (docs/guarantees.md section 13 says the same):
 * - licence: NFKC, case-folded, and every white space, dash (Unicode Pd), underscore and dot removed:
 *   `VK7JG-NPHTM-C97JM-9MPGT-3V66T` = `vk7jg npHtm c97jm 9mpgt 3v66t`.
 * - card (PIN, gift-card code): NFKC, case-folded, and only letters and digits kept (any script):
 *   `1234 5678-90` = `1234567890`.
 * - account: NFKC, trimmed and case-folded, inner characters kept: logins are case-insensitive on
 *   the platforms these accounts come from, so `Alice@Example.com:pw` = `alice@example.com:PW `.
 *
 * Case folding is full folding as far as JavaScript offers it: upper then lower case, so `ß` = `SS`
 * = `ss`. Pure; an empty result means nothing of the secret is left to index.
 */
import type { RecordKind } from './lifecycle.ts';

const LICENCE_SEPARATORS = /[\p{White_Space}\p{Pd}_.\u00B7\u30FB]/gu;
const NOT_LETTER_OR_DIGIT = /[^\p{L}\p{N}]/gu;

/** Full case folding as near as JavaScript gets: `ß` → `ss`, `ǅ` → `ǆ`, Greek final sigma → σ. */
function caseFold(text: string): string {
  return text.toUpperCase().toLowerCase();
}

/** The secret as the blind index sees it, for its record kind (see the rules above). */
export function normaliseForIndex(kind: RecordKind, secret: string): string {
  const folded = caseFold(secret.normalize('NFKC')).normalize('NFKC');
  switch (kind) {
    case 'licence':
      return folded.replace(LICENCE_SEPARATORS, '');
    case 'card':
      return folded.replace(NOT_LETTER_OR_DIGIT, '');
    case 'account':
      return folded.trim();
  }
}
