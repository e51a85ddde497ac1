/** Small pieces of markup the page's sections share. */
import { displaySafe } from '../../service/display-text.ts';
import { markup, type SafeHtml } from './html.ts';
import type { Label } from './labels.ts';

/** Chinese, then English alongside. */
export const both = (l: Label): SafeHtml => markup`${l.zh} <span class="en" lang="en">${l.en}</span>`;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The formatter for `zone`, made once per zone. Throws RangeError for a zone Intl does not know. */
function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      timeZoneName: 'longOffset',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * `2026-11-30 10:34:05 (UTC+08:00)`: an ISO instant as the wall-clock time in IANA zone `zone`, with
 * the offset that applied then (so summer time shows as such). The one place pages format a time;
 * the API keeps ISO UTC. Text that is not a date comes back as it is.
 */
export function formatTime(iso: string, zone: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const parts: Record<string, string> = {};
  for (const p of formatterFor(zone).formatToParts(ms)) parts[p.type] = p.value;
  // longOffset says `GMT+08:00`, or just `GMT` at offset zero.
  const offset = (parts.timeZoneName ?? 'GMT').replace(/^GMT/, '') || '+00:00';
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} (UTC${offset})`;
}

/**
 * An ISO timestamp in a <time> element, shown in `zone` with its offset (formatTime); — for none. The
 * offset may go to the next line on a narrow screen; the date and time stay together.
 */
export function time(iso: string | null, zone: string): SafeHtml {
  if (!iso) return markup`—`;
  const shown = formatTime(iso, zone);
  const cut = shown.lastIndexOf(' (');
  if (cut < 0) return markup`<time datetime="${iso}">${shown}</time>`;
  return markup`<time datetime="${iso}"><span>${shown.slice(0, cut)}</span> <span>${shown.slice(cut + 1)}</span></time>`;
}

/** A merchant's text: isolated from the text around it, forbidden characters shown as U+FFFD. */
export const said = (text: string): SafeHtml => markup`<bdi>${displaySafe(text)}</bdi>`;

/** The box that holds what the merchant wrote, labelled as such. */
export function merchantBox(inner: SafeHtml): SafeHtml {
  return markup`<div class="said"><p class="said-label">商家填写 <span class="en" lang="en">merchant's description</span></p>
${inner}</div>`;
}
