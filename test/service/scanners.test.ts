/**
 * Who counts as a scanner (service/scanners.ts): a keyed hash of the network (IPv4 /24, IPv6 /64),
 * never the address; HEAD, prefetches and link-preview agents do not count at all.
 */
import { describe, expect, it } from 'vitest';
import { addressPrefix, scannerOf, type ScanRequest } from '../../src/service/scanners.ts';
import { ServerKey } from '../../src/service/server-key.ts';

const keys = ServerKey.generate();
const get = (ip: string, headers: ScanRequest['headers'] = {}): ScanRequest => ({
  method: 'GET',
  ip,
  headers,
});
const idOf = (request: ScanRequest) => {
  const scanner = scannerOf(keys, request);
  if (!scanner.counts) throw new Error(`not counted: ${scanner.reason}`);
  return scanner.id;
};

describe('addressPrefix', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['::ffff:203.0.113.77', '203.0.113.0/24'],
    ['::FFFF:198.51.100.1', '198.51.100.0/24'],
    ['2001:db8:aa:bb:1:2:3:4', '2001:db8:aa:bb::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0000:0001:ffff::', '2001:db8:0:1::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
    ['not an address', 'not an address'],
  ])('%s is in %s', (ip, prefix) => {
    expect(addressPrefix(ip)).toBe(prefix);
  });
});

describe('scannerOf', () => {
  it('gives one network one scanner, and another network another', () => {
    expect(idOf(get('203.0.113.1'))).toBe(idOf(get('203.0.113.254')));
    expect(idOf(get('203.0.113.1'))).toBe(idOf(get('::ffff:203.0.113.9')));
    expect(idOf(get('203.0.113.1'))).not.toBe(idOf(get('203.0.114.1')));
    expect(idOf(get('2001:db8:1:2::1'))).toBe(idOf(get('2001:db8:1:2:ffff:ffff:ffff:ffff')));
    expect(idOf(get('2001:db8:1:2::1'))).not.toBe(idOf(get('2001:db8:1:3::1')));
  });

  it('is a keyed hash: not the address, and different under another server key', () => {
    const id = idOf(get('203.0.113.1'));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toContain('203');
    const other = scannerOf(ServerKey.generate(), get('203.0.113.1'));
    expect(other).toMatchObject({ counts: true });
    expect(other.counts && other.id).not.toBe(id);
  });

  it('does not count HEAD, prefetches or prerenders', () => {
    expect(scannerOf(keys, { ...get('203.0.113.1'), method: 'HEAD' })).toEqual({
      counts: false,
      reason: 'head',
    });
    for (const headers of [
      { 'sec-purpose': 'prefetch' },
      { 'sec-purpose': 'prefetch;prerender' },
      { purpose: 'prefetch' },
      { 'x-purpose': 'preview' },
      { 'x-moz': 'prefetch' },
    ]) {
      expect(scannerOf(keys, get('203.0.113.1', headers))).toEqual({ counts: false, reason: 'prefetch' });
    }
  });

  it.each([
    'WhatsApp/2.23.20.0 A',
    'TelegramBot (like TwitterBot)',
    'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
    'Slack-ImgProxy (+https://api.slack.com/robots)',
    'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
    'Twitterbot/1.0',
    'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    'facebookexternalhit/1.1;line-poker/1.0',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0',
    'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com',
    'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
    'Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)',
    'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  ])('does not count the link preview of %s', (agent) => {
    expect(scannerOf(keys, get('203.0.113.1', { 'user-agent': agent }))).toEqual({
      counts: false,
      reason: 'link_preview',
    });
  });

  it.each([
    'Mozilla/5.0 (Linux; Android 13; CUBOT X30 Build/TP1A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN',
    'Mozilla/5.0 (Linux; Android 12; V2134A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/98.0 MQQBrowser/6.2 TBS/046247 Mobile Safari/537.36 V1_AND_SQ_8.9.38_4540_YYB_D QQ/8.9.38.10545 NetType/WIFI',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Line/13.20.0',
    'curl/8.5.0',
  ])('counts a person (or a script) using %s', (agent) => {
    expect(scannerOf(keys, get('203.0.113.1', { 'user-agent': agent }))).toMatchObject({ counts: true });
  });
});
