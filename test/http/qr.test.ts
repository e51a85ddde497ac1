/**
 * QR codes on a real instance (SQLite, embedded dev chain, a real port): the PNG decodes to exactly
 * the verification URL with error correction M and a 4-module quiet zone; the SVG is an SVG
 * document of the same symbol; unknown ids are a JSON 404.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import jsqr from 'jsqr';
import pino from 'pino';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { freePort } from '../helpers/net.ts';

/** jsqr is CommonJS: its function is both module.exports and its `default`. */
const jsQR = jsqr.default;
const ADMIN = 'x'.repeat(32);
const PX_PER_MODULE = 8;

let dataDir: string;
let runtime: Runtime;
let app: FastifyInstance;
let base: string;
let recordId: string;
let registeredUrl: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function post(path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Dark or light module at a pixel (the PNG is black on white). */
function darkAt(png: PNG, x: number, y: number): boolean {
  return png.data[(y * png.width + x) * 4]! < 128;
}

/** The error correction level from the symbol's first copy of its format information (ISO 18004 7.9). */
function errorCorrectionLevel(png: PNG, quiet: number): 'L' | 'M' | 'Q' | 'H' {
  const module = (row: number, col: number) =>
    darkAt(png, (quiet + col) * PX_PER_MODULE + 4, (quiet + row) * PX_PER_MODULE + 4);
  const cells: Array<[number, number]> = [
    [8, 0], [8, 1], [8, 2], [8, 3], [8, 4], [8, 5], [8, 7], [8, 8],
    [7, 8], [5, 8], [4, 8], [3, 8], [2, 8], [1, 8], [0, 8],
  ]; // prettier-ignore
  const bits = cells.reduce((acc, [r, c]) => (acc << 1) | (module(r, c) ? 1 : 0), 0) ^ 0b101010000010010;
  return (['M', 'L', 'H', 'Q'] as const)[bits >> 13]!;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'proofmark-qr-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    DEV_CHAIN_PORT: '0',
    PORT: '0',
    PUBLIC_BASE_URL: base,
    BATCH_MAX_AGE_MS: '3600000',
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN: ADMIN,
  });
  runtime = await startRuntime(config, pino({ level: 'silent' }));
  app = await buildApp(runtime.services);
  await app.listen({ port, host: '127.0.0.1' });

  const merchant = await post('/v1/merchants', ADMIN, { name: 'QR 测试商家' });
  await post(`/v1/merchants/${merchant.id}/verify`, ADMIN, {
    evidence: [{ description: 'reseller letter', sha256: 'ab'.repeat(32) }],
  });
  const reg = await post('/v1/records', merchant.apiKey, {
    records: [
      { externalId: 'qr-1', kind: 'card', sku: 'STEAM-100', productName: 'Steam 100', serial: 'C-1' },
    ],
  });
  recordId = reg.records[0].id;
  registeredUrl = reg.records[0].verifyUrl;
});

afterAll(async () => {
  await app?.close();
  await runtime?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /v1/records/:id/qr.png', () => {
  it('decodes to exactly PUBLIC_BASE_URL/v/:id, with error correction M and a 4-module quiet zone', async () => {
    const res = await fetch(`${base}/v1/records/${recordId}/qr.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d{6,}/);
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));

    const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    expect(code?.data).toBe(`${base}/v/${recordId}`);
    expect(code?.data).toBe(registeredUrl);
    // Small enough to scan from a phone: a version 1-4 symbol.
    expect(code!.version).toBeLessThanOrEqual(4);

    const modules = 17 + 4 * code!.version;
    const quiet = (png.width / PX_PER_MODULE - modules) / 2;
    expect(png.width).toBe(png.height);
    expect(quiet).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < quiet * PX_PER_MODULE; i++) {
      for (const [x, y] of [
        [i, png.height / 2],
        [png.width / 2, i],
        [png.width - 1 - i, png.height / 2],
        [png.width / 2, png.height - 1 - i],
      ] as const) {
        expect(darkAt(png, x, y)).toBe(false);
      }
    }
    // The top-left finder pattern starts right after the quiet zone.
    expect(darkAt(png, quiet * PX_PER_MODULE, quiet * PX_PER_MODULE)).toBe(true);
    // Error correction M or better (this service makes M).
    expect(['M', 'Q', 'H']).toContain(errorCorrectionLevel(png, quiet));
  });

  it('is a JSON 404 record_not_found for an unknown id, and a 400 for a malformed one', async () => {
    for (const ext of ['png', 'svg']) {
      const res = await fetch(`${base}/v1/records/no-such-record/qr.${ext}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toMatchObject({ statusCode: 404, code: 'record_not_found' });
      const bad = await fetch(`${base}/v1/records/bad%20id!/qr.${ext}`);
      expect(bad.status).toBe(400);
    }
  });
});

describe('GET /v1/records/:id/qr.svg', () => {
  it('is an SVG document of the same symbol, with a 4-module quiet zone', async () => {
    const res = await fetch(`${base}/v1/records/${recordId}/qr.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d{6,}/);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
    const svg = await res.text();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 (\d+) \1"/);
    expect(svg.trimEnd()).toMatch(/<\/svg>$/);
    expect(svg).not.toMatch(/<script|on\w+=/i);

    const png = PNG.sync.read(
      Buffer.from(await (await fetch(`${base}/v1/records/${recordId}/qr.png`)).arrayBuffer()),
    );
    const size = Number(/viewBox="0 0 (\d+)/.exec(svg)![1]);
    expect(size).toBe(png.width / PX_PER_MODULE);
    // Drawing starts at the quiet zone's edge: 4 modules in.
    expect(svg).toMatch(/d="M4 4\.5h7/);
  });
});

describe('OpenAPI', () => {
  it('lists both QR routes under public with a binary 200, and hides the page routes', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const spec: any = await (await fetch(`${base}/openapi.json`)).json();
    for (const [ext, media] of [
      ['png', 'image/png'],
      ['svg', 'image/svg+xml'],
    ]) {
      const op = spec.paths[`/v1/records/{id}/qr.${ext}`].get;
      expect(op.tags).toEqual(['public']);
      expect(op.responses['200'].content[media!].schema).toEqual({ type: 'string', format: 'binary' });
      expect(op.responses['404'].content['application/json']).toBeDefined();
    }
    expect(Object.keys(spec.paths).filter((p) => p.startsWith('/v/'))).toEqual([]);
  });
});
