/**
 * The verification page a consumer lands on after scanning an item's QR code: server-rendered,
 * one inline stylesheet, and no script unless PUBLIC_RPC_URL is set (then one, browser-check.ts,
 * which adds the browser's own check against the chain; the page reads the same without it). Every value from the request or the database goes through
 * `markup` (see html.ts), which escapes it.
 *
 * The root element is `<body>`: it carries `data-verdict="<verdict>"` with the API's verdict word
 * (genuine, pending, revoked, merchant_suspended, not_found, invalid), for tests, tools and the CSS
 * colours. Error pages (429, 413, ...) carry no verdict.
 *
 * Who is speaking: the verdict header holds only the service's words. Everything a merchant wrote
 * (product name, serial, SKU, event data) sits in boxes labelled "商家填写 merchant's description",
 * each piece isolated (<bdi>) and neutralised (displaySafe), beside the merchant's name with its id
 * and verified-since. Nothing from the URL is ever shown.
 */
import type { PageDispute } from '../../service/after-sale/disputes.ts';
import type { PublicRecord } from '../../service/public-view.ts';
import type { SecretTries } from '../../service/secret-attempts.ts';
import type { Uniqueness } from '../../service/uniqueness.ts';
import type { ScanStats, VerdictWord } from '../../service/verdicts.ts';
import type { BrowserCheck } from './browser-bundle.ts';
import type { MerchantStatus } from '../../storage/rows.ts';
import { disputeForm, disputeSection } from './dispute.ts';
import { both, merchantBox, said, time } from './format.ts';
import { markup, SafeHtml } from './html.ts';
import {
  KIND_LABELS,
  labelOf,
  MATCH_IS_UNIQUE,
  MERCHANT_LABELS,
  REISSUE_LABEL,
  UNIQUENESS_LABELS,
  VERDICT_LABELS,
  type Label,
} from './labels.ts';
import { lifecycleSection, type LifecyclePosition } from './lifecycle.ts';
import { PAGE_CSS } from './style.ts';

export type SecretCheck = 'match' | 'no_match' | 'missing' | 'exhausted';

export interface PageView {
  verdict: VerdictWord;
  recordId: string;
  reason: string;
  /** Absent for not_found. */
  record?: PublicRecord;
  /** Where record.events sit in the lifecycle; absent, they are all of it. */
  lifecycle?: LifecyclePosition;
  scans?: ScanStats;
  /** How many days a scanner counts once in (SCAN_WINDOW_DAYS), for saying what the scan count means. */
  scanWindowDays?: number;
  /** EXPLORER_URL without a trailing slash: transactions link to `${explorerUrl}/tx/${txHash}`. */
  explorerUrl?: string | undefined;
  /** The outcome of a key/PIN check, when the page answers the form. */
  secretCheck?: SecretCheck;
  /** The record's key/PIN tries, shown with the form (records with a secret). */
  secretTries?: SecretTries;
  /** The IANA zone times are shown in (DISPLAY_TIME_ZONE). */
  timeZone: string;
  /** The verdict's statement about the item's key, and the record it re-issues. */
  uniqueness?: { uniqueness: Uniqueness; reissueOf: string | null };
  /** The item's latest dispute, and the time its countdown is counted from. */
  dispute?: { view: PageDispute; now: Date };
  /** Whether the buyer's dispute form is shown (a sold item with no dispute open). */
  disputeForm?: boolean;
  /** Set (PUBLIC_RPC_URL): the page carries the script that checks the record against the chain. */
  browserCheck?: BrowserCheckView;
}

/** What the browser check needs from the server: where to ask, and the claim it checks. */
export interface BrowserCheckView {
  script: Pick<BrowserCheck, 'path' | 'sha256' | 'rpcUrl'>;
  chainId: number;
  contract: string;
  /** The record's latest seq (the service's claim, which the chain confirms or not). */
  headSeq: number;
}

const STYLE = new SafeHtml(PAGE_CSS); // a trusted constant; its hash is in the CSP

/** The page around `body`; `verdict` or, on a merchant's page, its status marks <body> for the CSS and tests. */
export function pageDocument(
  title: string,
  verdict: VerdictWord | null,
  body: SafeHtml,
  merchantStatus?: MerchantStatus,
): string {
  return markup`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · proofmark</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body${verdict && markup` data-verdict="${verdict}"`}${merchantStatus && markup` data-merchant="${merchantStatus}"`}>
<main>
${body}
</main>
</body>
</html>
`.value;
}

export function renderVerdictPage(v: PageView): string {
  const label = VERDICT_LABELS[v.verdict];
  const body = markup`<header class="verdict">
<p class="brand">proofmark 防伪验证 · <span lang="en">verification</span></p>
<h1>${label.zh}<span class="en" lang="en">${label.en}</span></h1>
<p>${label.explain}</p>
<p class="reason" lang="en">${v.reason}</p>
</header>
${v.secretCheck && secretResult(v.secretCheck, v.uniqueness?.uniqueness === 'registered-once')}
${v.scans?.suspicious && caution(v.scans.count)}
${v.dispute && disputeSection(v.dispute.view, v.dispute.now, v.timeZone)}
${v.disputeForm && disputeForm(v.recordId)}
${v.record && v.browserCheck && browserCheckBox(v.recordId, v.verdict, v.browserCheck)}${v.record ? recordSections(v.record, v.lifecycle ?? wholeLifecycle(v.record), v.timeZone, v.scans, v.scanWindowDays, v.explorerUrl, v.secretTries, v.uniqueness) : notFound()}`;
  return pageDocument(`${label.zh} ${label.en}`, v.verdict, body);
}

/**
 * Hidden until the script runs, so without JavaScript the page reads as before; the script writes
 * its own verdict (text only) into `.check-result`.
 */
function browserCheckBox(recordId: string, verdict: VerdictWord, c: BrowserCheckView): SafeHtml {
  return markup`<section id="browser-check" class="browser-check" hidden aria-live="polite" data-record="${recordId}" data-verdict="${verdict}" data-head-seq="${c.headSeq}" data-rpc="${c.script.rpcUrl}" data-chain-id="${c.chainId}" data-contract="${c.contract}">
<strong>本浏览器核对 <span lang="en">Checked by this browser</span></strong>
<p class="check-result">正在对照区块链核对… <span lang="en">checking against the chain…</span></p>
</section>
<script type="module" src="${c.script.path}" integrity="sha256-${c.script.sha256}"></script>
`;
}

const SECRET_RESULTS: Record<SecretCheck, { tone: string; title: Label; zh: string; en: string }> = {
  match: {
    tone: 'ok',
    title: { zh: '匹配', en: 'match' },
    zh: '您输入的授权码 / 卡密与此商品登记的一致。',
    en: 'The key or PIN you entered is the one registered for this item.',
  },
  no_match: {
    tone: 'no',
    title: { zh: '不匹配', en: 'no match' },
    zh: '您输入的授权码 / 卡密与此商品登记的不一致。',
    en: 'The key or PIN you entered is not the one registered for this item.',
  },
  missing: {
    tone: 'ask',
    title: { zh: '请输入授权码或卡密', en: 'enter a key' },
    zh: '输入框是空的。',
    en: 'Enter a licence key or card PIN to check it.',
  },
  exhausted: {
    tone: 'no',
    title: { zh: '暂停核对', en: 'checks paused' },
    zh: '此商品的错误尝试次数已用完，您输入的内容未被核对。',
    en: 'This item has had too many wrong tries; what you entered was not checked.',
  },
};

/** A match on a record whose key is registered once says so: the key was not sold to anyone else here. */
function secretResult(check: SecretCheck, unique: boolean): SafeHtml {
  const r = SECRET_RESULTS[check];
  const once = check === 'match' && unique;
  return markup`<section class="result ${r.tone}"><strong>${r.title.zh} <span lang="en">${r.title.en}</span></strong>
<p>${r.zh}<br><span lang="en">${r.en}</span></p>
${once && markup`<p class="unique">${MATCH_IS_UNIQUE.zh}<br><span lang="en">${MATCH_IS_UNIQUE.en}</span></p>`}
</section>`;
}

function caution(count: number): SafeHtml {
  return markup`<section class="caution" role="alert"><strong>警告 <span lang="en">Caution</span></strong>
<p>此码已在 ${count} 个不同网络被扫描，可能已被复制。<br>
<span lang="en">This code has been scanned from ${count} different networks; it may have been copied.</span></p>
</section>`;
}

/** The code asked for is not repeated: the URL is the visitor's (or an attacker's) text, not ours. */
function notFound(): SafeHtml {
  return markup`<section>
<p>请核对二维码或链接，只从已认证的商家购买。<br>
<span class="en" lang="en">Check the code or link, and buy only from verified merchants.</span></p>
</section>`;
}

const wholeLifecycle = (r: PublicRecord): LifecyclePosition => ({
  page: 1,
  pages: 1,
  total: r.events.length,
});

function recordSections(
  r: PublicRecord,
  lifecycle: LifecyclePosition,
  zone: string,
  scans: ScanStats | undefined,
  scanWindowDays: number | undefined,
  explorerUrl?: string,
  tries?: SecretTries,
  unique?: PageView['uniqueness'],
): SafeHtml {
  const m = r.merchant;
  return markup`<section>
<h2>商品 <span class="en" lang="en">Item</span></h2>
<dl>
<dt>类型 <span class="en" lang="en">Kind</span></dt><dd>${both(labelOf(KIND_LABELS, r.kind))}</dd>
${scans && scanLine(scans, zone, scanWindowDays)}
${unique && uniquenessLine(unique)}
</dl>
${merchantBox(markup`<dl>
<dt>名称 <span class="en" lang="en">Product</span></dt><dd>${said(r.productName)}</dd>
<dt>序列号 <span class="en" lang="en">Serial</span></dt><dd><code>${said(r.serial)}</code></dd>
<dt>SKU</dt><dd><code>${said(r.sku)}</code></dd>
</dl>`)}
</section>
<section>
<h2>商家 <span class="en" lang="en">Merchant</span></h2>
<dl>
<dt>名称 <span class="en" lang="en">Name</span></dt><dd><a class="merchant" href="/m/${m.id}"><strong>${said(m.name)}</strong></a>
<br><span class="who">编号 <span class="en" lang="en">id</span> <code>${m.id}</code>
${m.verifiedSince ? markup` · 认证于 <span class="en" lang="en">verified since</span> ${time(m.verifiedSince, zone)}` : markup` · 未认证 <span class="en" lang="en">not verified</span>`}</span></dd>
<dt>状态 <span class="en" lang="en">Status</span></dt>
<dd><span class="${m.status === 'verified' ? 'ok' : 'no'}">${both(labelOf(MERCHANT_LABELS, m.status))}</span></dd>
</dl>
</section>
${lifecycleSection(r.id, r.events, lifecycle, zone, explorerUrl)}
${r.hasSecret && secretForm(r.id, tries)}
<footer><p>审计 <span lang="en">Auditors</span>: <a href="/v1/records/${r.id}/proofs">JSON 证明 <span lang="en">proofs</span></a>
· 记录 <span lang="en">record</span> <code>${r.id}</code></p></footer>`;
}

/** What the service says of the item's key, and the ended record a re-issue replaces (linked). */
function uniquenessLine(u: NonNullable<PageView['uniqueness']>): SafeHtml {
  const label = UNIQUENESS_LABELS[u.uniqueness];
  return markup`<dt>唯一性 <span class="en" lang="en">Uniqueness</span></dt><dd data-uniqueness="${u.uniqueness}">${label.zh}
<br><span class="en" lang="en">${label.en}</span>
${u.reissueOf && markup`<br><span class="reissue">${REISSUE_LABEL.zh} <span lang="en">${REISSUE_LABEL.en}</span> <a href="/v/${u.reissueOf}"><code>${u.reissueOf}</code></a></span>`}</dd>`;
}

/** The scan count, and what it counts: networks, not requests. */
function scanLine(scans: ScanStats, zone: string, windowDays = 30): SafeHtml {
  return markup`<dt>扫描 <span class="en" lang="en">Scans</span></dt><dd>${scans.count} 个网络 <span class="en" lang="en">networks</span>
· 首次 <span class="en" lang="en">first</span> ${time(scans.firstAt, zone)}
<br><span class="scan-note">不同网络打开此码的次数：同一网络每 ${windowDays} 天只计一次，链接预览和预加载不计。
<span class="en" lang="en">How many different networks opened this code: one network counts once every ${windowDays} days; link previews and prefetches do not count.</span></span></dd>`;
}

function secretForm(recordId: string, tries?: SecretTries): SafeHtml {
  const form = markup`<form method="post" action="/v/${recordId}/secret">
<label for="secret">授权码或卡密 <span lang="en">licence key or card PIN</span></label>
<input id="secret" name="secret" type="text" required maxlength="500" autocomplete="off" autocapitalize="off" spellcheck="false">
<button type="submit">核对 <span lang="en">Check</span></button>
</form>`;
  return markup`<section id="check">
<h2>核对授权码 / 卡密 <span class="en" lang="en">Check a key or PIN</span></h2>
<p class="en note" lang="en">Compared with the commitment the merchant registered; the key itself was never stored.</p>
${tries && triesLine(tries)}
${tries?.left !== 0 && form}
</section>`;
}

/** Minutes, rounded up, for a wait given in seconds. */
const minutes = (seconds: number) => Math.max(1, Math.ceil(seconds / 60));

/**
 * How many wrong tries the item still takes, and the rule behind it: the count is per item, for
 * everyone together, so a buyer learns that someone else may have spent them.
 */
function triesLine(t: SecretTries): SafeHtml {
  const rule = markup`每 ${minutes(t.windowSeconds)} 分钟最多 ${t.limit} 次错误尝试（所有人合计），以防有人猜测。<br>
<span lang="en">At most ${t.limit} wrong tries every ${minutes(t.windowSeconds)} minutes, from everyone together, so no one can guess it.</span>`;
  if (t.left === 0) {
    const wait = minutes(t.retryAfterSeconds ?? t.windowSeconds);
    return markup`<p class="tries none"><strong>还可尝试 0 次 <span lang="en">0 tries left</span></strong>：请 ${wait} 分钟后再试。
<span lang="en">Try again in ${wait} minutes.</span><br>${rule}</p>`;
  }
  return markup`<p class="tries"><strong>还可尝试 ${t.left} 次 <span lang="en">${t.left} ${t.left === 1 ? 'try' : 'tries'} left</span></strong><br>${rule}</p>`;
}

const ERRORS: Record<number, Label> = {
  400: { zh: '请求无效', en: 'The request was not understood.' },
  403: { zh: '需要授权码或查看链接', en: 'The key or the reveal link is needed, and must be right.' },
  404: { zh: '未找到：链接无效或已失效', en: 'There is nothing here: the link is wrong or no longer works.' },
  409: {
    zh: '此商品已有未结争议，或无法发起争议',
    en: 'A dispute is already open on this item, or it cannot take one.',
  },
  410: { zh: '密钥已过期并被删除', en: 'The key has expired and was deleted.' },
  413: { zh: '输入过长', en: 'The input is too long.' },
  429: { zh: '尝试次数过多，请一分钟后再试', en: 'Too many attempts; try again in a minute.' },
  500: { zh: '服务暂时不可用', en: 'Something went wrong; try again later.' },
};

/** A plain page for errors on the page routes (rate limit, oversized form, ...). No verdict. */
export function renderErrorPage(statusCode: number, backTo?: string): string {
  const e = ERRORS[statusCode] ?? ERRORS[statusCode < 500 ? 400 : 500]!;
  const body = markup`<header class="verdict">
<p class="brand">proofmark 防伪验证 · <span lang="en">verification</span></p>
<h1>${e.zh}</h1>
<p lang="en">${e.en}</p>
</header>
${backTo && markup`<footer><p><a href="${backTo}">返回 <span lang="en">back</span></a></p></footer>`}`;
  return pageDocument(e.zh, null, body);
}
