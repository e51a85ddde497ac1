/**
 * Attack 8 of issue 13, replayed against a running `proofmark serve` over real sockets: merchants
 * dressing up as the platform or as each other. A product name with U+202E shown under a verdict,
 * duplicate and homoglyph merchant names, zero-width and all-blank names, and a not-found page that
 * echoed attacker-chosen URL text. Each is now refused (400 naming the field, 409 for a taken name)
 * or not shown, and the page shows who is speaking: the merchant's id and verified-since beside its
 * name, and the merchant's text in a labelled box apart from the verdict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordBody } from '../helpers/records.ts';
import { requestFrom } from '../helpers/net.ts';
import { startIdentityTarget, type IdentityTarget } from './identity-target.ts';

describe('attack 8: who is speaking on the page', () => {
  let target: IdentityTarget;
  beforeAll(async () => {
    target = await startIdentityTarget();
  });
  afterAll(async () => target?.close());

  const post = (path: string, token: string, body: unknown) =>
    target.serve.http(path.split(' ')[0]!, path.split(' ')[1]!, token, body);
  const admin = (name: string) => post('POST /v1/merchants', 'abuse-admin-token-0123456789abcdef', { name });

  it('refuses merchant names that pass for another, or hide characters, and names the rule', async () => {
    expect((await admin('Alpha Cards')).status).toBe(201);
    const attempts: Array<[string, number, string]> = [
      ['Alpha Cards', 409, 'merchant_name_taken'],
      ['\u0410lpha Cards', 409, 'merchant_name_taken'], // Cyrillic А
      ['ALPHA  CARDS', 409, 'merchant_name_taken'],
      ['Ａｌｐｈａ Ｃａｒｄｓ', 409, 'merchant_name_taken'], // full-width
      ['AIpha Cards', 409, 'merchant_name_taken'], // capital I for l
      ['正规卡盟 Honest Cards', 409, 'merchant_name_taken'], // the target's own merchant
      ['Alpha\u200bCards', 400, 'unsafe_text'],
      ['Alpha Cards\u202e', 400, 'unsafe_text'],
      ['   ', 400, 'blank_text'],
      ['\u3164\u3164', 400, 'unsafe_text'],
    ];
    for (const [name, status, code] of attempts) {
      const res = await admin(name);
      expect(res.status, JSON.stringify(name)).toBe(status);
      expect(res.body, JSON.stringify(name)).toMatchObject({ code });
    }
    const taken = await admin('\u0410lpha Cards');
    expect((taken.body as { message: string }).message).toMatch(/reads the same as the name of merchant m_/);
    console.info(
      `attack 8 (spoofed merchants): ${attempts.length} lookalike, hidden-character or blank names refused ` +
        `(${attempts.filter((a) => a[1] === 409).length} as taken, ${attempts.filter((a) => a[1] === 400).length} as unshowable)`,
    );
  });

  it('refuses control, bidi and zero-width characters in every text a merchant writes that the page shows', async () => {
    const { apiKey } = target.shop;
    const cases: Array<[string, unknown, string]> = [
      [
        'records[0].productName',
        { records: [recordBody('s-1', { productName: '正品 genuine ✓\u202e' })] },
        'unsafe_text',
      ],
      ['records[0].sku', { records: [recordBody('s-2', { sku: 'SKU\u2066-1' })] }, 'unsafe_text'],
      ['records[0].serial', { records: [recordBody('s-3', { serial: 'SN\u200d1' })] }, 'unsafe_text'],
      [
        'records[0].metadata key',
        { records: [recordBody('s-4', { metadata: { 'reg\u200bion': 'CN' } })] },
        'unsafe_text',
      ],
      [
        'records[0].metadata.region',
        { records: [recordBody('s-5', { metadata: { region: '\u202eNC' } })] },
        'unsafe_text',
      ],
      ['records[0].productName', { records: [recordBody('s-6', { productName: '\u3000 ' })] }, 'blank_text'],
    ];
    for (const [field, body, code] of cases) {
      const res = await post('POST /v1/records', apiKey, body);
      expect(res.status, field).toBe(400);
      expect(res.body, field).toMatchObject({ code, message: expect.stringContaining(field) });
    }
    const [id] = await target.register('s-ok');
    for (const data of [{ channel: '卡盟\u202e' }, { ['ch\u200dannel']: 'web' }, { channel: '\u2028' }]) {
      const res = await post(`POST /v1/records/${id}/events`, apiKey, { type: 'sold', data });
      expect(res.status, JSON.stringify(data)).toBe(400);
      expect((res.body as { message: string }).message).toMatch(/^data/);
    }
    console.info(
      `attack 8 (merchant text): ${cases.length + 3} texts with hidden or reordering characters refused with 400`,
    );
  });

  it('shows the merchant id and verified-since beside its name, and merchant text apart from the verdict', async () => {
    const [id] = await target.register('shown-1');
    await target.shop.client.addEvent(id!, { type: 'sold', data: { channel: '卡盟 正品保证 genuine' } });
    const page = await requestFrom('127.0.0.1', `${target.serve.url}/v/${id}`);
    expect(page.status).toBe(200);
    const header = /<header class="verdict">([\s\S]*?)<\/header>/.exec(page.body)![1]!;
    // The verdict header is the service's words only: nothing the merchant wrote.
    expect(header).not.toContain('Windows 11 Pro');
    expect(header).not.toContain('正规卡盟');
    expect(header).not.toContain('正品保证');
    expect(page.body).toMatch(
      new RegExp(
        `<a class="merchant" href="/m/${target.shop.id}"><strong><bdi>正规卡盟 Honest Cards</bdi></strong></a>\\n<br><span class="who">编号 <span class="en" lang="en">id</span> <code>${target.shop.id}</code>\\n · 认证于 <span class="en" lang="en">verified since</span> <time datetime="`,
      ),
    );
    const boxes = page.body.match(
      /<div class="said"><p class="said-label">商家填写 <span class="en" lang="en">merchant's description<\/span><\/p>/g,
    );
    expect(boxes).toHaveLength(2); // the item's fields, and the sold event's data
    expect(page.body).toMatch(/<div class="said">[\s\S]*?<bdi>Windows 11 Pro<\/bdi>/);
    expect(page.body).toMatch(/<div class="said">[\s\S]*?<bdi>channel: 卡盟 正品保证 genuine<\/bdi>/);
  });

  it('never echoes URL text on the not-found page', async () => {
    for (const path of [
      '/v/Call%20support%20at%20evil',
      '/v/Call_support_at_400-123-4567_evil',
      '/v/%E2%80%AEfake-seller',
    ]) {
      const res = await requestFrom('127.0.0.1', target.serve.url + path);
      expect(res.status, path).toBe(404);
      expect(res.body).toContain('data-verdict="not_found"');
      for (const word of ['Call', 'support', 'evil', '4567', 'fake-seller', '\u202e'])
        expect(res.body, path).not.toContain(word);
    }
    console.info('attack 8 (URL text): the not-found page shows none of 3 attacker-chosen paths');
  });
});
