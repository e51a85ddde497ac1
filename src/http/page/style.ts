/**
 * The page's only stylesheet, inlined (one request, nothing external), and the security headers
 * that go with it. The Content-Security-Policy allows exactly this stylesheet by its sha256, so
 * the page can run no script and load nothing from anywhere (with PUBLIC_RPC_URL, the verdict page
 * also runs its one script, allowed by hash: pageCspWithCheck).
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

export const PAGE_CSS = `
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--none:#57606a;--tone:var(--none);--line:#d0d7de;--mute:#57606a}
body[data-verdict=genuine]{--tone:var(--ok)}
body[data-verdict=pending]{--tone:var(--warn)}
body[data-verdict=revoked],body[data-verdict=merchant_suspended],body[data-verdict=invalid]{--tone:var(--bad)}
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:16px/1.5 system-ui,-apple-system,"PingFang SC","Hiragino Sans GB","Noto Sans CJK SC","Microsoft YaHei",sans-serif;-webkit-text-size-adjust:100%}
main{max-width:40rem;margin:0 auto;padding-bottom:1.5rem}
.verdict{background:var(--tone);color:#fff;text-align:center;padding:1.25rem 1rem 1.5rem}
.brand{margin:0 0 .75rem;font-size:.8rem;letter-spacing:.05em;opacity:.9}
h1{margin:0;font-size:2.75rem;line-height:1.15;font-weight:700}
h1 .en{display:block;font-size:1.35rem;font-weight:600}
h1 .en::first-letter{text-transform:uppercase}
.verdict p{margin:.6rem 0 0}
.verdict .reason{font-size:.9rem;opacity:.95}
.reason::first-letter{text-transform:uppercase}
section{background:#fff;border:1px solid var(--line);border-radius:.5rem;margin:.75rem;padding:.9rem 1rem}
h2{margin:0 0 .5rem;font-size:1.05rem}
section p{margin:.5rem 0 0}
.note{font-size:.9rem}
time>span{white-space:nowrap}
h2 .en,.en{color:var(--mute);font-weight:400}
.verdict .en{color:inherit}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem .9rem;margin:0}
dt{color:var(--mute);font-size:.9rem}
dd{margin:0;overflow-wrap:anywhere}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
ol{list-style:none;margin:0;padding:0 0 0 1rem;border-left:2px solid var(--line)}
li{position:relative;padding:0 0 .9rem .75rem}
li:last-child{padding-bottom:0}
li::before{content:"";position:absolute;left:-1.45rem;top:.4rem;width:.8rem;height:.8rem;border-radius:50%;background:#8c959f;border:2px solid #fff}
li.final::before{background:var(--ok)}
li.anchored::before{background:#0969da}
li.pending::before{background:var(--warn)}
.ev{font-weight:600}
.ev.stop{color:var(--bad)}
.when{color:var(--mute);font-size:.85rem}
.anchor{font-size:.85rem;margin-top:.2rem}
.pages{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem;margin-top:.9rem;font-size:.9rem}
.badge{display:inline-block;border:1px solid currentColor;border-radius:1rem;padding:0 .45rem;font-size:.8rem;white-space:nowrap}
.badge.final,.ok{color:var(--ok)}
.badge.anchored{color:#0969da}
.badge.pending{color:var(--warn)}
.no{color:var(--bad)}
.caution{border-color:var(--bad);background:#ffebe9}
.caution strong,.result strong{font-size:1.2rem}
.caution strong{color:var(--bad)}
.result.ok{border-color:var(--ok);background:#dafbe1}
.result.no{border-color:var(--bad);background:#ffebe9}
.result.ask{border-color:var(--warn);background:#fff8c5;color:#1f2328}
.check-result{white-space:pre-line;margin:.25rem 0 0}
.browser-check[data-outcome=verified]{border-color:var(--ok)}
.browser-check[data-outcome=disagrees]{border-color:var(--bad);background:#ffebe9}
form{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.5rem}
label{flex-basis:100%;font-size:.9rem;color:var(--mute)}
input{flex:1 1 12rem;min-width:0;font:inherit;padding:.55rem .6rem;border:1px solid #8c959f;border-radius:.375rem}
button{font:inherit;padding:.55rem 1.1rem;border:0;border-radius:.375rem;background:#1f2328;color:#fff}
footer{margin:1rem .75rem 0;font-size:.85rem;color:var(--mute)}
.said{border:1px dashed #8c959f;border-radius:.375rem;background:#f6f8fa;padding:.5rem .7rem;margin-top:.6rem;overflow:hidden}
.said-label{margin:0 0 .35rem;font-size:.75rem;letter-spacing:.03em;color:var(--mute)}
li .said{margin-top:.3rem;padding:.3rem .5rem}
li .said .anchor{margin:0}
.who,.scan-note{font-size:.8rem;color:var(--mute)}
.erased{color:var(--mute);font-style:italic}
a{color:#0969da}
body[data-merchant=verified]{--tone:var(--ok)}
body[data-merchant=suspended]{--tone:var(--bad)}
.src{display:block;font-size:.75rem;color:var(--mute)}
.figure{font-size:1.15rem;font-weight:600}
dl.figures{display:block}
dl.figures dt{margin-top:.7rem}
dl.figures dt:first-child{margin-top:0}
p.evidence{margin:0 0 .3rem}
`;

const CSS_HASH = createHash('sha256').update(PAGE_CSS, 'utf8').digest('base64');

export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${CSS_HASH}'`,
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The verdict page's policy when it carries the browser check: its one script by hash (WebAssembly
 * for the core's keccak, no JavaScript eval), and fetches only to this origin and the public RPC.
 */
export function pageCspWithCheck(check: { sha256: string; rpcOrigin: string }): string {
  return [
    PAGE_CSP,
    `script-src 'sha256-${check.sha256}' 'wasm-unsafe-eval'`,
    `connect-src 'self' ${check.rpcOrigin}`,
  ].join('; ');
}

/** Headers for every HTML answer of the page routes. Verdicts and scan counts change: never cache. */
export function setPageHeaders(reply: FastifyReply, csp = PAGE_CSP): void {
  reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}
