/**
 * Where webhooks may go (SSRF): loopback, private, link-local (the cloud metadata address) and other
 * special addresses are refused by default, whether written as an IP in any of its spellings or as a
 * name that resolves to one; at registration through the API, and again when a delivery connects, so
 * a name re-pointed later (DNS rebinding) is refused too, before any connection is made. Nothing here
 * sends a packet anywhere but loopback: a refused target is never contacted.
 */
import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import {
  checkTarget,
  forbiddenAddress,
  ForbiddenTargetError,
  systemResolver,
} from '../../src/service/webhooks/address-policy.ts';
import { postWebhook } from '../../src/service/webhooks/deliver.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';

/** A resolver that answers from `table` and fails for any other name. */
const resolving =
  (table: Record<string, string[]>) =>
  async (host: string): Promise<LookupAddress[]> => {
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('the address policy', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:1::',
    'fd00:ec2::254',
    'fe80::1',
    'ff02::1',
  ])('refuses %s', (address) => {
    expect(forbiddenAddress(address)).toBe(true);
  });

  it.each(['1.1.1.1', '93.184.215.14', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111'])(
    'allows the public address %s',
    (address) => {
      expect(forbiddenAddress(address)).toBe(false);
    },
  );

  it('refuses a name with any forbidden address, and lets an unresolvable name pass', async () => {
    const resolve = resolving({
      'hooks.example': ['93.184.215.14'],
      'inside.example': ['10.0.0.7'],
      'both.example': ['93.184.215.14', '169.254.169.254'],
    });
    await checkTarget(new URL('https://hooks.example/x'), resolve);
    await checkTarget(new URL('https://not-yet.example/x'), resolve);
    for (const url of [
      'https://inside.example/x',
      'https://both.example/x',
      'http://[::1]:8080/',
      'http://0x7f.1/',
    ]) {
      await expect(checkTarget(new URL(url), resolve), url).rejects.toBeInstanceOf(ForbiddenTargetError);
    }
  });
});

describe('a delivery to a forbidden address', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is refused before connecting, by address or by a name resolving to one', async () => {
    const opts = { timeoutMs: 2000, allowPrivate: false };
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://localhost:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
    ]) {
      const result = await postWebhook(url, {}, '{}', opts);
      expect(result.statusCode, url).toBeNull();
      expect(result.error, url).toMatch(/^refused: .*loopback, private, link-local or reserved address/);
    }
    expect(connections).toBe(0);
    // The control: allowed, the same receiver answers.
    const allowed = await postWebhook(`http://localhost:${port}/`, {}, '{}', { ...opts, allowPrivate: true });
    expect(allowed).toMatchObject({ statusCode: 200, error: null });
    expect(connections).toBe(1);
  });
});

describe('registering a forbidden webhook URL through the API', () => {
  let h: Harness;
  let app: FastifyInstance;
  beforeAll(async () => {
    h = await startHarness({ startBatcher: false });
    // The default policy, said outright; names resolve from a table (no DNS query leaves the machine),
    // except localhost, which the system resolves from its hosts file.
    const table = resolving({ 'hooks.example': ['93.184.215.14'], 'rebound.example': ['10.0.0.7'] });
    const resolve = (host: string) => (host === 'localhost' ? systemResolver(host) : table(host));
    app = await buildApp({ ...h.runtime.services, webhooks: { allowPrivate: false, resolve } });
    await app.ready();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  const register = (url: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/admin/webhooks/endpoints',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { url },
    });

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost:8080/hook',
    'https://rebound.example/hook',
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://10.0.0.1/hook',
    'http://192.168.0.10/hook',
    'http://2130706433/hook',
    'http://0x7f.0.0.1/hook',
    'https://0.0.0.0/hook',
  ])('refuses %s', async (url) => {
    const res = await register(url);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'webhook_url_forbidden' });
    expect(res.json().message).toContain('WEBHOOK_ALLOW_PRIVATE');
    // What a name resolves to inside the operator's network is not told to whoever registers it.
    expect(res.json().message).not.toContain('10.0.0.7');
  });

  it.each([
    ['ftp://hooks.example/x', 'invalid_webhook_url'],
    ['file:///etc/passwd', 'invalid_webhook_url'],
    ['hooks.example/x', 'invalid_webhook_url'],
    ['https://user:secret@hooks.example/x', 'invalid_webhook_url'],
  ])('refuses %s as %s', async (url, code) => {
    const res = await register(url);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().code).toBe(code);
  });

  it('accepts a public name, and stores nothing for the refused ones', async () => {
    const res = await register('https://hooks.example/hook');
    expect(res.statusCode, res.body).toBe(201);
    const list = await app.inject({
      method: 'GET',
      url: '/v1/admin/webhooks/endpoints',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(list.json().endpoints.map((e: { url: string }) => e.url)).toEqual(['https://hooks.example/hook']);
  });
});
