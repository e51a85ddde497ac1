/**
 * Merchant names that cannot pass for one another. Two names are the same name when their keys are
 * equal: NFKC (full-width and compatibility forms fold to their plain letters), the Unicode TR39
 * confusable skeleton (Cyrillic "А" and Latin "A", "1" and "l", "rn" and "m" …), case folding, and
 * runs of white space as one space. The confusable map is Unicode's confusables.txt as the npm
 * package unhomoglyph (1.0.6, pinned: confusables.txt 13.0.0) carries it; only its data is used.
 */
import type { Logger } from 'pino';
import prototypes from 'unhomoglyph/data.json' with { type: 'json' };
import { isDuplicateKey } from '../storage/errors.ts';
import type { ServiceContext } from './context.ts';

const PROTOTYPE = new Map<string, string>(Object.entries(prototypes as Record<string, string>));

/** The TR39 skeleton: NFD, each code point replaced by its prototype, NFD again. */
export function skeleton(text: string): string {
  let out = '';
  for (const ch of text.normalize('NFD')) out += PROTOTYPE.get(ch) ?? ch;
  return out.normalize('NFD');
}

/**
 * The key under which merchant names are unique. The skeleton is taken before and after case
 * folding: before, so a capital "I" posing as "l" is caught; after, so "Аlpha" and "ALPHA" meet.
 * (Case folding is Unicode's full folding as upper- then lowercasing gives it: "ß" meets "SS".)
 */
export function nameKey(name: string): string {
  const folded = skeleton(name.normalize('NFKC')).toUpperCase().toLowerCase();
  return skeleton(folded).replace(/\s+/gu, ' ').trim();
}

/**
 * Gives every merchant admitted before names were keyed its key, oldest first, so the oldest holder
 * of a name keeps it. A merchant whose name an older one already holds keeps its name with no key
 * (it is still shown with its id on every page) and is logged at warn on every start; a new merchant
 * can never take that name. Safe to run on several instances at once (the key is unique). Never
 * fails the start: where it cannot write (a read replica), it says so and leaves the keys to an
 * instance that can.
 */
export async function keyMerchantNames(ctx: ServiceContext, log: Logger): Promise<void> {
  for (const merchant of await ctx.storage.merchants.withoutNameKey()) {
    const key = nameKey(merchant.name);
    try {
      await ctx.storage.merchants.setNameKey(merchant.id, key);
    } catch (err) {
      if (!isDuplicateKey(err)) {
        log.warn({ err }, 'cannot key merchant names now; an instance that can write the database will');
        return;
      }
      const holder = await ctx.storage.merchants.byNameKey(key);
      log.warn(
        { merchantId: merchant.id, sameNameAs: holder?.id },
        'merchant name is confusable with an older merchant name: shown with its id; consider suspending or re-admitting it',
      );
    }
  }
}
