/**
 * One delivery attempt (deliver.ts) against real loopback servers: a 2xx is a delivery; any other
 * status, a redirect included (never followed), is a failure with its status; no answer within the
 * timeout is a failure without one; and an answer whose body never ends is cut off at the timeout.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { postWebhook } from '../../src/service/webhooks/deliver.ts';
import { waitFor } from '../helpers/wait.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, server };
}

const OPTS = { timeoutMs: 400, allowPrivate: true };

describe('one webhook attempt', () => {
  it('sends the body and the headers as given, and counts a 2xx as delivered', async () => {
    let seen: { headers: Record<string, unknown>; body: string } | undefined;
    const { url } = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { headers: req.headers, body };
        res.writeHead(204).end();
      });
    });
    const result = await postWebhook(url, { 'webhook-id': 'msg_1' }, '{"a":1}', OPTS);
    expect(result).toMatchObject({ statusCode: 204, error: null });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(seen!.body).toBe('{"a":1}');
    expect(seen!.headers).toMatchObject({
      'webhook-id': 'msg_1',
      'content-type': 'application/json',
      'user-agent': 'proofmark-webhooks/1',
    });
  });

  it('fails on any other status, and does not follow a redirect', async () => {
    let followed = false;
    const { url } = await serve((req, res) => {
      if (req.url === '/elsewhere') followed = true;
      res.writeHead(307, { location: '/elsewhere' }).end();
    });
    expect(await postWebhook(url, {}, '{}', OPTS)).toMatchObject({
      statusCode: 307,
      error: 'answered HTTP 307',
    });
    expect(followed).toBe(false);
  });

  it('fails without a status when no answer comes in time, or nothing listens', async () => {
    const { url } = await serve(() => {});
    expect(await postWebhook(url, {}, '{}', OPTS)).toMatchObject({
      statusCode: null,
      error: 'no answer within 400 ms',
    });
    const closed = await serve(() => {});
    closed.server.close();
    await new Promise((r) => setTimeout(r, 50));
    const refused = await postWebhook(closed.url, {}, '{}', OPTS);
    expect(refused.statusCode).toBeNull();
    expect(refused.error).toMatch(/ECONNREFUSED/);
  });

  it('cuts off an answer whose body never ends', async () => {
    let open = false;
    const { url } = await serve((_req, res) => {
      open = true;
      res.on('close', () => (open = false));
      res.writeHead(200);
      const drip = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(drip));
    });
    expect(await postWebhook(url, {}, '{}', OPTS)).toMatchObject({ statusCode: 200, error: null });
    await waitFor('the connection to be cut', () => !open, 5000);
  });
});
