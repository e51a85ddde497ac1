/**
 * `proofmark demo`: fills a running service with sample merchants, records and events, seals a
 * batch and prints the verification pages. Ids include the run's time, so it can run again; so do
 * the merchants' names when an earlier run holds them (names are unique).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { MerchantEventType, RecordKind } from '../../core/index.ts';
import { admitMerchant, type AdmittedMerchant } from '../../client/admit.ts';
import type { ApiClient } from '../../client/client.ts';
import { ApiError } from '../../client/errors.ts';
import type { Evidence, RegisteredRecord } from '../../client/types.ts';
import { adminClient, type ApiOptions } from '../api-options.ts';
import { println } from '../output.ts';

interface SampleRecord {
  kind: RecordKind;
  sku: string;
  productName: string;
  secret?: () => string;
  metadata?: Record<string, string | number | boolean>;
  events: Array<{ type: MerchantEventType; data?: Record<string, string | number | boolean> }>;
}

interface SampleMerchant {
  name: string;
  contactEmail: string;
  evidence: string;
  /** Struck twice after its records are in, so it ends suspended. */
  suspend?: boolean;
  records: SampleRecord[];
}

const productKey = () =>
  Array.from({ length: 5 }, () => randomBytes(3).toString('hex').toUpperCase().slice(0, 5)).join('-');
const pin = () => Array.from({ length: 16 }, () => randomInt(10)).join('');
const password = () => randomBytes(9).toString('base64url');

const SOLD = { type: 'sold', data: { channel: '卡盟 demo market' } } as const;

const MERCHANTS: SampleMerchant[] = [
  {
    name: '星河数字商城 Galaxy Digital',
    contactEmail: 'ops@galaxy-digital.example',
    evidence: 'miHoYo authorised reseller agreement 2026 (demo)',
    records: [
      {
        kind: 'card',
        sku: 'GI-GC-6480',
        productName: '原神 创世结晶 6480',
        secret: pin,
        metadata: { region: 'CN', faceValue: '648 CNY' },
        events: [SOLD, { type: 'activated' }],
      },
      {
        kind: 'card',
        sku: 'HOK-CP-1000',
        productName: '王者荣耀 点券 1000',
        secret: pin,
        metadata: { region: 'CN' },
        events: [SOLD],
      },
      {
        kind: 'licence',
        sku: 'WIN11-PRO-RTL',
        productName: 'Windows 11 Pro 专业版 零售密钥',
        secret: productKey,
        events: [SOLD, { type: 'activated' }],
      },
      {
        kind: 'account',
        sku: 'STEAM-ACC-CS2',
        productName: 'Steam 账号 · Counter-Strike 2 Prime',
        secret: password,
        metadata: { platform: 'Steam' },
        events: [SOLD, { type: 'refunded', data: { reason: 'buyer request within 24h' } }],
      },
    ],
  },
  {
    name: 'Nordic Keys AB',
    contactEmail: 'sales@nordickeys.example',
    evidence: 'Microsoft CSP partner certificate (demo)',
    records: [
      {
        kind: 'licence',
        sku: 'WIN11-PRO',
        productName: 'Windows 11 Pro licence',
        secret: productKey,
        events: [SOLD, { type: 'activated' }],
      },
      {
        kind: 'licence',
        sku: 'OFFICE-2024-HB',
        productName: 'Microsoft Office 2024 Home & Business',
        secret: productKey,
        events: [SOLD, { type: 'revoked', data: { reason: 'payment charged back' } }],
      },
      {
        kind: 'card',
        sku: 'STEAM-WALLET-50EUR',
        productName: 'Steam Wallet Gift Card €50',
        secret: pin,
        metadata: { currency: 'EUR', faceValue: 50 },
        events: [SOLD],
      },
      {
        kind: 'account',
        sku: 'STEAM-ACC-ELDEN',
        productName: 'Steam account with Elden Ring',
        events: [],
      },
    ],
  },
  {
    name: '闪充卡铺 FlashCard Shop',
    contactEmail: 'kefu@flashcard.example',
    evidence: 'NetEase card distribution licence (demo)',
    suspend: true,
    records: [
      {
        kind: 'card',
        sku: 'NETEASE-100',
        productName: '网易一卡通 100元',
        secret: pin,
        events: [SOLD],
      },
      { kind: 'card', sku: 'QQ-QB-100', productName: '腾讯 Q币 100', secret: pin, events: [] },
    ],
  },
];

export async function demoCommand(opts: ApiOptions): Promise<void> {
  const admin = await adminClient(opts);
  const run = Date.now().toString(36);
  println(`filling ${admin.base} with demo data (run ${run})`);

  const shown: Array<{ merchant: string; productName: string; secret?: string; record: RegisteredRecord }> =
    [];
  const suspended: Array<{ id: string; name: string }> = [];
  for (const [m, sample] of MERCHANTS.entries()) {
    const merchant = await admitDemoMerchant(admin, sample, run, [
      { description: sample.evidence, sha256: sha256(`${sample.evidence} ${run}`) },
    ]);
    const shop = admin.withToken(merchant.apiKey);
    println(`merchant ${merchant.id}: ${merchant.profile.name} (verified)`);

    const secrets = sample.records.map((r) => r.secret?.());
    const inputs = sample.records.map((r, i) => ({
      externalId: `demo-${run}-${m + 1}-${i + 1}`,
      kind: r.kind,
      sku: r.sku,
      productName: r.productName,
      serial: `${r.sku}-${run.toUpperCase()}-${String(i + 1).padStart(3, '0')}`,
      ...(secrets[i] !== undefined ? { secret: secrets[i] } : {}),
      ...(r.metadata ? { metadata: r.metadata } : {}),
    }));
    const { records } = await shop.registerRecords(inputs);
    for (const [i, record] of records.entries()) {
      for (const event of sample.records[i]!.events) await shop.addEvent(record.id, event);
      const secret = secrets[i];
      shown.push({
        merchant: sample.name,
        productName: sample.records[i]!.productName,
        record,
        ...(secret !== undefined ? { secret } : {}),
      });
    }
    if (sample.suspend) suspended.push({ id: merchant.id, name: merchant.profile.name });
  }

  for (const { id, name } of suspended) {
    const reasons = ['buyer reports: card already redeemed (demo)', 'second complaint: resold codes (demo)'];
    let status = '';
    for (const reason of reasons) {
      ({ status } = await admin.strikeMerchant(id, reason));
    }
    println(`merchant ${id}: ${name} struck twice (${status})`);
  }

  const sealed = await admin.sealNow();
  for (const b of sealed.batches) println(`sealed batch ${b.id}: ${b.leafCount} leaves, root ${b.root}`);
  println('anchoring follows in the background; the pages show "pending" until it is done.');
  println('');
  println('verification pages:');
  for (const s of shown) {
    println(`  ${s.record.verifyUrl}  ${s.productName}${s.secret ? `  (secret: ${s.secret})` : ''}`);
  }
}

/** The sample merchant under its own name, or with the run added when an earlier run holds the name. */
async function admitDemoMerchant(
  admin: ApiClient,
  sample: SampleMerchant,
  run: string,
  evidence: Evidence[],
): Promise<AdmittedMerchant> {
  try {
    return await admitMerchant(admin, { name: sample.name, contactEmail: sample.contactEmail }, evidence);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'merchant_name_taken') throw err;
    const name = `${sample.name} · demo ${run}`;
    return admitMerchant(admin, { name, contactEmail: sample.contactEmail }, evidence);
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
