/**
 * Sealed delivery and disputes over a real port, on SQLite and PostgreSQL: the merchant's sealed
 * sale, the buyer's reveal, a dispute opened with an uploaded image (multipart), the merchant's
 * contest with a PDF, the operator's decision with a strike; every step in the record's anchored
 * history, and the opening's evidence hash in a leaf that `proofmark verify` accepts.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/helpers.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';

const SECRET = 'SEALED-KEY-7Q2W-9E8R';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82]);
const PDF = new TextEncoder().encode('%PDF-1.4\n% activation log\n');
const sha256 = (bytes: Uint8Array) => `0x${createHash('sha256').update(bytes).digest('hex')}`;

describe.each(BACKENDS)('sealed delivery and disputes over a real port (%s)', (backend) => {
  let h: Harness;
  let base: string;
  let skip: string | null = null;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend });
    base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => h?.close());

  async function api(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; form?: FormData } = {},
  ) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.form ? { body: opts.form } : {}),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    return { status: res.status, headers: res.headers, bytes, text, json: () => JSON.parse(text) };
  }

  const form = (fields: Record<string, string>, files: Array<[Uint8Array, string, string]> = []) => {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    for (const [bytes, name, type] of files) f.append('evidence', new Blob([bytes], { type }), name);
    return f;
  };

  it('reveal, dispute with an image, contest, decision: every step anchored and verifiable', async (t) => {
    if (skip) return t.skip(skip);
    const merchant = await h.verifiedMerchant();
    const registered = await api('POST', '/v1/records', {
      token: merchant.apiKey,
      body: { records: [recordBody('sealed-1', { secret: SECRET })] },
    });
    expect(registered.status).toBe(201);
    const recordId = registered.json().records[0].id as string;

    const sale = await api('POST', `/v1/records/${recordId}/sealed-sale`, {
      token: merchant.apiKey,
      body: { secret: SECRET },
    });
    expect(sale.status, sale.text).toBe(201);
    expect(sale.text).not.toContain(SECRET);
    const token = (sale.json().revealUrl as string).split('/r/')[1]!;
    expect((await api('GET', `/v1/reveal/${token}`)).json()).toMatchObject({ recordId, revealedAt: null });
    expect((await api('GET', `/v1/reveal/${token}`)).text).not.toContain(SECRET);

    const first = await api('POST', `/v1/reveal/${token}`);
    expect(first.json()).toMatchObject({ recordId, secret: SECRET, first: true });
    expect((await api('POST', `/v1/reveal/${token}`)).json()).toMatchObject({ secret: SECRET, first: false });
    // The buyer's page: GET shows a button and no key (a link preview reveals nothing); POST shows it.
    const ask = await api('GET', `/r/${token}`);
    expect(ask.text).toContain(`<form method="post" action="/r/${token}">`);
    expect(ask.text).not.toContain(SECRET);
    const shownPage = await api('POST', `/r/${token}`);
    expect(shownPage.status).toBe(200);
    expect(shownPage.text).toContain(`<code class="secret">${SECRET}</code>`);
    expect(shownPage.text).toContain('这不是首次查看');
    expect((await api('GET', '/r/no-such-token')).status).toBe(404);

    // No possession, no dispute; a file that is not an image is refused; nothing written either way.
    const noProof = await api('POST', `/v1/records/${recordId}/disputes`, {
      form: form({ reason: 'already_used', description: 'used' }),
    });
    expect([noProof.status, noProof.json().code]).toEqual([403, 'possession_required']);
    const html = await api('POST', `/v1/records/${recordId}/disputes`, {
      form: form({ reason: 'already_used', description: 'used', revealToken: token }, [
        [new TextEncoder().encode('<html>'), 'x.png', 'image/png'],
      ]),
    });
    expect([html.status, html.json().code]).toEqual([400, 'unsupported_file']);

    const opened = await api('POST', `/v1/records/${recordId}/disputes`, {
      form: form(
        { reason: 'already_used', description: 'the key was already redeemed 已被使用', revealToken: token },
        [[PNG, 'screen.png', 'image/png']],
      ),
    });
    expect(opened.status, opened.text).toBe(201);
    const dispute = opened.json();
    expect(dispute).toMatchObject({
      status: 'open',
      files: [{ position: 0, side: 'buyer', sha256: sha256(PNG) }],
    });
    const pageOpen = (await api('GET', `/v/${recordId}`)).text;
    expect(pageOpen).toContain('data-dispute="open"');
    expect(pageOpen).toMatch(/剩余 2[34] 小时 \d+ 分 <span class="en" lang="en">2[34] h \d+ min left/);
    expect(pageOpen).toContain('已被使用 <span class="en" lang="en">already used</span>');
    expect(pageOpen).not.toContain('the key was already redeemed');
    const again = await api('POST', `/v1/records/${recordId}/disputes`, {
      body: { reason: 'other', description: 'again', secret: SECRET },
    });
    expect([again.status, again.json().code]).toEqual([409, 'lifecycle_violation']);

    const other = await h.verifiedMerchant('Other Merchant');
    expect((await api('GET', `/v1/disputes/${dispute.id}`, { token: other.apiKey })).status).toBe(404);
    const file = await api('GET', `/v1/disputes/${dispute.id}/files/0`, { token: merchant.apiKey });
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(sha256(file.bytes)).toBe(sha256(PNG));

    const contested = await api('POST', `/v1/disputes/${dispute.id}/answer`, {
      token: merchant.apiKey,
      form: form({ response: 'contest', answer: 'delivered unused' }, [[PDF, 'log.pdf', 'application/pdf']]),
    });
    expect(contested.status, contested.text).toBe(200);
    expect(contested.json()).toMatchObject({ status: 'answered', response: 'contest' });

    let decided: { status: string; decision: string; decidedBy: string };
    if (backend === 'sqlite') {
      // The operator's CLI, as a child process against this server (`list` goes through the API below).
      const env = { PROOFMARK_API: base, ADMIN_TOKEN };
      const shown = await runCli(['dispute', 'show', dispute.id], env);
      expect(JSON.parse(shown.stdout).files.map((f: { sha256: string }) => f.sha256)).toEqual([
        sha256(PNG),
        sha256(PDF),
      ]);
      const run = await runCli(['dispute', 'decide', dispute.id, '--for', 'buyer', '--strike'], env);
      expect(run.code, run.stderr).toBe(0);
      decided = JSON.parse(run.stdout);
    } else {
      const waiting = await api('GET', '/v1/admin/disputes?status=answered', { token: ADMIN_TOKEN });
      expect(waiting.json().disputes.map((d: { id: string }) => d.id)).toEqual([dispute.id]);
      decided = (
        await api('POST', `/v1/admin/disputes/${dispute.id}/decision`, {
          token: ADMIN_TOKEN,
          body: { decision: 'buyer', strike: true },
        })
      ).json();
    }
    expect(decided).toMatchObject({ status: 'decided', decision: 'buyer', decidedBy: 'operator' });
    expect(await h.runtime.storage.merchants.strikes(merchant.id)).toHaveLength(1);

    const pageDecided = (await api('GET', `/v/${recordId}`)).text;
    expect(pageDecided).toContain('data-dispute="decided"');
    expect(pageDecided).toContain('data-decision="buyer"');
    expect(pageDecided).not.toContain('class="countdown"');

    await h.sealAndWaitFinal();
    const proofs = (await api('GET', `/v1/records/${recordId}/proofs`)).json().bundles as Array<{
      seq: number;
      content: { type: string; data: Record<string, string> };
    }>;
    expect(proofs.map((b) => b.content.type)).toEqual([
      'issued',
      'sold',
      'revealed',
      'dispute_opened',
      'dispute_answered',
      'dispute_decided',
      'refunded',
    ]);
    const openedBundle = proofs[3]!;
    expect(openedBundle.content.data.evidence_1).toBe(sha256(PNG));
    expect(proofs[4]!.content.data.evidence_1).toBe(sha256(PDF));
    expect(proofs[5]!.content.data).toMatchObject({ decision: 'buyer', by: 'operator' });

    if (backend !== 'sqlite') return; // the CLI's check is the same on either backend
    const dir = mkdtempSync(join(tmpdir(), 'pm-dispute-'));
    const path = join(dir, 'opened.json');
    writeFileSync(path, JSON.stringify(openedBundle));
    const verified = await runCli(['verify', path, '--rpc', h.runtime.devChain!.url]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^verified: record ${recordId} seq 3`));
  });
});
