/**
 * The page's words, Chinese first with English alongside. Keys are the API's own words, and each
 * table is typed by the words it labels, so a kind, event type or status added without its label
 * does not compile.
 */
import type { AnchorStatus, RecordEventType, RecordKind } from '../../core/index.ts';
import type { Uniqueness } from '../../service/uniqueness.ts';
import type { VerdictWord } from '../../service/verdicts.ts';
import type { DisputeDecision, DisputeReason, DisputeStatus, MerchantStatus } from '../../storage/rows.ts';

export interface Label {
  zh: string;
  en: string;
}

export const VERDICT_LABELS: Record<VerdictWord, Label & { explain: string }> = {
  genuine: { zh: '正品', en: 'genuine', explain: '由信誉良好的商家发行，并已在区块链上确认。' },
  pending: { zh: '待上链', en: 'pending', explain: '已登记，正在等待区块链确认，请稍后再查。' },
  revoked: { zh: '已作废', en: 'revoked', explain: '此商品已被作废或退款，请勿购买或使用。' },
  merchant_suspended: {
    zh: '商家已被暂停',
    en: 'merchant suspended',
    explain: '发行此商品的商家已被暂停，请谨慎交易。',
  },
  not_found: { zh: '查无此码', en: 'not found', explain: '没有以此码登记的商品，可能是假冒的。' },
  invalid: {
    zh: '校验失败',
    en: 'invalid — proof does not match the chain',
    explain: '存证与链上记录不符，请勿信任此商品。',
  },
};

export const KIND_LABELS: Record<RecordKind, Label> = {
  licence: { zh: '软件授权', en: 'licence' },
  account: { zh: '游戏账号', en: 'account' },
  card: { zh: '点卡', en: 'card' },
};

export const EVENT_LABELS: Record<RecordEventType, Label> = {
  issued: { zh: '发行', en: 'issued' },
  sold: { zh: '售出', en: 'sold' },
  activated: { zh: '激活', en: 'activated' },
  transferred: { zh: '转让', en: 'transferred' },
  revoked: { zh: '作废', en: 'revoked' },
  refunded: { zh: '退款', en: 'refunded' },
  revealed: { zh: '买家已查看', en: 'revealed to the buyer' },
  dispute_opened: { zh: '发起争议', en: 'dispute opened' },
  dispute_answered: { zh: '商家答复争议', en: 'dispute answered' },
  dispute_decided: { zh: '争议裁决', en: 'dispute decided' },
};

export const ANCHOR_LABELS: Record<AnchorStatus, Label> = {
  pending: { zh: '待上链', en: 'pending' },
  anchored: { zh: '已上链', en: 'anchored' },
  final: { zh: '已确认', en: 'final' },
};

export const MERCHANT_LABELS: Record<MerchantStatus, Label> = {
  pending: { zh: '待认证', en: 'not yet verified' },
  verified: { zh: '已认证', en: 'verified' },
  suspended: { zh: '已暂停', en: 'suspended' },
};

/** What the page says of the item's key (the verdict's `uniqueness`). */
export const UNIQUENESS_LABELS: Record<Uniqueness, Label> = {
  'registered-once': {
    zh: '此授权码 / 卡密在本平台仅登记一次',
    en: 'this key or PIN is registered once on this platform',
  },
  'no-secret': { zh: '此商品未登记授权码或卡密', en: 'no key or PIN was registered for this item' },
  'not-covered': {
    zh: '此商品登记于唯一性检查启用之前，不作唯一性保证',
    en: 'registered before uniqueness checks began: no uniqueness is stated',
  },
};

/** The key check's addition after a match, for a record whose key is registered once. */
export const MATCH_IS_UNIQUE: Label = {
  zh: '此授权码 / 卡密在本平台只登记给了这一件商品。',
  en: 'This key or PIN is registered on this platform for this item only.',
};

/** The line of a record that re-issues an ended one. */
export const REISSUE_LABEL: Label = { zh: '重新发行，原记录', en: 're-issue of the ended record' };
export const DISPUTE_STATUS_LABELS: Record<DisputeStatus, Label> = {
  open: { zh: '等待商家答复', en: 'waiting for the merchant' },
  answered: { zh: '等待平台裁决', en: 'waiting for the platform' },
  decided: { zh: '已裁决', en: 'decided' },
};

export const DISPUTE_REASON_LABELS: Record<DisputeReason, Label> = {
  will_not_activate: { zh: '无法激活', en: 'will not activate' },
  already_used: { zh: '已被使用', en: 'already used' },
  revoked_after_sale: { zh: '售后被收回', en: 'revoked after sale' },
  not_as_described: { zh: '与描述不符', en: 'not as described' },
  other: { zh: '其他', en: 'other' },
};

export const DISPUTE_DECISION_LABELS: Record<DisputeDecision, Label> = {
  buyer: { zh: '支持买家', en: 'for the buyer' },
  merchant: { zh: '支持商家', en: 'for the merchant' },
};

/** A label for a known word, or the word itself (escaped by the caller) for one the table lacks. */
export function labelOf(table: Readonly<Record<string, Label>>, word: string): Label {
  return Object.hasOwn(table, word) ? table[word]! : { zh: word, en: word };
}
