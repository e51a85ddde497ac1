/**
 * The page's in-browser chain check (PUBLIC_RPC_URL) on a real instance: SQLite, the embedded dev
 * chain over its real JSON-RPC port, the batcher, and headless Chromium running the bundled script
 * for genuine, revoked and pending items, with JavaScript on and off, under the page's CSP. Then the
 * service lies (an older proof, a forged one, none) and the RPC is unreachable: the browser says it
 * could not check, never that it verified. Logs the check's time with 4x CPU throttling.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import { ApiClient } from '../../src/client/client.ts';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';

const ADMIN = 'x'.repeat(32);
const CHROMIUM = '/usr/bin/chromium';
const skipBrowser = !existsSync(CHROMIUM) && !process.env.CI;

let dataDir: string;
let runtime: Runtime;
let app: FastifyInstance;
let base: string;
let rpcUrl: string;
const ids = {} as Record<'genuine' | 'revoked' | 'pending' | 'lied', string>;

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

async function sealAndWaitFinal(recordIds: string[]): Promise<void> {
  await api('POST', '/v1/admin/batches/seal', ADMIN);
  const deadline = Date.now() + 60_000;
  for (const id of recordIds) {
    for (;;) {
      const record = await api('GET', `/v1/records/${id}`);
      if (record.events.every((e: { anchor: { status: string } }) => e.anchor.status === 'final')) break;
      if (Date.now() > deadline) throw new Error(`record ${id} not final in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'proofmark-browser-check-'));
  const [port, chainPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  rpcUrl = `http://127.0.0.1:${chainPort}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    DEV_CHAIN_PORT: String(chainPort),
    PUBLIC_RPC_URL: rpcUrl,
    PORT: '0',
    PUBLIC_BASE_URL: base,
    BATCH_MAX_AGE_MS: '3600000', // the pending record stays pending
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN: ADMIN,
  });
  runtime = await startRuntime(config, pino({ level: 'silent' }));
  app = await buildApp(runtime.services);
  await app.listen({ port, host: '127.0.0.1' });
  runtime.services.batcher.start();

  const admin = new ApiClient(base, { token: ADMIN });
  const merchant = await admitMerchant(admin, { name: 'Good Digital' }, TEST_EVIDENCE);
  const record = (externalId: string) => ({
    externalId,
    kind: 'licence',
    sku: `SKU-${externalId}`,
    productName: `Product ${externalId}`,
    serial: `SN-${externalId}`,
  });
  const reg = await api('POST', '/v1/records', merchant.apiKey, {
    records: [record('genuine'), record('revoked'), record('lied')],
  });
  [ids.genuine, ids.revoked, ids.lied] = reg.records.map((r: { id: string }) => r.id);
  await sealAndWaitFinal([ids.genuine, ids.revoked, ids.lied]);
  await api('POST', `/v1/records/${ids.revoked}/events`, merchant.apiKey, { type: 'revoked' });
  await api('POST', `/v1/records/${ids.lied}/events`, merchant.apiKey, { type: 'revoked' });
  await sealAndWaitFinal([ids.revoked, ids.lied]);
  // The operator's database now says the revoked licence is active again: the server's verdict lies.
  await runtime.storage.db
    .updateTable('records')
    .set({ state: 'active', head_seq: 0 })
    .where('id', '=', ids.lied)
    .execute();
  const pending = await api('POST', '/v1/records', merchant.apiKey, { records: [record('pending')] });
  ids.pending = pending.records[0].id;
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the page with PUBLIC_RPC_URL, over HTTP', () => {
  it('serves the script by its hash, cached for good, and allows exactly it and the RPC in the CSP', async () => {
    const check = runtime.services.browserCheck!;
    const page = await fetch(`${base}/v/${ids.genuine}`);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain(`script-src 'sha256-${check.sha256}' 'wasm-unsafe-eval'`);
    expect(csp).toContain(`connect-src 'self' ${rpcUrl}`);
    expect(html).toContain(`<script type="module" src="${check.path}" integrity="sha256-${check.sha256}">`);
    const script = await fetch(base + check.path);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const body = Buffer.from(await script.arrayBuffer());
    expect(createHash('sha256').update(body).digest('base64')).toBe(check.sha256);
    console.log(`browser check script: ${body.length} bytes, ${gzipSync(body).length} gzipped`);
  });

  it('puts no script on a page without a record', async () => {
    const res = await fetch(`${base}/v/${'z'.repeat(20)}`);
    expect(await res.text()).not.toContain('<script');
    expect(res.headers.get('content-security-policy')).not.toContain('script-src');
  });
});

describe.skipIf(skipBrowser)('the in-browser check in headless Chromium', () => {
  let browser: Browser;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function open(javaScriptEnabled = true): Promise<Page> {
    const context = await browser.newContext({ javaScriptEnabled, locale: 'zh-CN' });
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (/Content.Security.Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
    });
    return page;
  }

  /** The check's outcome, its text and how long it took, once the script has written them. */
  async function checked(page: Page, id: string) {
    await page.goto(`${base}/v/${id}`);
    const box = page.locator('#browser-check[data-outcome]');
    await box.waitFor({ state: 'visible', timeout: 20_000 });
    return {
      outcome: await box.getAttribute('data-outcome'),
      ms: Number(await box.getAttribute('data-ms')),
      verifyMs: Number(await box.getAttribute('data-verify-ms')),
      sinceNavigation: Number(await box.getAttribute('data-since-navigation')),
      text: (await box.locator('.check-result').textContent()) ?? '',
    };
  }

  it.each([
    ['genuine', 'latest event #0, active'],
    ['revoked', 'latest event #1, ended'],
    ['pending', 'the item is not on chain yet'],
  ] as const)('verifies the %s item against the chain, beside the verdict', async (which, state) => {
    const page = await open();
    const result = await checked(page, ids[which]);
    expect(await page.locator('body').getAttribute('data-verdict')).toBe(which);
    expect(result.outcome).toBe('verified');
    expect(result.text).toMatch(
      new RegExp(`verified by this browser against chain 31337 at block \\d+: ${state}`),
    );
    expect(result.text).toContain('本浏览器已对照链 31337 区块');
    await page.context().close();
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it.each(['genuine', 'revoked', 'pending'] as const)(
    'without JavaScript, the %s page is as served: the check stays hidden',
    async (which) => {
      const page = await open(false);
      await page.goto(`${base}/v/${ids[which]}`);
      expect(await page.locator('body').getAttribute('data-verdict')).toBe(which);
      expect(await page.locator('#browser-check').isHidden()).toBe(true);
      expect(await page.locator('#browser-check').getAttribute('data-outcome')).toBeNull();
      await page.context().close();
    },
  );

  it("contradicts the server's verdict when the database says a revoked item is active", async () => {
    const page = await open();
    const result = await checked(page, ids.lied);
    expect(await page.locator('body').getAttribute('data-verdict')).toBe('genuine');
    expect(result.outcome).toBe('disagrees');
    expect(result.text).toContain('contradicts the verdict above');
    await page.context().close();
  });

  /** Rewrites the service's state-proof answers in flight: a lying or broken service. */
  async function withService(
    page: Page,
    rewrite: (doc: Record<string, unknown>, url: URL) => Promise<unknown>,
  ) {
    await page.route('**/state-proof*', async (route) => {
      const url = new URL(route.request().url());
      const doc = (await (await route.fetch()).json()) as Record<string, unknown>;
      const body = await rewrite(doc, url);
      if (body === undefined) return route.fulfill({ status: 503, body: '{}' });
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    });
  }

  it('says it could not check when the service serves an older proof', async () => {
    const page = await open();
    await withService(page, async (doc, url) => {
      const batch = Number(url.searchParams.get('batch'));
      return (await fetch(`${base}/v1/records/${ids.revoked}/state-proof?batch=${batch - 1}`)).json();
    });
    const result = await checked(page, ids.revoked);
    expect(result.outcome).toBe('unavailable');
    expect(result.text).toContain('stale proof');
    await page.context().close();
  });

  it('says it could not check when the proof is forged or withheld', async () => {
    const forged = await open();
    await withService(forged, async (doc) => ({
      ...doc,
      value: { ...(doc.value as object), ended: false },
    }));
    const one = await checked(forged, ids.revoked);
    expect(one.outcome).toBe('unavailable');
    expect(one.text).toContain('mismatch');
    await forged.context().close();

    const withheld = await open();
    await withService(withheld, async () => undefined);
    const two = await checked(withheld, ids.genuine);
    expect(two.outcome).toBe('unavailable');
    expect(two.text).toContain('the service gave no state proof');
    await withheld.context().close();
  });

  it('says the RPC is unreachable when it is', async () => {
    const page = await open();
    await page.route(`${rpcUrl}/**`, (route) => route.abort('connectionrefused'));
    await page.route(rpcUrl, (route) => route.abort('connectionrefused'));
    const result = await checked(page, ids.genuine);
    expect(result.outcome).toBe('unavailable');
    expect(result.text).toContain("the chain's RPC is unreachable");
    await page.context().close();
  });

  it('takes this long with 4x CPU throttling (logged, not asserted)', async () => {
    const page = await open();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const times: string[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await checked(page, ids.genuine);
      expect(result.outcome).toBe('verified');
      times.push(`${result.ms} (proof check ${result.verifyMs}; ${result.sinceNavigation} from navigation)`);
    }
    console.log(
      `in-browser verification, 4x CPU throttling, ms from script start to verdict: ${times.join(', ')}`,
    );
    await page.context().close();
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
