/**
 * The dispute part of the verification page: where the item's latest dispute stands, the time left
 * for the merchant's answer (counted down when the page is rendered: the page runs no script), and
 * the decision. Only the service's own words: the buyer's description and the merchant's answer are
 * for the two sides and the operator, not for the page.
 */
import type { PageDispute } from '../../service/after-sale/disputes.ts';
import { both, time } from './format.ts';
import { markup, type SafeHtml } from './html.ts';
import { DISPUTE_DECISION_LABELS, DISPUTE_REASON_LABELS, DISPUTE_STATUS_LABELS, labelOf } from './labels.ts';

/** "5 小时 12 分 · 5 h 12 min" left until `deadline`, or null once it has passed. */
export function timeLeft(deadline: string, now: Date): { zh: string; en: string } | null {
  const ms = Date.parse(deadline) - now.getTime();
  if (ms <= 0) return null;
  const minutes = Math.ceil(ms / 60_000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return { zh: `${h} 小时 ${m} 分`, en: `${h} h ${m} min` };
}

/** `zone`: DISPLAY_TIME_ZONE, as every page's times. */
export function disputeSection(d: PageDispute, now: Date, zone: string): SafeHtml {
  const left = d.status === 'open' ? timeLeft(d.respondBy, now) : null;
  return markup`<section class="dispute" data-dispute="${d.status}">
<h2>售后争议 <span class="en" lang="en">Dispute</span></h2>
<dl>
<dt>状态 <span class="en" lang="en">Status</span></dt><dd>${both(labelOf(DISPUTE_STATUS_LABELS, d.status))}</dd>
<dt>原因 <span class="en" lang="en">Reason</span></dt><dd>${both(labelOf(DISPUTE_REASON_LABELS, d.reason))}</dd>
<dt>发起 <span class="en" lang="en">Opened</span></dt><dd>${time(d.openedAt, zone)}</dd>
${d.status === 'open' && markup`<dt>商家答复期限 <span class="en" lang="en">Merchant must answer by</span></dt><dd>${time(d.respondBy, zone)}${left && markup` <strong class="countdown">（剩余 ${left.zh} <span class="en" lang="en">${left.en} left</span>）</strong>`}</dd>`}
${d.status === 'answered' && markup`<dt>仲裁 <span class="en" lang="en">Arbitration</span></dt><dd>商家有异议，等待平台裁决 <span class="en" lang="en">contested by the merchant; the platform decides</span></dd>`}
${d.decision && markup`<dt>裁决 <span class="en" lang="en">Decision</span></dt><dd data-decision="${d.decision}">${both(labelOf(DISPUTE_DECISION_LABELS, d.decision))}${d.decidedAt && markup` · ${time(d.decidedAt, zone)}`}</dd>`}
</dl>
</section>`;
}

/**
 * The buyer's form to open a dispute (shown while none is open on a sold item): possession by the
 * key or the reveal link's token, a reason, a description, evidence files. Posts multipart to
 * /v/:id/dispute, which answers with the page again.
 */
export function disputeForm(recordId: string): SafeHtml {
  const options = Object.entries(DISPUTE_REASON_LABELS).map(
    ([value, l]) => markup`<option value="${value}">${l.zh} ${l.en}</option>`,
  );
  return markup`<section id="dispute">
<h2>发起售后争议 <span class="en" lang="en">Open a dispute</span></h2>
<form method="post" action="/v/${recordId}/dispute" enctype="multipart/form-data">
<label>授权码或卡密 <span lang="en">key or PIN</span> <input name="disputeSecret" autocomplete="off"></label>
<label>或查看链接的令牌 <span lang="en">or the reveal link's token</span> <input name="revealToken" autocomplete="off"></label>
<label>原因 <span lang="en">reason</span> <select name="reason">${options}</select></label>
<label>说明 <span lang="en">what happened</span> <textarea name="description" maxlength="2000" required></textarea></label>
<label>证据（图片或 PDF）<span lang="en">evidence (images or PDF)</span> <input type="file" name="evidence" accept="image/png,image/jpeg,image/webp,application/pdf" multiple></label>
<button type="submit">提交 <span lang="en">submit</span></button>
</form>
</section>`;
}
