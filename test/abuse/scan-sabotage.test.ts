/**
 * Attack 3 of issue 13, replayed against a running `proofmark serve` over real sockets: a competitor
 * tries to brand a genuine item as copied by scanning its code over and over (25 GETs used to be
 * enough), with HEAD requests, browser prefetches and link previews thrown in. The count now measures
 * distinct networks (IPv4 /24, IPv6 /64, each once per window), so 300 requests from one address
 * leave the item unsuspicious, and it takes 25 really distinct networks (here distinct loopback
 * addresses 127.0.x.1, which Linux routes to the loopback interface) to raise the warning. The
 * database holds keyed hashes of networks, never an address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUSPICIOUS_SCANS } from '../../src/service/scans.ts';
import { requestFrom } from '../helpers/net.ts';
import { startIdentityTarget, type IdentityTarget } from './identity-target.ts';

const PREVIEWERS = [
  'WhatsApp/2.23.20.0 A',
  'TelegramBot (like TwitterBot)',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'Twitterbot/1.0',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'facebookexternalhit/1.1;line-poker/1.0',
  'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5',
];

interface Scans {
  count: number;
  firstAt: string | null;
  suspicious: boolean;
}

describe('attack 3: scan sabotage', () => {
  let target: IdentityTarget;
  let victim: string;
  let copied: string;
  beforeAll(async () => {
    target = await startIdentityTarget();
    [victim, copied] = (await target.register('scan-victim', 'scan-copied')) as [string, string];
  });
  afterAll(async () => target?.close());

  const verdictUrl = (id: string) => `${target.serve.url}/v1/verify/${id}`;
  const pageUrl = (id: string) => `${target.serve.url}/v/${id}`;
  /** The count, read from an address that has scanned the item already (so reading adds nothing). */
  async function scansOf(id: string, from: string): Promise<Scans> {
    const res = await requestFrom(from, verdictUrl(id));
    return (JSON.parse(res.body) as { scans: Scans }).scans;
  }

  it('300 requests from one address, HEAD, prefetches and link previews leave an item unsuspicious', async () => {
    const started = Date.now();
    let answered = 0;
    // 300 verdicts from one address, API and page alternately, ten at a time.
    for (let round = 0; round < 30; round++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          requestFrom('127.0.0.1', i % 2 ? verdictUrl(victim) : pageUrl(victim)),
        ),
      );
      for (const a of answers) expect(a.status).toBe(200);
      answered += answers.length;
    }
    // HEAD, prefetches and link previews, each from 50 networks of their own.
    const uncounted = [
      ...Array.from({ length: 50 }, (_, i) =>
        requestFrom(`127.1.${i}.1`, pageUrl(victim), { method: 'HEAD' }),
      ),
      ...Array.from({ length: 50 }, (_, i) =>
        requestFrom(`127.2.${i}.1`, pageUrl(victim), {
          headers: { 'sec-purpose': i % 2 ? 'prefetch' : 'prefetch;prerender' },
        }),
      ),
      ...Array.from({ length: 50 }, (_, i) =>
        requestFrom(`127.3.${i}.1`, pageUrl(victim), {
          headers: { 'user-agent': PREVIEWERS[i % PREVIEWERS.length]! },
        }),
      ),
    ];
    for (const a of await Promise.all(uncounted)) expect(a.status).toBe(200);
    const ms = Date.now() - started;

    const scans = await scansOf(victim, '127.0.0.1');
    expect(scans).toMatchObject({ count: 1, suspicious: false });
    const page = await requestFrom('127.0.0.1', pageUrl(victim));
    expect(page.body).not.toContain('可能已被复制');
    expect(page.body).not.toContain('role="alert"');
    console.info(
      `attack 3 (scan sabotage): after ${answered} requests from one address and ${uncounted.length} HEAD, ` +
        `prefetch and link-preview requests from 150 networks (${ms} ms), the scan count is ${scans.count}, ` +
        `suspicious: ${scans.suspicious}`,
    );
  });

  it('25 distinct networks make an item suspicious, and the page says what the number means', async () => {
    const networks = 25;
    for (let i = 0; i < networks; i++) {
      expect((await requestFrom(`127.0.${10 + i}.1`, pageUrl(copied))).status).toBe(200);
      // A second address in the same /24 is the same network.
      expect((await requestFrom(`127.0.${10 + i}.2`, verdictUrl(copied))).status).toBe(200);
    }
    const scans = await scansOf(copied, '127.0.10.3');
    expect(scans).toMatchObject({ count: networks, suspicious: true });
    expect(networks).toBeGreaterThan(SUSPICIOUS_SCANS);
    const page = await requestFrom('127.0.10.1', pageUrl(copied));
    expect(page.body).toContain(`此码已在 ${networks} 个不同网络被扫描，可能已被复制。`);
    expect(page.body).toContain(
      'one network counts once every 30 days; link previews and prefetches do not count.',
    );
    console.info(
      `attack 3 (scan sabotage): ${networks} distinct networks (${networks * 2} requests) give a scan count of ` +
        `${scans.count}, suspicious: ${scans.suspicious}`,
    );
  });

  it('keeps no address in the database: scanners are keyed hashes of networks', async () => {
    await new Promise((r) => setTimeout(r, 1500)); // one flush of the written-behind counts
    const rows = await target.stopAndReadDatabase();
    expect(rows).toContain('scan_sightings.scanner=');
    expect(rows).not.toMatch(/127\.\d+\.\d+/);
    const sightings = rows.split('\n').filter((l) => l.startsWith('scan_sightings.scanner=')).length;
    // 300 requests from one address, 150 not counted, 50 from 25 networks: 26 sightings.
    expect(sightings).toBe(26);
  });
});
