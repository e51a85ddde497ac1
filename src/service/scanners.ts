/**
 * Who is scanning an item's code, for the scan count: a keyed hash of the network the request came
 * from (the /24 of an IPv4 address, the /64 of an IPv6 one), so one person asking 300 times is one
 * scanner and the database never holds an address. Requests that are not a person looking at the
 * code do not count at all: HEAD, browser prefetches and prerenders, and link previews that chat
 * apps fetch when a link is shared (their fleets span many networks, so they would count many times).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ServerKey } from './server-key.ts';

/** What the scan count needs of a request. */
export interface ScanRequest {
  method: string;
  /** The client address as the HTTP layer determined it (behind TRUST_PROXY, from the proxy's header). */
  ip: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type NotCounted = 'head' | 'prefetch' | 'link_preview';

export type Scanner = { counts: true; id: string } | { counts: false; reason: NotCounted };

/**
 * Link-preview and crawler agents, matched case-insensitively anywhere in User-Agent. Each names
 * itself in its documentation or its requests: Facebook, Messenger and Instagram (facebookexternalhit,
 * Facebot, meta-externalagent), WhatsApp, Telegram (TelegramBot), Slack (Slackbot-LinkExpanding,
 * Slack-ImgProxy), Discord (Discordbot), Twitter/X (Twitterbot), LINE (line-poker, which LINE appends
 * to facebookexternalhit), Skype and Teams (SkypeUriPreview), Apple's iMessage previews (which send
 * "facebookexternalhit Facebot Twitterbot"), LinkedIn, Pinterest, Reddit, Mastodon, VK, and unfurling
 * services (Embedly, Iframely). WeChat and QQ fetch previews from the sharer's own
 * phone with their in-app browser's agent (MicroMessenger, QQ/), which is also what a buyer opening
 * the code uses: those are counted, once per network like anyone. Search-engine and other crawlers
 * are caught by the last tokens.
 */
const PREVIEW_AGENTS = new RegExp(
  [
    'facebookexternalhit',
    'facebot',
    'meta-externalagent',
    'meta-externalfetcher',
    'whatsapp',
    'telegrambot',
    'slackbot',
    'slack-imgproxy',
    'discordbot',
    'twitterbot',
    'line-poker',
    'linespider',
    'skypeuripreview',
    'linkedinbot',
    'pinterest',
    'redditbot',
    'mastodon',
    'vkshare',
    'embedly',
    'iframely',
    'google-pagerenderer',
    'bingpreview',
    'applebot',
    'googlebot',
    'bingbot',
    'crawler',
    'spider',
  ].join('|'),
  'i',
);

/** Whether the request is a prefetch or prerender: the browser may never show the page to anyone. */
function isPrefetch(headers: ScanRequest['headers']): boolean {
  const purpose = [headers['sec-purpose'], headers['purpose'], headers['x-purpose'], headers['x-moz']]
    .flat()
    .filter((v): v is string => typeof v === 'string')
    .join(',')
    .toLowerCase();
  return /prefetch|prerender|preview/.test(purpose);
}

/** Whether this request counts as a scan, and if it does, who the scanner is (never the address). */
export function scannerOf(keys: ServerKey, request: ScanRequest): Scanner {
  if (request.method === 'HEAD') return { counts: false, reason: 'head' };
  if (isPrefetch(request.headers)) return { counts: false, reason: 'prefetch' };
  const agent = request.headers['user-agent'];
  if (typeof agent === 'string' && PREVIEW_AGENTS.test(agent))
    return { counts: false, reason: 'link_preview' };
  return { counts: true, id: keys.mac('scanner', addressPrefix(request.ip)).subarray(0, 16).toString('hex') };
}

/**
 * The network an address belongs to, as text: `a.b.c.0/24` for IPv4 (an IPv4-mapped IPv6 address
 * counts as IPv4), the first four groups and `::/64` for IPv6 (a /64 is what one subscriber gets).
 * Anything else is returned as it is.
 */
export function addressPrefix(ip: string): string {
  const v4 = ip.toLowerCase().startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  const address = ip.split('%')[0]!;
  if (!isIPv6(address)) return ip;
  const groups = ipv6Groups(address);
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted quad split in two). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((p) => {
          if (!p.includes('.')) return [parseInt(p, 16)];
          const [a, b, c, d] = p.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [left, right] = address.split('::') as [string, string | undefined];
  if (right === undefined) return parse(left);
  const head = parse(left);
  const tail = parse(right);
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
