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
