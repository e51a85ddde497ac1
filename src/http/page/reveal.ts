/**
 * The buyer's reveal page behind a sealed delivery's link: GET shows a button, and only pressing it
 * (a POST) reveals the key, so a chat app's link preview fetching the link reveals nothing and is not
 * taken for the buyer's first reveal.
 */
import type { RevealStatus } from '../../service/after-sale/sealed-delivery.ts';
import { time } from './format.ts';
import { markup } from './html.ts';
import { pageDocument } from './render.ts';

/** `zone`: DISPLAY_TIME_ZONE, as every page's times. */
export function renderRevealAsk(token: string, status: RevealStatus, zone: string): string {
  const body = markup`<header class="verdict">
<p class="brand">proofmark 密封交付 · <span lang="en">sealed delivery</span></p>
<h1>查看密钥<span class="en" lang="en">reveal the key</span></h1>
<p>${status.revealedAt ? markup`此密钥已于 ${time(status.revealedAt, zone)} 首次查看。` : markup`首次查看的时间会被记录并上链存证。`}<br>
<span lang="en">${status.revealedAt ? markup`This key was first revealed at ${time(status.revealedAt, zone)}.` : 'The time of the first reveal is recorded and anchored.'}</span></p>
</header>
<section>
${
  status.available
    ? markup`<form method="post" action="/r/${token}"><button type="submit">显示密钥 <span lang="en">show the key</span></button></form>
<p>可查看至 <span lang="en">available until</span> ${time(status.expiresAt, zone)}</p>`
    : markup`<p>密钥已过期并被删除。<br><span lang="en">The key has expired and was deleted.</span></p>`
}
<p><a href="/v/${status.recordId}">验证此商品 <span lang="en">verify this item</span></a></p>
</section>`;
  return pageDocument('查看密钥 reveal the key', null, body);
}

export function renderRevealed(
  shown: {
    recordId: string;
    secret: string;
    revealedAt: string;
    first: boolean;
  },
  zone: string,
): string {
  const body = markup`<header class="verdict">
<p class="brand">proofmark 密封交付 · <span lang="en">sealed delivery</span></p>
<h1>您的密钥<span class="en" lang="en">your key</span></h1>
<p>${shown.first ? '首次查看已记录。' : '这不是首次查看。'}<br><span lang="en">${shown.first ? 'Your first reveal was recorded.' : 'This is not the first reveal.'}</span>
首次查看 <span lang="en">first revealed</span> ${time(shown.revealedAt, zone)}</p>
</header>
<section>
<p><code class="secret">${shown.secret}</code></p>
<p><a href="/v/${shown.recordId}">验证此商品，或发起售后争议 <span lang="en">verify this item, or open a dispute</span></a></p>
</section>`;
  return pageDocument('您的密钥 your key', null, body);
}
