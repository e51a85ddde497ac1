/**
 * A merchant's public credit record (GET /v1/merchants/:id/profile and the page /m/:id): who vouched
 * for it, what its items became, how its disputes went and how it was disciplined. Storage counts
 * (MerchantStore.credit), the core derives the figures (core/merchant-credit.ts); each figure names
 * where it comes from in CREDIT_SOURCES, which the API schema and the page both show.
 */
import { creditFigures, type CreditFigures } from '../core/index.ts';
import type { ServiceContext } from './context.ts';
import { getMerchant, type Merchant } from './merchants.ts';

export interface MerchantCredit extends CreditFigures {
  id: string;
  name: string;
  status: Merchant['status'];
  suspended: boolean;
  verifiedSince: string | null;
  suspendedSince: string | null;
  /** Descriptions and hashes of the documents the operator admitted the merchant on. */
  evidence: Array<{ description: string; sha256: string; addedAt: string }>;
  /** How many strikes and when; the reasons stay with the operator. */
  strikes: { count: number; dates: string[] };
}

export type CreditFigureName =
  | 'verifiedSince'
  | 'evidence'
  | 'itemsIssued'
  | 'revoked'
  | 'refunded'
  | 'disputesOpened'
  | 'disputesLost'
  | 'medianResponseSeconds'
  | 'strikes'
  | 'suspended';

/** Where each figure comes from, in both of the page's languages. */
export const CREDIT_SOURCES: Record<CreditFigureName, { zh: string; en: string }> = {
  verifiedSince: {
    zh: '运营方的认证记录（未上链）',
    en: "the operator's admission record (POST /v1/merchants/:id/verify); not anchored",
  },
  evidence: {
    zh: '运营方记录的认证文件哈希（未上链；可与文件本身核对）',
    en: 'SHA-256 of the documents the operator admitted the merchant on; not anchored, check them against the documents',
  },
  itemsIssued: {
    zh: '此商家所有商品的发行事件（seq 0），已上链或待上链',
    en: "the issuance event (seq 0) of every one of the merchant's items, anchored or awaiting anchoring",
  },
  revoked: {
    zh: '以“作废”事件结束的商品数 / 发行数',
    en: 'items whose anchored lifecycle ended with a revoked event, over items issued',
  },
  refunded: {
    zh: '以“退款”事件结束的商品数 / 发行数',
    en: 'items whose anchored lifecycle ended with a refunded event, over items issued',
  },
  disputesOpened: {
    zh: '商品生命周期中的 dispute_opened 事件',
    en: "dispute_opened events in the merchant's items' anchored lifecycles",
  },
  disputesLost: {
    zh: '裁定为买家胜诉的 dispute_decided 事件（decision: buyer）',
    en: 'dispute_decided events whose data says decision: buyer',
  },
  medianResponseSeconds: {
    zh: '同一商品 dispute_opened 至 dispute_answered 两事件时间（at）之差的中位数',
    en: 'median time from dispute_opened to the dispute_answered after it on the same item, by the time each event holds in its anchored content',
  },
  strikes: {
    zh: '运营方记录的警告次数与日期（未上链；原因不公开）',
    en: "the operator's strikes, count and dates (not anchored; reasons are the operator's)",
  },
  suspended: {
    zh: '运营方记录的商家状态（第二次警告即暂停）',
    en: "the operator's record of the merchant's status (suspended at the second strike)",
  },
};

/** The merchant's credit record; 404 merchant_not_found. */
export async function merchantCredit(ctx: ServiceContext, id: string): Promise<MerchantCredit> {
  const merchant = await getMerchant(ctx, id);
  const [rows, strikes, evidence] = await Promise.all([
    ctx.storage.merchants.credit(id),
    ctx.storage.merchants.strikes(id),
    ctx.storage.merchants.evidence(id),
  ]);
  const figures = creditFigures(
    rows,
    rows.disputes.map((d) => ({ recordId: d.record_id, seq: d.seq, type: d.type, content: d.content })),
  );
  return {
    id: merchant.id,
    name: merchant.name,
    status: merchant.status,
    suspended: merchant.status === 'suspended',
    verifiedSince: merchant.verified_at,
    suspendedSince: merchant.suspended_at,
    evidence: evidence.map((e) => ({ description: e.description, sha256: e.sha256, addedAt: e.added_at })),
    ...figures,
    strikes: { count: strikes.length, dates: strikes.map((s) => s.created_at) },
  };
}

/** How long one instance reuses a merchant's credit record: the Cache-Control max-age of its answers. */
export const CREDIT_TTL_MS = 60_000;

/**
 * Each merchant's credit record computed at most once per `ttlMs` on this instance, concurrent asks
 * sharing one computation: for a merchant with a million items the counts take a few hundred
 * milliseconds (docs/operations.md), which a flood of page views must not multiply. Failures (an
 * unknown merchant) are not kept. At most `maxEntries` merchants are held; the oldest goes first.
 */
export class CreditCache {
  private readonly entries = new Map<string, { until: number; value: Promise<MerchantCredit> }>();

  constructor(
    private readonly ttlMs = CREDIT_TTL_MS,
    private readonly maxEntries = 10_000,
  ) {}

  get(ctx: ServiceContext, id: string): Promise<MerchantCredit> {
    const nowMs = ctx.now().getTime();
    const hit = this.entries.get(id);
    if (hit && hit.until > nowMs) return hit.value;
    this.entries.delete(id);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const value = merchantCredit(ctx, id);
    this.entries.set(id, { until: nowMs + this.ttlMs, value });
    value.catch(() => {
      if (this.entries.get(id)?.value === value) this.entries.delete(id);
    });
    return value;
  }
}
