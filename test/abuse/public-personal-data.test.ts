/**
 * The privacy part of issue 13's point 10, replayed against a running `proofmark serve` over real
 * sockets: event data and metadata used to take a buyer's name (the docs' own example did) and
 * strike reasons were public forever. Now personal-data keys and email addresses are refused with
 * 400; a strike's reason is the operator's alone; and the operator can erase one event's content
 * (`proofmark admin erase-event`): its tombstone says who erased it and when, the page says
 * "erased", its own bundle no longer verifies, and the record's other events, its issuance and
 * the other records of the same batch still verify on chain with `proofmark verify`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, ChainInfo } from '../../src/client/types.ts';
import { runCli } from '../cli/helpers.ts';
import { requestFrom } from '../helpers/net.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { ADMIN_TOKEN, startIdentityTarget, type IdentityTarget } from './identity-target.ts';

describe('privacy: what is public stays about the item', () => {
  let target: IdentityTarget;
  beforeAll(async () => {
    target = await startIdentityTarget();
  });
  afterAll(async () => target?.close());

  it('refuses personal data in event data and metadata, with 400 personal_data', async () => {
    const [id] = await target.register('privacy-refused');
    const attempts: Array<[string, string, unknown]> = [
      ['data key buyer', `POST /v1/records/${id}/events`, { type: 'sold', data: { buyer: '张三' } }],
      ['data key buyerName', `POST /v1/records/${id}/events`, { type: 'sold', data: { buyerName: 'Li Si' } }],
      ['data key 收货人', `POST /v1/records/${id}/events`, { type: 'sold', data: { 收货人: '王五' } }],
      ['data key phone', `POST /v1/records/${id}/events`, { type: 'sold', data: { phone: '13800138000' } }],
      ['data key qq', `POST /v1/records/${id}/events`, { type: 'sold', data: { qq: '10001' } }],
      ['data key wechat', `POST /v1/records/${id}/events`, { type: 'sold', data: { wechatId: 'zs_1990' } }],
      ['data key 身份证', `POST /v1/records/${id}/events`, { type: 'sold', data: { 身份证号: '110101…' } }],
      ['an email value', `POST /v1/records/${id}/events`, { type: 'sold', data: { note: 'zs@example.com' } }],
      [
        'metadata key email',
        'POST /v1/records',
        { records: [recordBody('p-1', { metadata: { email: 'x' } })] },
      ],
      [
        'metadata key address',
        'POST /v1/records',
        { records: [recordBody('p-2', { metadata: { shippingAddress: 'x' } })] },
      ],
    ];
    for (const [what, route, body] of attempts) {
      const [method, path] = route.split(' ') as [string, string];
      const res = await target.serve.http(method, path, target.shop.apiKey, body);
      expect(res.status, what).toBe(400);
      expect(res.body, what).toMatchObject({ code: 'personal_data' });
    }
    // Data about the item still goes in.
    const ok = await target.serve.http('POST', `/v1/records/${id}/events`, target.shop.apiKey, {
      type: 'sold',
      data: { channel: '卡盟', order: 'ORD-1001', price: 99.5 },
    });
    expect(ok.status).toBe(201);
    console.info(
      `privacy: ${attempts.length} attempts to publish personal data refused with 400 personal_data`,
    );
  });

  it("keeps a strike's reason for the operator: the public profile shows its number and date", async () => {
    const { id } = (await target.serve.http('POST', '/v1/merchants', ADMIN_TOKEN, { name: 'Struck Shop' }))
      .body as {
      id: string;
    };
    const reason = 'complaint #4411 from buyer 张三, phone 13800138000';
    expect(
      (await target.serve.http('POST', `/v1/merchants/${id}/strikes`, ADMIN_TOKEN, { reason })).status,
    ).toBe(200);
    const profile = await target.serve.http('GET', `/v1/merchants/${id}`);
    expect(profile.body).toMatchObject({ strikes: [{ number: 1 }] });
    expect(JSON.stringify(profile.body)).not.toContain('4411');
    expect((await target.serve.http('GET', `/v1/merchants/${id}/strikes`)).status).toBe(401);
    const cli = await runCli(['merchant', 'strikes', '--api', target.serve.url, '--', id], { ADMIN_TOKEN });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ merchantId: id, strikes: [{ number: 1, reason }] });
  });

  it("erases one event's content; its leaf and every other proof stay valid on chain", async () => {
    const [id, neighbour] = (await target.register('privacy-erased', 'privacy-neighbour')) as [
      string,
      string,
    ];
    const shop = target.shop.client;
    await shop.addEvent(id, { type: 'sold', data: { channel: '卡盟' } });
    // Published by mistake: an account handle that identifies the new owner.
    await shop.addEvent(id, { type: 'transferred', data: { to: 'acct-zhangsan-7731' } });
    await target.admin.sealNow();
    await waitFor(
      'the batch to be final',
      async () => (await target.admin.batches()).batches.every((b) => b.status === 'final'),
      60_000,
      100,
    );
    const chain = (await target.admin.chain()) as ChainInfo;

    // The issuance cannot be erased; the transfer can, through the CLI.
    const issuance = await target.serve.http('POST', `/v1/records/${id}/events/0/erasure`, ADMIN_TOKEN, {
      by: 'ops',
    });
    expect(issuance.status).toBe(409);
    expect(issuance.body).toMatchObject({ code: 'issuance_not_erasable' });
    const erase = await runCli(
      ['admin', 'erase-event', '--api', target.serve.url, '--by', 'ops ticket 42', '--', id, '2'],
      { ADMIN_TOKEN },
    );
    expect(erase.code, erase.stderr).toBe(0);
    const erased = JSON.parse(erase.stdout) as { erased: { at: string; by: string } };
    expect(erased).toMatchObject({
      recordId: id,
      seq: 2,
      type: 'transferred',
      erased: { by: 'ops ticket 42' },
    });

    // The record and the page say "erased"; the text is nowhere.
    const record = await shop.record(id);
    expect(record.events[2]).toMatchObject({ type: 'transferred', data: {}, erased: erased.erased });
    const page = await requestFrom('127.0.0.1', `${target.serve.url}/v/${id}`);
    expect(page.body).toContain('内容已删除 <span class="en" lang="en">content erased</span>');
    expect(page.body).toContain('<bdi>ops ticket 42</bdi>');
    expect(page.body).not.toContain('zhangsan');
    expect(page.status).toBe(200);

    // Its own bundle carries the tombstone and does not verify; every other one does, on chain.
    const { bundles } = await shop.proofs(id);
    expect(bundles[2]!.content).toEqual({
      type: 'transferred',
      at: expect.any(String),
      erased: erased.erased,
    });
    expect(JSON.stringify(bundles)).not.toContain('zhangsan');
    const neighbours = (await shop.proofs(neighbour)).bundles;
    const file = (name: string, content: Bundle[]) => {
      const path = join(target.dataDir, name);
      writeFileSync(path, JSON.stringify({ bundles: content }));
      return path;
    };
    const rpc = ['--rpc', chain.rpcUrl!];
    const others = await runCli([
      'verify',
      file('others.json', [bundles[0]!, bundles[1]!, ...neighbours]),
      ...rpc,
    ]);
    expect(others.code, others.stderr).toBe(0);
    expect(others.stdout.match(/^verified: /gm)).toHaveLength(2 + neighbours.length);
    const own = await runCli(['verify', file('erased.json', [bundles[2]!]), ...rpc]);
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain('the content of this event was erased by "ops ticket 42"');
    // The service's verifier agrees.
    expect(await shop.verifyBundle(bundles[1])).toMatchObject({ valid: true });
    expect(await shop.verifyBundle(bundles[2])).toMatchObject({ valid: false, failure: 'malformed' });

    // Erasing again changes nothing; the database keeps no trace of the text.
    const again = await target.admin.eraseEvent(id, 2, 'someone else');
    expect(again.erased).toEqual(erased.erased);
    const rows = await target.stopAndReadDatabase();
    expect(rows).not.toContain('zhangsan');
    // Nor do the files' bytes (freed space included).
    for (const name of readdirSync(target.dataDir).filter((n) => n.startsWith('proofmark.sqlite'))) {
      expect(readFileSync(join(target.dataDir, name)).includes('zhangsan'), name).toBe(false);
    }
    console.info(
      `privacy: erased event 2 of a record; ${2 + neighbours.length} other bundles of its batch still verify on ` +
        `chain with proofmark verify, the erased one fails ("content erased"), and the text is gone from the database`,
    );
  });
});
