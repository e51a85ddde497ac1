/**
 * The verification page on a real instance (SQLite, embedded dev chain, the batcher, a real port):
 * first over plain HTTP (status codes, data-verdict, headers, escaping, the key/PIN form), then in a
 * real headless Chromium on a phone-sized viewport, reached by decoding the item's QR code.
 *
 * The browser tests need Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`), and
 * `fonts-noto-cjk` so the Chinese renders. Without them they are skipped (or the font check warns),
 * except on CI, where they fail.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import jsqr from 'jsqr';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import { ApiClient } from '../../src/client/client.ts';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { SUSPICIOUS_SCANS } from '../../src/service/verdicts.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort, requestFrom } from '../helpers/net.ts';

/** jsqr is CommonJS: its function is both module.exports and its `default`. */
const jsQR = jsqr.default;
const ADMIN = 'x'.repeat(32);
const EXPLORER = 'https://explorer.example';
const XSS = `<script>alert(1)</script>"'&`;
const SECRET = 'ABCD-1234-EFGH-5678';
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && !process.env.CI) {
  console.warn(
    `skipping the browser tests of the verification page: ${CHROMIUM} is missing ` +
      '(Debian: apt-get install -y chromium fonts-noto-cjk)',
  );
}
/** On CI the browser tests run (and fail without Chromium); elsewhere they are skipped without it. */
const skipBrowser = !haveChromium && !process.env.CI;

let dataDir: string;
let runtime: Runtime;
let app: FastifyInstance;
let base: string;
/** Record ids by the verdict (or trait) they were set up for. */
const ids = {} as Record<
  'genuine' | 'revoked' | 'suspended' | 'pending' | 'xss' | 'copied' | 'noSecret' | 'tampered',
  string
>;
let genuineTx: { txHash: string; blockNumber: number; batchId: number };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Seals what is pending and waits (without counting scans) until every event of `recordIds` is final. */
async function sealAndWaitFinal(recordIds: string[], timeoutMs = 60_000): Promise<void> {
  await api('POST', '/v1/admin/batches/seal', ADMIN);
  const deadline = Date.now() + timeoutMs;
  for (const id of recordIds) {
    for (;;) {
      const record = await api('GET', `/v1/records/${id}`);
      if (record.events.every((e: { anchor: { status: string } }) => e.anchor.status === 'final')) break;
      if (Date.now() > deadline) throw new Error(`record ${id} not final after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function getPage(id: string) {
  const res = await fetch(`${base}/v/${id}`);
  return { res, html: await res.text() };
}

/** POSTs to /v/:id/secret so far: they share one rate-limit budget (this client's IP, this route). */
let secretPosts = 0;

async function postSecret(id: string, secret: string) {
  secretPosts++;
  const res = await fetch(`${base}/v/${id}/secret`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ secret }).toString(),
  });
  return { res, html: await res.text() };
}

const verdictOf = (html: string) => /<body data-verdict="([^"]*)"/.exec(html)?.[1];
const scansOf = async (id: string) => (await api('GET', `/v1/verify/${id}`)).scans.count as number;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'proofmark-page-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    DEV_CHAIN_PORT: '0',
    PORT: '0',
    PUBLIC_BASE_URL: base,
    EXPLORER_URL: EXPLORER,
    // Long enough that the one record meant to stay pending is never sealed by age during the run.
    BATCH_MAX_AGE_MS: '3600000',
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN: ADMIN,
  });
  runtime = await startRuntime(config, pino({ level: 'silent' }));
  app = await buildApp(runtime.services);
  await app.listen({ port, host: '127.0.0.1' });
  runtime.services.batcher.start();

  const admin = new ApiClient(base, { token: ADMIN });
  const good = await admitMerchant(admin, { name: `良品数码 Good Digital <b>&"'` }, TEST_EVIDENCE);
  const doomed = await admitMerchant(admin, { name: '跑路商家 Soon Suspended' }, TEST_EVIDENCE);
  const record = (externalId: string, kind: string, productName: string, secret?: string) => ({
    externalId,
    kind,
    sku: `SKU-${externalId}`,
    productName,
    serial: `SN-${externalId}-0001`,
    ...(secret !== undefined && { secret }),
  });
  const reg = await api('POST', '/v1/records', good.apiKey, {
    records: [
      record('genuine', 'licence', 'Windows 11 专业版 Pro', SECRET),
      record('revoked', 'card', '腾讯Q币 100 点卡'),
      record('xss', 'account', XSS, 'xss-secret'),
      record('copied', 'licence', 'Office 2021', 'copied-secret'),
      record('tampered', 'licence', 'Adobe Photoshop'),
    ],
  });
  [ids.genuine, ids.revoked, ids.xss, ids.copied, ids.tampered] = reg.records.map(
    (r: { id: string }) => r.id,
  );
  ids.noSecret = ids.revoked;
  const bad = await api('POST', '/v1/records', doomed.apiKey, {
    records: [record('suspended', 'account', '原神 账号 Genshin account')],
  });
  ids.suspended = bad.records[0].id;
  await sealAndWaitFinal([ids.genuine, ids.revoked, ids.xss, ids.copied, ids.tampered, ids.suspended]);
  // A stored issuance leaf that no longer matches its proof and the root on chain: `invalid`.
  await runtime.storage.db
    .updateTable('events')
    .set({ leaf: `0x${'ee'.repeat(32)}` })
    .where('record_id', '=', ids.tampered)
    .where('seq', '=', 0)
    .execute();

  // A fuller lifecycle, anchored in a second batch.
  await api('POST', `/v1/records/${ids.genuine}/events`, good.apiKey, {
    type: 'sold',
    data: { channel: '卡盟' },
  });
  await api('POST', `/v1/records/${ids.genuine}/events`, good.apiKey, { type: 'activated' });
  await api('POST', `/v1/records/${ids.revoked}/events`, good.apiKey, { type: 'sold' });
  await api('POST', `/v1/records/${ids.revoked}/events`, good.apiKey, { type: 'revoked' });
  await api('POST', `/v1/records/${ids.xss}/events`, good.apiKey, {
    type: 'sold',
    data: { note: '<img src=x onerror=alert(2)>' },
  });
  await sealAndWaitFinal([ids.genuine, ids.revoked, ids.xss]);

  for (let i = 0; i < 2; i++) {
    await api('POST', `/v1/merchants/${doomed.id}/strikes`, ADMIN, {
      reason: `strike ${i + 1}: resold keys`,
    });
  }
  const pending = await api('POST', '/v1/records', good.apiKey, {
    records: [record('pending', 'card', '网易一卡通 50')],
  });
  ids.pending = pending.records[0].id;

  const issuance = (await api('GET', `/v1/records/${ids.genuine}`)).events[0].anchor;
  genuineTx = { txHash: issuance.txHash, blockNumber: issuance.blockNumber, batchId: issuance.batchId };
  expect((await api('GET', `/v1/verify/${ids.genuine}`)).verdict).toBe('genuine');
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /v/:id over HTTP', () => {
  it('renders a genuine item: verdict, item, merchant, lifecycle with anchors, scans, form, proofs', async () => {
    const { res, html } = await getPage(ids.genuine);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(verdictOf(html)).toBe('genuine');
    expect(html).toMatch(/^<!doctype html>\n<html lang="zh-CN">/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toMatch(/<h1>正品<span class="en" lang="en">genuine<\/span><\/h1>/);
    expect(html).not.toMatch(/<script|<link rel="stylesheet"|\son\w+=|src="http/i);

    for (const text of [
      'Windows 11 专业版 Pro',
      'SN-genuine-0001',
      '软件授权',
      '良品数码 Good Digital &lt;b&gt;&amp;&quot;&#39;',
      '已认证',
      '发行',
      '售出',
      '激活',
      '已确认',
      'channel: 卡盟',
      `#${genuineTx.batchId}`,
      `<code>${genuineTx.txHash}</code>`,
      `区块 <span class="en" lang="en">block</span> ${genuineTx.blockNumber}`,
    ]) {
      expect(html).toContain(text);
    }
    expect(html).toContain(
      `<a href="${EXPLORER}/tx/${genuineTx.txHash}" rel="noopener noreferrer">区块浏览器`,
    );
    expect(html).toContain(`<a href="/v1/records/${ids.genuine}/proofs">`);
    expect(html).toContain(`<form method="post" action="/v/${ids.genuine}/secret">`);
    // The scan count says what it counts: networks, once per window, previews and prefetches not.
    expect(html).toMatch(
      /扫描 <span class="en" lang="en">Scans<\/span><\/dt><dd>\d+ 个网络 <span class="en" lang="en">networks<\/span>[\s\S]*?<time datetime="/,
    );
    expect(html).toContain(
      'one network counts once every 30 days; link previews and prefetches do not count.',
    );
    // What the merchant wrote is set apart from the verdict, in a labelled box.
    expect(html).toMatch(
      /<div class="said"><p class="said-label">商家填写 <span class="en" lang="en">merchant's description<\/span><\/p>\n<dl>\n<dt>名称 <span class="en" lang="en">Product<\/span><\/dt><dd><bdi>Windows 11 专业版 Pro<\/bdi>/,
    );
    // Three events, each with its anchor state.
    expect(html.match(/<li class="final">/g)).toHaveLength(3);
  });

  it('sets a strict Content-Security-Policy whose style hash matches the inline CSS', async () => {
    const { res, html } = await getPage(ids.genuine);
    const csp = res.headers.get('content-security-policy')!;
    const css = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const hash = createHash('sha256').update(css, 'utf8').digest('base64');
    expect(csp.split('; ').sort()).toEqual(
      [
        "default-src 'none'",
        `style-src 'sha256-${hash}'`,
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].sort(),
    );
    expect(csp).not.toMatch(/unsafe|script-src|\*/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(html.match(/<style>/g)).toHaveLength(1);
  });

  it('counts a scan per network, like GET /v1/verify/:id, not per view', async () => {
    const before = await scansOf(ids.genuine);
    await getPage(ids.genuine);
    await getPage(ids.genuine);
    // This client was counted already (scansOf's own call at the latest): views from it add nothing.
    expect(await scansOf(ids.genuine)).toBe(before);
    const other = await requestFrom('127.0.40.1', `${base}/v/${ids.genuine}`);
    expect(other.status).toBe(200);
    expect(await scansOf(ids.genuine)).toBe(before + 1);
  });

  it('says pending, revoked and merchant suspended', async () => {
    const pending = await getPage(ids.pending);
    expect(pending.res.status).toBe(200);
    expect(verdictOf(pending.html)).toBe('pending');
    expect(pending.html).toContain('<h1>待上链');
    expect(pending.html).toContain('<li class="pending">');
    expect(pending.html).toContain('点卡');
    expect(pending.html).not.toContain('/tx/');

    const revoked = await getPage(ids.revoked);
    expect(revoked.res.status).toBe(200);
    expect(verdictOf(revoked.html)).toBe('revoked');
    expect(revoked.html).toContain('<h1>已作废');
    expect(revoked.html).toMatch(/<span class="ev stop">作废 <span class="en" lang="en">revoked<\/span>/);

    const suspended = await getPage(ids.suspended);
    expect(suspended.res.status).toBe(200);
    expect(verdictOf(suspended.html)).toBe('merchant_suspended');
    expect(suspended.html).toContain('<h1>商家已被暂停');
    expect(suspended.html).toContain('已暂停');
    expect(suspended.html).toContain('游戏账号');
  });

  it('says invalid when the stored proof does not reach the root on chain', async () => {
    const { res, html } = await getPage(ids.tampered);
    expect(res.status).toBe(200);
    expect(verdictOf(html)).toBe('invalid');
    expect(html).toContain(
      '<h1>校验失败<span class="en" lang="en">invalid — proof does not match the chain</span>',
    );
  });

  it('answers an unknown or malformed id with 404 and data-verdict="not_found", escaped', async () => {
    const unknown = await getPage('no-such-record');
    expect(unknown.res.status).toBe(404);
    expect(unknown.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(unknown.res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; /);
    expect(verdictOf(unknown.html)).toBe('not_found');
    expect(unknown.html).toContain('<h1>查无此码');
    expect(unknown.html).not.toContain('<form');

    const malformed = await getPage(encodeURIComponent(`<img src=x onerror=alert(1)>"'&`));
    expect(malformed.res.status).toBe(404);
    expect(verdictOf(malformed.html)).toBe('not_found');
    expect(malformed.html).not.toContain('<img');
    // Nothing from the URL is shown, escaped or not: it is the visitor's (or an attacker's) text.
    expect(malformed.html).not.toContain('img src=x');
    expect(malformed.html).not.toContain('onerror');
    expect(unknown.html).not.toContain('no-such-record');
  });

  it('escapes everything from the database: product name, merchant name, event data', async () => {
    const { res, html } = await getPage(ids.xss);
    expect(res.status).toBe(200);
    expect(verdictOf(html)).toBe('genuine');
    expect(html).not.toContain(XSS);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    expect(html).toContain('note: &lt;img src=x onerror=alert(2)&gt;');
    // The title escapes too (it holds only the verdict words, but the rule is everywhere).
    expect(/<title>([^<]*)<\/title>/.exec(html)![1]).toBe('正品 genuine · proofmark');
  });

  it('shows the key/PIN form only when the record has a secret', async () => {
    expect((await getPage(ids.noSecret)).html).not.toContain('<form');
    expect((await getPage(ids.genuine)).html).toContain('name="secret"');
  });

  it('warns when a code has been scanned from suspiciously many networks', async () => {
    expect((await getPage(ids.copied)).html).not.toContain('警告');
    for (let i = 0; i < SUSPICIOUS_SCANS; i++) {
      expect((await requestFrom(`127.0.${50 + i}.1`, `${base}/v1/verify/${ids.copied}`)).status).toBe(200);
    }
    const { html } = await getPage(ids.copied);
    const n = SUSPICIOUS_SCANS + 1;
    expect(html).toContain('<section class="caution" role="alert"><strong>警告');
    expect(html).toContain(`此码已在 ${n} 个不同网络被扫描，可能已被复制。`);
    expect(html).toContain(
      `This code has been scanned from ${n} different networks; it may have been copied.`,
    );
  });

  it('POST /v/:id/secret answers match or no match on the page, without counting a scan', async () => {
    const before = await scansOf(ids.genuine);
    const right = await postSecret(ids.genuine, SECRET);
    expect(right.res.status).toBe(200);
    expect(right.res.headers.get('content-security-policy')).toMatch(/form-action 'self'/);
    expect(verdictOf(right.html)).toBe('genuine');
    expect(right.html).toContain('<section class="result ok"><strong>匹配');
    expect(right.html).not.toContain('不匹配');
    expect(right.html).not.toContain(SECRET);

    const wrong = await postSecret(ids.genuine, `${SECRET}X`);
    expect(wrong.res.status).toBe(200);
    expect(wrong.html).toContain('<section class="result no"><strong>不匹配');

    const empty = await postSecret(ids.genuine, '');
    expect(empty.res.status).toBe(400);
    expect(empty.html).toContain('result ask');

    const tooLong = await postSecret(ids.genuine, 'k'.repeat(600));
    expect(tooLong.res.status).toBe(413);
    expect(tooLong.html).toContain('输入过长');
    const overLimit = await postSecret(ids.genuine, 'k'.repeat(3000)); // past the form parser's 2 KiB
    expect(overLimit.res.status).toBe(413);
    expect(overLimit.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(overLimit.html).toContain(`<a href="/v/${ids.genuine}">返回`);

    const unknown = await postSecret('no-such-record', SECRET);
    expect(unknown.res.status).toBe(404);
    expect(verdictOf(unknown.html)).toBe('not_found');
    expect(await scansOf(ids.genuine)).toBe(before); // scansOf's own client was counted already
  });

  it('keeps the form parser to the page routes: the JSON API still refuses form bodies', async () => {
    const res = await fetch(`${base}/v1/verify/${ids.genuine}/secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `secret=${SECRET}`,
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { code: string }).code).toBe('unsupported_media_type');
  });
});

describe.skipIf(skipBrowser)('the page in headless Chromium on a phone', () => {
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    if (!haveChromium) {
      throw new Error(`${CHROMIUM} is missing: CI must run the browser tests (apt-get install -y chromium)`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
  });

  async function phone(javaScriptEnabled = true): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      javaScriptEnabled,
    });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content.Security.Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
    });
    return page;
  }

  /** The verdict banner's computed background (page code as a string: this project has no DOM types). */
  const bannerColour = (page: Page) =>
    page.evaluate<string>("getComputedStyle(document.querySelector('header.verdict')).backgroundColor");

  async function screenshot(page: Page, name: string): Promise<void> {
    const file = join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const png = PNG.sync.read(readFileSync(file));
    expect(png.width).toBe(390 * 2);
    expect(png.height).toBeGreaterThanOrEqual(844 * 2);
    expect(readFileSync(file).length).toBeGreaterThan(20_000);
  }

  it('the QR code leads to the genuine page, which shows its verdict styled and without CSP errors', async () => {
    const qr = PNG.sync.read(
      Buffer.from(await (await fetch(`${base}/v1/records/${ids.genuine}/qr.png`)).arrayBuffer()),
    );
    const url = jsQR(new Uint8ClampedArray(qr.data), qr.width, qr.height)!.data;
    expect(url).toBe(`${base}/v/${ids.genuine}`);

    const page = await phone();
    const res = await page.goto(url);
    expect(res!.status()).toBe(200);
    expect(await page.locator('body').getAttribute('data-verdict')).toBe('genuine');
    const h1 = page.locator('h1');
    expect(await h1.isVisible()).toBe(true);
    expect(await h1.innerText()).toMatch(/^正品\s*Genuine$/);
    // The inline stylesheet applied (its hash is in the CSP): the banner is green and the page fits.
    expect(await bannerColour(page)).toBe('rgb(26, 127, 55)');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'genuine');
    expect(cspViolations).toEqual([]);
  });

  it('needs no JavaScript: the verdict shows and the key form works with scripts off', async () => {
    const page = await phone(false);
    await page.goto(`${base}/v/${ids.genuine}`);
    expect(await page.locator('body').getAttribute('data-verdict')).toBe('genuine');
    expect(await page.locator('h1').isVisible()).toBe(true);
    expect(await page.locator('h1').innerText()).toContain('正品');

    await page.locator('input[name="secret"]').fill(SECRET);
    await Promise.all([
      page.waitForURL(`${base}/v/${ids.genuine}/secret`),
      page.locator('#check button').click(),
    ]);
    secretPosts++;
    const result = page.locator('section.result');
    expect(await result.isVisible()).toBe(true);
    expect(await result.innerText()).toContain('匹配');
    expect(await result.innerText()).not.toContain('不匹配');
    expect(cspViolations).toEqual([]);
  });

  it('shows revoked in red and not found in grey (404)', async () => {
    const page = await phone();
    await page.goto(`${base}/v/${ids.revoked}`);
    expect(await page.locator('body').getAttribute('data-verdict')).toBe('revoked');
    expect(await page.locator('h1').innerText()).toContain('已作废');
    expect(await bannerColour(page)).toBe('rgb(207, 34, 46)');
    await screenshot(page, 'revoked');

    const res = await page.goto(`${base}/v/no-such-record`);
    expect(res!.status()).toBe(404);
    expect(await page.locator('body').getAttribute('data-verdict')).toBe('not_found');
    expect(await page.locator('h1').isVisible()).toBe(true);
    expect(await page.locator('h1').innerText()).toContain('查无此码');
    expect(await bannerColour(page)).toBe('rgb(87, 96, 106)');
    await screenshot(page, 'not_found');
    expect(cspViolations).toEqual([]);
  });

  it("the merchant's name leads to its credit page, which fits the phone without CSP errors", async () => {
    const page = await phone();
    await page.goto(`${base}/v/${ids.genuine}`);
    await Promise.all([page.waitForURL(/\/m\/m_/), page.locator('a.merchant').click()]);
    expect(await page.locator('body').getAttribute('data-merchant')).toBe('verified');
    expect(await page.locator('h1').innerText()).toMatch(/^已认证\s*Verified$/);
    expect(await bannerColour(page)).toBe('rgb(26, 127, 55)');
    expect(await page.locator('[data-figure="itemsIssued"]').innerText()).toMatch(/^[1-9]\d*$/);
    expect(await page.locator('time').first().innerText()).toMatch(/\(UTC\+08:00\)$/);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await screenshot(page, 'merchant');
    expect(cspViolations).toEqual([]);
  });

  it('has a Chinese font, so the screenshots show glyphs rather than boxes', async () => {
    // Missing glyphs all render as the same box; two different characters rendering alike means
    // no CJK font (Debian: fonts-noto-cjk).
    const page = await phone();
    await page.setContent('<p style="font-size:40px"><span id="a">正</span> <span id="b">品</span></p>');
    const same = (await page.locator('#a').screenshot()).equals(await page.locator('#b').screenshot());
    if (same && !process.env.CI) {
      console.warn('Chinese renders as boxes in Chromium: apt-get install -y fonts-noto-cjk');
      return;
    }
    expect(same, 'Chinese renders as boxes: install fonts-noto-cjk').toBe(false);
  });

  it('the SVG QR code, rendered by the browser, decodes to the same URL', async () => {
    const page = await phone();
    await page.setViewportSize({ width: 360, height: 360 });
    await page.goto(`${base}/v1/records/${ids.genuine}/qr.svg`);
    const shot = PNG.sync.read(await page.screenshot());
    const code = jsQR(new Uint8ClampedArray(shot.data), shot.width, shot.height);
    expect(code?.data).toBe(`${base}/v/${ids.genuine}`);
  });
});

describe('rate limit', () => {
  // Last: it spends this route's budget for 127.0.0.1.
  it('POST /v/:id/secret allows 10 a minute, then answers 429 as a page', async () => {
    let limited: { res: Response; html: string } | null = null;
    while (!limited && secretPosts < 20) {
      const answer = await postSecret(ids.genuine, 'guess');
      if (answer.res.status === 429) limited = answer;
    }
    // The 11th POST of the minute is the first one refused.
    expect(secretPosts).toBe(11);
    expect(limited).not.toBeNull();
    const { res, html } = limited!;
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; /);
    expect(html).toContain('Too many attempts');
    expect(html).toContain('<body>\n'); // an error page carries no verdict
    expect(verdictOf(html)).toBeUndefined();
  });
});
