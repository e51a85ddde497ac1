/**
 * `proofmark admin ...`: the operator's acts on records rather than on merchants. Erasing an event's
 * content answers a request about a person's data, whichever merchant published it, so it sits here
 * and not under `proofmark merchant`.
 */
import { adminClient, type ApiOptions } from '../api-options.ts';
import { CliError, printJson } from '../output.ts';

export async function adminEraseEvent(
  recordId: string,
  seq: string,
  opts: ApiOptions & { by: string },
): Promise<void> {
  if (!/^[0-9]{1,10}$/.test(seq))
    throw new CliError(`<seq> must be an event number (1, 2, ...), not "${seq}"`, 2);
  const api = await adminClient(opts);
  printJson(await api.eraseEvent(recordId, Number(seq), opts.by));
}

/** Registrations refused as duplicates, newest first, as JSON: evidence for a strike. */
export async function adminDuplicates(
  opts: ApiOptions & { merchant?: string; limit?: string },
): Promise<void> {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    throw new CliError(`--limit must be a whole number from 1 to 1000, not "${opts.limit}"`, 2);
  }
  const api = await adminClient(opts);
  printJson(
    await api.duplicates({
      ...(opts.merchant !== undefined && { merchant: opts.merchant }),
      ...(limit !== undefined && { limit }),
    }),
  );
}
