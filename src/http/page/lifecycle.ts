/**
 * The lifecycle on the verification page: one page of events, newest first, each with where its
 * anchor stands, then links to the other pages. A page holds LIFECYCLE_PAGE_EVENTS events, so the
 * page stays small however long the record: each event's data is at most MAX_EVENT_DATA_BYTES
 * (2 KB by default), at most five times that once escaped, so about 110 KB for a page of data at the
 * limit and a few KB for a usual one.
 */
import { endsRecord } from '../../core/index.ts';
import type { PublicEvent } from '../../service/public-view.ts';
import { both, merchantBox, said, time } from './format.ts';
import { markup, type SafeHtml } from './html.ts';
import { ANCHOR_LABELS, EVENT_LABELS, labelOf } from './labels.ts';

/** Events on one page of the lifecycle. */
export const LIFECYCLE_PAGE_EVENTS = 10;

/** Where the shown events sit in the whole lifecycle. */
export interface LifecyclePosition {
  /** 1 is the newest. */
  page: number;
  pages: number;
  /** Events in the whole lifecycle. */
  total: number;
}

/** The lifecycle section of record `recordId`: `events` newest first, at `at` among the pages. */
export function lifecycleSection(
  recordId: string,
  events: readonly PublicEvent[],
  at: LifecyclePosition,
  zone: string,
  explorerUrl?: string,
): SafeHtml {
  return markup`<section id="lifecycle">
<h2>生命周期 <span class="en" lang="en">Lifecycle</span></h2>
${at.pages > 1 && shown(events, at)}
<ol>${events.map((e) => event(e, zone, explorerUrl))}</ol>
${at.pages > 1 && pageLinks(recordId, at)}
</section>`;
}

/** Which events of how many this page shows (the newest is the highest number). */
function shown(events: readonly PublicEvent[], at: LifecyclePosition): SafeHtml {
  const newest = events[0]!.seq + 1;
  const oldest = events.at(-1)!.seq + 1;
  return markup`<p class="note">共 ${at.total} 条，此页为第 ${oldest}–${newest} 条（最新在前）<br>
<span class="en" lang="en">Events ${oldest}–${newest} of ${at.total}, newest first</span></p>`;
}

function pageLinks(recordId: string, at: LifecyclePosition): SafeHtml {
  const href = (page: number) =>
    page === 1 ? `/v/${recordId}#lifecycle` : `/v/${recordId}?page=${page}#lifecycle`;
  const newer =
    at.page > 1 && markup`<a href="${href(at.page - 1)}" rel="prev">← 较新 <span lang="en">newer</span></a>`;
  const older =
    at.page < at.pages &&
    markup`<a href="${href(at.page + 1)}" rel="next">较早 <span lang="en">older</span> →</a>`;
  return markup`<nav class="pages">${newer} <span>第 ${at.page} / ${at.pages} 页 <span class="en" lang="en">page ${at.page} of ${at.pages}</span></span> ${older}</nav>`;
}

function event(e: PublicEvent, zone: string, explorerUrl?: string): SafeHtml {
  const a = e.anchor;
  const ends = endsRecord(e.type);
  // Each pair isolated on its own, so right-to-left text in one cannot reorder its neighbours.
  const data = Object.entries(e.data).map(([k, val], i) => [i > 0 && ' · ', said(`${k}: ${String(val)}`)]);
  return markup`
<li class="${a.status}">
<span class="${ends ? 'ev stop' : 'ev'}">${both(labelOf(EVENT_LABELS, e.type))}</span> <span class="when">${time(e.at, zone)}</span>
<div class="anchor"><span class="badge ${a.status}">${both(labelOf(ANCHOR_LABELS, a.status))}</span>
${a.batchId !== null && markup`批次 <span class="en" lang="en">batch</span> #${a.batchId}`}
${a.blockNumber !== null && markup`· 区块 <span class="en" lang="en">block</span> ${a.blockNumber}`}</div>
${a.txHash && txLine(a.txHash, explorerUrl)}
${data.length > 0 && merchantBox(markup`<p class="anchor">${data}</p>`)}
${e.erased && erasedLine(e.erased, zone)}
</li>`;
}

/** An event whose content the operator erased: who and when; the data is gone. */
function erasedLine(erased: { at: string; by: string }, zone: string): SafeHtml {
  return markup`<div class="anchor erased">内容已删除 <span class="en" lang="en">content erased</span>
· ${said(erased.by)} · ${time(erased.at, zone)}</div>`;
}

function txLine(txHash: string, explorerUrl?: string): SafeHtml {
  const link =
    explorerUrl &&
    markup`<a href="${explorerUrl}/tx/${txHash}" rel="noopener noreferrer">区块浏览器 <span lang="en">explorer</span></a>`;
  return markup`<div class="anchor">交易 <span class="en" lang="en">tx</span> <code>${txHash}</code>
${link}</div>`;
}
