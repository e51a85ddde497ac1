/** Record bodies for POST /v1/records, as the tests register them. */
import type { RecordInput } from '../../src/client/types.ts';
import type { Harness } from './harness.ts';

export type RecordBody = RecordInput;

/** A licence record named `externalId` (serial `SN-<externalId>`), with any field replaced by `extra`. */
export function recordBody(externalId: string, extra: Partial<RecordBody> = {}): RecordBody {
  return {
    externalId,
    kind: 'licence',
    sku: 'WIN11-PRO',
    productName: 'Windows 11 Pro',
    serial: `SN-${externalId}`,
    ...extra,
  };
}

const KINDS = ['licence', 'account', 'card'] as const;

/**
 * Fields for `recordBody` that vary deterministically with the id: a mix of kinds, with and without
 * secrets (`SECRET-<externalId>`) and metadata. Another `variant` of the same id is other content.
 */
export function mixedFields(externalId: string, variant = 0): Partial<RecordBody> {
  const n = [...externalId].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, variant);
  return {
    kind: KINDS[n % 3]!,
    sku: `SKU-${n % 17}`,
    productName: n % 5 === 0 ? `游戏点卡 ${n % 100}` : `Product ${n % 100}`,
    serial: `SN-${externalId}-${variant}`,
    ...(n % 2 === 0 && { secret: `SECRET-${externalId}` }),
    ...(n % 3 === 0 && { metadata: { region: n % 2 ? 'EU' : 'CN', edition: n % 7 } }),
  };
}

/** Registers `count` records named `${prefix}-${i}` in requests of up to 1,000; returns their ids. */
export async function registerMany(
  h: Harness,
  apiKey: string,
  prefix: string,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const records = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) records.push(recordBody(`${prefix}-${i}`));
    const res = await h.call('POST', '/v1/records', { token: apiKey, body: { records } });
    if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`);
    ids.push(...res.json().records.map((r: { id: string }) => r.id));
  }
  return ids;
}
