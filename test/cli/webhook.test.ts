/**
 * `proofmark webhook …`, the operator's endpoints, as a child process against a real `proofmark
 * serve`: registered with its secret printed once, a strike delivered to a real receiver and signed
 * with that secret, the delivery log, a replay under the same webhook-id, a rotation, a deletion.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';
import { runCli } from './helpers.ts';

const ADMIN_TOKEN = 'cli-webhook-admin-token-0123456789';

describe('proofmark webhook', () => {
  let dataDir: string;
  let serve: ServeProcess;
  let receiver: Receiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofmark-cli-webhook-'));
    receiver = await startReceiver();
    serve = await spawnServe({
      DATA_DIR: dataDir,
      ADMIN_TOKEN,
      DEV_CHAIN_PORT: String(await freePort()),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_POLL_MS: '50',
    });
    env = { PROOFMARK_API: serve.url, ADMIN_TOKEN };
  }, 60_000);
  afterAll(async () => {
    await serve?.stop();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs the CLI, expects exit 0, parses stdout as JSON. */
  async function cli<T>(...args: string[]): Promise<T> {
    const result = await runCli(['webhook', ...args], env);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  }

  it('registers, delivers, logs, replays, rotates and deletes the operator’s endpoint', async () => {
    const created = await cli<{ id: string; secret: string; eventTypes: string[] }>(
      'create',
      '--url',
      receiver.url,
      '--event',
      'merchant.strike',
      '--description',
      'ops pager',
    );
    expect(created.eventTypes).toEqual(['merchant.strike']);
    expect(created.secret).toMatch(/^whsec_/);
    const listed = await cli<{ endpoints: Array<{ id: string }> }>('list');
    expect(listed.endpoints.map((e) => e.id)).toEqual([created.id]);
    expect(JSON.stringify(listed)).not.toContain(created.secret);

    const admin = serve.client(ADMIN_TOKEN);
    const { id } = await admitMerchant(admin, { name: 'CLI Shop' }, TEST_EVIDENCE);
    await admin.strikeMerchant(id, 'sold a used card');
    await receiver.until('the strike', (r) => r.received.length === 1);
    const body = receiver.verify(receiver.received[0]!, created.secret) as { type: string };
    expect(body.type).toBe('merchant.strike');

    type Page = { deliveries: Array<{ messageId: string; status: string }>; next: string | null };
    const page = await waitFor('the delivery logged', async () => {
      const p = await cli<Page>('deliveries', created.id, '--limit', '10');
      return p.deliveries[0]?.status === 'delivered' && p;
    });
    const messageId = page.deliveries[0]!.messageId;
    expect(messageId).toBe(receiver.received[0]!.headers['webhook-id']);
    expect(await cli('replay', created.id, messageId)).toMatchObject({ messageId, status: 'pending' });
    await receiver.until('the replay', (r) => r.received.length === 2);
    expect(receiver.received[1]!.headers['webhook-id']).toBe(messageId);

    const rotated = await cli<{ secret: string }>('rotate-secret', created.id);
    expect(rotated.secret).not.toBe(created.secret);
    expect(await cli('delete', created.id)).toMatchObject({ id: created.id });
    expect(await cli('list')).toEqual({ endpoints: [] });
  });

  it('refuses without the admin token, and a bad --limit, in one line', async () => {
    const missing = await runCli(['webhook', 'list'], { PROOFMARK_API: serve.url });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^error: no admin token/);
    const limit = await runCli(['webhook', 'deliveries', 'we_x', '--limit', '500'], env);
    expect(limit.code).toBe(2);
    expect(limit.stderr.trim()).toBe('error: --limit must be from 1 to 100');
  });
});
