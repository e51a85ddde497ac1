/**
 * A merchant's credit page, `/m/:id`: the figures of GET /v1/merchants/:id/profile for people,
 * Chinese first with English alongside, each with where it comes from (CREDIT_SOURCES). The
 * verification page links here from the merchant's name. Same document, stylesheet and CSP as the
 * verification page, and the same rule for who speaks: the header holds only the service's words
 * (the status); the merchant's name and the evidence descriptions sit below, isolated (said).
 */
import { CREDIT_SOURCES, type CreditFigureName, type MerchantCredit } from '../../service/merchant-credit.ts';
import { both, said, time } from './format.ts';
import { markup, type SafeHtml } from './html.ts';
import { labelOf, MERCHANT_LABELS } from './labels.ts';
import { pageDocument } from './render.ts';

/** Where a figure comes from, under it. */
function source(figure: CreditFigureName): SafeHtml {
  const s = CREDIT_SOURCES[figure];
  return markup`<span class="src">来源：${s.zh}<br><span lang="en">Source: ${s.en}</span></span>`;
}

/** `12.5%`, or — when nothing was issued. */
const percent = (share: number | null) =>
  share === null ? '—' : `${(Math.round(share * 1000) / 10).toFixed(1)}%`;

/** `2 小时 5 分 <en>2 h 5 min</en>` for a duration in seconds; under a minute in seconds. */
export function duration(seconds: number): SafeHtml {
  if (seconds < 60) return markup`${seconds} 秒 <span class="en" lang="en">${seconds} s</span>`;
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return markup`${m} 分钟 <span class="en" lang="en">${m} min</span>`;
  return markup`${h} 小时 ${m} 分 <span class="en" lang="en">${h} h ${m} min</span>`;
}

export function renderMerchantPage(c: MerchantCredit, zone: string): string {
  const status = labelOf(MERCHANT_LABELS, c.status);
  const body = markup`<header class="verdict">
<p class="brand">proofmark 商家信用 · <span lang="en">merchant record</span></p>
<h1>${status.zh}<span class="en" lang="en">${status.en}</span></h1>
</header>
<section id="merchant">
<h2>商家 <span class="en" lang="en">Merchant</span></h2>
<dl>
<dt>名称 <span class="en" lang="en">Name</span></dt><dd><strong>${said(c.name)}</strong>
<br><span class="who">编号 <span class="en" lang="en">id</span> <code>${c.id}</code></span></dd>
</dl>
</section>
<section id="admission">
<h2>认证 <span class="en" lang="en">Admission</span></h2>
<dl class="figures">
<dt>认证于 <span class="en" lang="en">Verified since</span></dt>
<dd>${c.verifiedSince ? time(c.verifiedSince, zone) : markup`未认证 <span class="en" lang="en">not verified</span>`}${source('verifiedSince')}</dd>
<dt>证明文件 <span class="en" lang="en">Evidence</span></dt>
<dd>${c.evidence.length === 0 ? markup`—` : c.evidence.map((e) => markup`<p class="evidence">${said(e.description)}<br><code>sha256 ${e.sha256}</code></p>`)}${source('evidence')}</dd>
</dl>
</section>
<section id="items">
<h2>商品 <span class="en" lang="en">Items</span></h2>
<dl class="figures">
<dt>已发行 <span class="en" lang="en">Issued</span></dt>
<dd><span class="figure" data-figure="itemsIssued">${c.itemsIssued}</span>${source('itemsIssued')}</dd>
<dt>已作废 <span class="en" lang="en">Revoked</span></dt>
<dd><span class="figure" data-figure="revoked">${c.revoked}</span> (${percent(c.revokedShare)})${source('revoked')}</dd>
<dt>已退款 <span class="en" lang="en">Refunded</span></dt>
<dd><span class="figure" data-figure="refunded">${c.refunded}</span> (${percent(c.refundedShare)})${source('refunded')}</dd>
</dl>
</section>
<section id="disputes">
<h2>纠纷 <span class="en" lang="en">Disputes</span></h2>
<dl class="figures">
<dt>买家发起 <span class="en" lang="en">Opened</span></dt>
<dd><span class="figure" data-figure="disputesOpened">${c.disputesOpened}</span>${source('disputesOpened')}</dd>
<dt>判买家胜 <span class="en" lang="en">Lost</span></dt>
<dd><span class="figure" data-figure="disputesLost">${c.disputesLost}</span>${source('disputesLost')}</dd>
<dt>响应时间中位数 <span class="en" lang="en">Median response</span></dt>
<dd>${c.medianResponseSeconds === null ? markup`— <span class="en" lang="en">no answered dispute</span>` : duration(c.medianResponseSeconds)}${source('medianResponseSeconds')}</dd>
</dl>
</section>
<section id="strikes">
<h2>处分 <span class="en" lang="en">Strikes</span></h2>
<dl class="figures">
<dt>警告次数 <span class="en" lang="en">Strikes</span></dt>
<dd><span class="figure" data-figure="strikes">${c.strikes.count}</span>${c.strikes.dates.map((d) => markup`<br>${time(d, zone)}`)}${source('strikes')}</dd>
<dt>状态 <span class="en" lang="en">Status</span></dt>
<dd><span class="${c.suspended ? 'no' : 'ok'}">${both(status)}</span>${c.suspendedSince && markup` · ${time(c.suspendedSince, zone)}`}${source('suspended')}</dd>
</dl>
</section>
<footer><p>数据 <span lang="en">Data</span>: <a href="/v1/merchants/${c.id}/profile">JSON</a></p></footer>`;
  return pageDocument('商家信用 merchant record', null, body, c.status);
}
