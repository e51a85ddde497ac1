/**
 * The buyer's walk in headless Chromium (issue 16): the reveal link's button shows the key, the
 * verification page's form opens a dispute with an uploaded image, the merchant contests through the
 * API, the operator decides for the buyer, and the item's page shows the decision and the refund.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';

const CHROMIUM = '/usr/bin/chromium';
const SECRET = 'WALK-KEY-5J3K-8L9M';
const skipBrowser = !existsSync(CHROMIUM) && !process.env.CI;
/** A PNG the sniffing accepts (the signature and an IHDR's start). */
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82]);

describe.skipIf(skipBrowser)('a buyer walks from the reveal to a decided dispute (Chromium)', () => {
  let h: Harness;
  let base: string;
  let browser: Browser;
  beforeAll(async () => {
    h = await startHarness({ startBatcher: false });
    base = await h.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('reveal, dispute with an image, contest, decision: the page shows refunded, the credit page the loss', async () => {
    const merchant = await h.verifiedMerchant();
    const registered = await api('POST', '/v1/records', merchant.apiKey, {
      records: [recordBody('walk-1', { secret: SECRET })],
    });
    const recordId = (registered.json.records as Array<{ id: string }>)[0]!.id;
    const sale = await api('POST', `/v1/records/${recordId}/sealed-sale`, merchant.apiKey, {
      secret: SECRET,
    });
    const revealUrl = (sale.json.revealUrl as string).replace('http://proofmark.test', base);

    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(revealUrl);
    expect(await page.content()).not.toContain(SECRET);
    await page.click('button[type=submit]');
    await page.waitForSelector('code.secret');
    expect(await page.textContent('code.secret')).toBe(SECRET);

    await page.click(`a[href="/v/${recordId}"]`);
    await page.waitForSelector('form[action$="/dispute"]');
    await page.fill('input[name=disputeSecret]', SECRET);
    await page.selectOption('select[name=reason]', 'already_used');
    await page.fill('textarea[name=description]', '激活时提示已被使用 redeemed before I got it');
    const dir = mkdtempSync(join(tmpdir(), 'pm-walk-'));
    writeFileSync(join(dir, 'screen.png'), PNG);
    await page.setInputFiles('input[name=evidence]', join(dir, 'screen.png'));
    await page.click('form[action$="/dispute"] button[type=submit]');
    await page.waitForSelector('section.dispute[data-dispute="open"]');
    expect(await page.textContent('section.dispute')).toMatch(/剩余 2[34] 小时/);

    const listed = await api('GET', '/v1/admin/disputes?status=open', ADMIN_TOKEN);
    const dispute = (
      listed.json.disputes as Array<{ id: string; files: Array<{ contentType: string }> }>
    )[0]!;
    expect(dispute.files.map((f) => f.contentType)).toEqual(['image/png']);
    const contest = await api('POST', `/v1/disputes/${dispute.id}/answer`, merchant.apiKey, {
      response: 'contest',
      answer: 'the key was unused when delivered',
    });
    expect(contest.status).toBe(200);
    await page.reload();
    await page.waitForSelector('section.dispute[data-dispute="answered"]');
    const decided = await api('POST', `/v1/admin/disputes/${dispute.id}/decision`, ADMIN_TOKEN, {
      decision: 'buyer',
      strike: true,
    });
    expect(decided.status).toBe(200);

    await page.reload();
    await page.waitForSelector('section.dispute[data-dispute="decided"]');
    expect(await page.getAttribute('dd[data-decision]', 'data-decision')).toBe('buyer');
    expect(await page.getAttribute('body', 'data-verdict')).toBe('revoked');
    expect(await page.textContent('main')).toContain('退款');
    expect(await page.$('form[action$="/dispute"]')).toBeNull();

    // The merchant's credit page, linked from the item's page, shows the lost dispute and the strike.
    await page.click(`a[href="/m/${merchant.id}"]`);
    await page.waitForSelector('section#disputes');
    const figure = (name: string) => page.textContent(`[data-figure="${name}"]`);
    expect(await figure('disputesOpened')).toBe('1');
    expect(await figure('disputesLost')).toBe('1');
    expect(await figure('strikes')).toBe('1');
    await context.close();
  });
});
