/** Small pieces of markup the page's sections share. */
import { displaySafe } from '../../service/display-text.ts';
import { markup, type SafeHtml } from './html.ts';
import type { Label } from './labels.ts';

/** Chinese, then English alongside. */
export const both = (l: Label): SafeHtml => markup`${l.zh} <span class="en" lang="en">${l.en}</span>`;

/** `2025-01-02 03:04:05 UTC` from an ISO timestamp, in a <time> element. */
export function time(iso: string | null): SafeHtml {
  if (!iso) return markup`—`;
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return markup`<time datetime="${iso}">${m ? `${m[1]} ${m[2]} UTC` : iso}</time>`;
}

/** A merchant's text: isolated from the text around it, forbidden characters shown as U+FFFD. */
export const said = (text: string): SafeHtml => markup`<bdi>${displaySafe(text)}</bdi>`;

/** The box that holds what the merchant wrote, labelled as such. */
export function merchantBox(inner: SafeHtml): SafeHtml {
  return markup`<div class="said"><p class="said-label">商家填写 <span class="en" lang="en">merchant's description</span></p>
${inner}</div>`;
}
