/**
 * Webhooks survive a killed process. A real `proofmark serve` is SIGKILLed with messages in the
 * outbox: once while an attempt is in flight (the receiver holds the request without answering, so
 * the dead process's claim is left behind), once while the receiver is down and nothing has been
 * delivered. Started again on the same data, it delivers every message, the first with the same
 * webhook-id the receiver had already seen: at least once, and a duplicate is recognisable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import type { WebhookEndpointWithSecret } from '../../src/client/types.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';
import { recordBody } from '../helpers/records.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

const ADMIN_TOKEN = 'webhook-crash-admin-token-0123456789';

const processes: ServeProcess[] = [];
const receivers: Receiver[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.stop();
  for (const r of receivers.splice(0)) await r.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function environment(): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-webhook-crash-'));
  dirs.push(dataDir);
  return {
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    DEV_CHAIN_PORT: String(await freePort()),
    PUBLIC_BASE_URL: 'http://proofmark.test',
    CHAIN_POLL_MS: '50',
    BATCH_MAX_AGE_MS: '200',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_POLL_MS: '50',
    // A claim outlives an attempt by 2 × the timeout + 5 s: what a restart waits for a dead claim.
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_RETRY_SCHEDULE: '300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms',
  };
}

async function serve(env: Record<string, string>, name: string): Promise<ServeProcess> {
  const p = await spawnServe(env, name);
  processes.push(p);
  return p;
}

async function kill(p: ServeProcess): Promise<void> {
  p.child.kill('SIGKILL');
  expect((await p.exited).signal).toBe('SIGKILL');
}

/** The outbox as the killed process left it: each delivery's status, attempts and claim. */
async function outbox(dataDir: string) {
  const storage = await openStorage({ dataDir });
  try {
    return await storage.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhook_messages', 'webhook_messages.id', 'webhook_deliveries.message_id')
      .select(['message_id', 'type', 'status', 'attempts', 'claimed_by'])
      .execute();
  } finally {
    await storage.close();
  }
}

describe('webhooks across a SIGKILL of proofmark serve', () => {
  it('an attempt in flight when the process dies is made again after the restart', async () => {
    const env = await environment();
    const receiver = await startReceiver('hang');
    receivers.push(receiver);
    const first = await serve(env, 'first');
    const admin = first.client(ADMIN_TOKEN);
    const operator = await admin.webhooks('operator').create({ url: receiver.url });
    const { id } = await admitMerchant(admin, { name: 'Crash Shop' }, TEST_EVIDENCE);
    await admin.strikeMerchant(id, 'copied codes');
    await receiver.until('the attempt in flight', (r) => r.received.length === 1);
    await kill(first);

    const left = await outbox(env.DATA_DIR!);
    expect(left).toEqual([
      expect.objectContaining({ type: 'merchant.strike', status: 'pending', attempts: 0 }),
    ]);
    expect(left[0]!.claimed_by).not.toBeNull();
    await receiver.setMode('ok');

    const second = await serve(env, 'second');
    await receiver.until(
      'the delivery after the restart',
      (r) => r.received.some((x) => x.answered === 200),
      30_000,
    );
    const [hung, delivered] = receiver.received;
    expect(hung!.answered).toBe('hung');
    expect(delivered!.headers['webhook-id']).toBe(hung!.headers['webhook-id']);
    expect(delivered!.body).toBe(hung!.body);
    expectVerified(receiver, operator);
    const { deliveries } = await second.client(ADMIN_TOKEN).webhooks('operator').deliveries(operator.id);
    expect(deliveries).toMatchObject([{ status: 'delivered', messageId: left[0]!.message_id, attempts: 1 }]);
  });

  it('messages enqueued before the kill, never delivered, all arrive after the restart', async () => {
    const env = await environment();
    const receiver = await startReceiver('down');
    receivers.push(receiver);
    const first = await serve(env, 'first');
    const admin = first.client(ADMIN_TOKEN);
    const { id, apiKey } = await admitMerchant(admin, { name: 'Crash Shop' }, TEST_EVIDENCE);
    const shop = first.client(apiKey);
    const endpoint = await shop.webhooks().create({ url: receiver.url });
    const registered = await shop.registerRecords(['k-1', 'k-2'].map((x) => recordBody(x)));
    await admin.strikeMerchant(id, 'late');
    // Killed as soon as the records are final (the item.final message may or may not be enqueued yet).
    const ids = registered.records.map((r) => r.id);
    await waitFor('the records to be final', async () => {
      const verdicts = await Promise.all(ids.map((r) => shop.verdict(r)));
      return verdicts.every((v) => (v as { issuance?: { status: string } }).issuance?.status === 'final');
    });
    await kill(first);
    expect(receiver.received).toEqual([]);
    expect((await outbox(env.DATA_DIR!)).every((d) => d.status === 'pending')).toBe(true);

    await receiver.setMode('ok');
    await serve(env, 'second');
    await receiver.until(
      'item.final and merchant.strike',
      (r) => new Set(r.messages().map((m) => m.type)).size === 2,
      30_000,
    );
    expectVerified(receiver, endpoint);
    const final = receiver.messages().find((m) => m.type === 'item.final')!;
    const records = (final.data.records as Array<{ id: string }>).map((r) => r.id);
    expect(records.sort()).toEqual([...ids].sort());
    expect(new Set(receiver.messages().map((m) => m.id)).size).toBe(2);
  });
});

function expectVerified(receiver: Receiver, endpoint: WebhookEndpointWithSecret): void {
  for (const request of receiver.received) receiver.verify(request, endpoint.secret);
}
