/**
 * Salts that versions before the server key stored in the clear beside their commitments: with one
 * and a commitment, a short PIN falls to a few thousand hashes. At every start they are sealed in
 * place under the server key (AES-GCM, bound to the record's id), then the backend is asked to purge
 * the overwritten bytes from its files. The commitments do not change, so every proof stays valid.
 *
 * What this cannot reach: backups taken before, and on PostgreSQL old row versions until VACUUM
 * reclaims them (docs/operations.md). An older instance still running during a rolling upgrade can
 * store a salt in the clear after this ran; the next start seals it.
 */
import type { Hex } from '../core/index.ts';
import type { ServiceContext } from './context.ts';
import { sealSalt } from './secrets.ts';

const PAGE = 500;

/**
 * Seals every salt still stored in the clear; returns how many this call sealed. Safe with several
 * instances starting at once: each replacement is a compare-and-set, so a salt is sealed once.
 */
export async function sealStoredSalts(ctx: ServiceContext): Promise<number> {
  let sealed = 0;
  let after = '';
  for (;;) {
    const page = await ctx.storage.records.plainSalts(after, PAGE);
    if (page.length === 0) break;
    sealed += await ctx.storage.transaction(async (tx) => {
      let n = 0;
      for (const { id, secret_salt } of page) {
        const salt = secret_salt as Hex;
        if (await tx.records.replaceSalt(id, salt, sealSalt(ctx.keys, id, salt))) n++;
      }
      return n;
    });
    after = page[page.length - 1]!.id;
  }
  if (sealed > 0) await ctx.storage.purgeOverwritten();
  return sealed;
}
