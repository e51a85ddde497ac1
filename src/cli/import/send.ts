/**
 * Sends an import's records in requests of up to 1,000 and says what became of each line. A
 * registration is all or nothing, so a refused request is taken apart: a 409 for duplicates lists
 * the refused records (`refused`) and the rest is sent again; any other refusal of a request (400,
 * 409, 413) is split in halves until the line it is about stands alone. Being unavailable (no
 * answer, 429, 5xx) is retried a few times; a wrong key stops the import.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from '../../client/client.ts';
import { ApiError } from '../../client/errors.ts';
import type { RecordInput } from '../../client/types.ts';
import { CliError } from '../output.ts';

export interface Entry {
  line: number;
  record: RecordInput;
}

export type Outcome =
  | { line: number; externalId: string; recordId: string; verifyUrl: string; status: string }
  | { line: number; externalId: string | null; refused: string; message: string };

/** The reason a report gives for an API code. */
const REASONS: Record<string, string> = {
  duplicate_secret: 'duplicate key',
  duplicate_serial: 'duplicate serial',
  external_id_conflict: 'changed since it was registered',
};

const RETRIES = 6;

export function reasonOf(code: string | null): string {
  if (code === null) return 'refused';
  const malformed = /^invalid|_text$|^secret_empty$|^personal_data$|_too_large$/.test(code);
  return REASONS[code] ?? (malformed ? 'malformed' : code);
}

/** Registers `entries` (at most 1,000), reporting every line's outcome through `report`. */
export async function sendEntries(
  api: ApiClient,
  entries: readonly Entry[],
  report: (outcome: Outcome) => void,
): Promise<void> {
  if (entries.length === 0) return;
  let error: ApiError;
  try {
    const { records } = await withRetries(() => api.registerRecords(entries.map((e) => e.record)));
    records.forEach((r, i) =>
      report({
        line: entries[i]!.line,
        externalId: r.externalId,
        recordId: r.id,
        verifyUrl: r.verifyUrl,
        status: r.status,
      }),
    );
    return;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status === null) throw err;
    error = err;
  }
  if (error.status === 401 || error.status === 403) {
    throw new CliError(`the service refused the merchant key: ${error.message}`, 1, { cause: error });
  }
  if (error.refusedRecords.length > 0) {
    const refused = new Map(error.refusedRecords.map((r) => [r.externalId, r.code]));
    for (const e of entries) {
      const code = refused.get(e.record.externalId);
      if (code === undefined) continue;
      const message =
        code === 'duplicate_secret'
          ? 'this key is already registered on this platform'
          : code === 'duplicate_serial'
            ? 'this serial is already registered for this SKU'
            : error.message;
      report({ line: e.line, externalId: e.record.externalId, refused: reasonOf(code), message });
    }
    await sendEntries(
      api,
      entries.filter((e) => !refused.has(e.record.externalId)),
      report,
    );
    return;
  }
  if (entries.length === 1) {
    const e = entries[0]!;
    report({
      line: e.line,
      externalId: e.record.externalId,
      refused: reasonOf(error.code),
      message: error.message,
    });
    return;
  }
  const half = Math.ceil(entries.length / 2);
  await sendEntries(api, entries.slice(0, half), report);
  await sendEntries(api, entries.slice(half), report);
}

/** `call`, again after a pause while the service is unreachable, busy (429) or failing (5xx). */
async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const status = err instanceof ApiError ? err.status : null;
      const transient = status === null || status === 429 || status >= 500;
      if (!transient || attempt >= RETRIES) throw err;
      await sleep(250 * 2 ** attempt);
    }
  }
}
