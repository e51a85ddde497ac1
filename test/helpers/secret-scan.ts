/**
 * Looking for secrets in the clear: every byte string a secret could be stored or printed as (UTF-8,
 * UTF-16, hex, base64 at every alignment), searched for in logs, responses and database images.
 * test/service/secrets.test.ts and webhook-secrets.test.ts scan with it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { TestDatabase } from './databases.ts';

export interface Secret {
  what: string;
  value: string;
  /** text: UTF-8 (and UTF-16); token: also hex and base64 of its text; key: a 32-byte hex private key. */
  kind: 'text' | 'token' | 'key';
}

/**
 * Base64 of `bytes` as it reads inside any longer base64 text: one needle per alignment (0, 1 or 2
 * bytes before it), the groups that mix in neighbouring bytes cut off.
 */
export function base64Needles(form: string, bytes: Buffer): Array<{ form: string; bytes: Buffer }> {
  return [0, 1, 2].flatMap((before) => {
    const groups = Math.floor((before + bytes.length) / 3);
    const padded = Buffer.concat([Buffer.alloc(before), bytes]);
    return (['base64', 'base64url'] as const).map((encoding) => ({
      form: `${encoding} of the ${form} at offset ${before}`,
      bytes: Buffer.from(padded.toString(encoding).slice(before ? 4 : 0, groups * 4)),
    }));
  });
}

/** The byte strings a secret could be stored or printed as. */
export function needles(secret: Secret): Array<{ form: string; bytes: Buffer }> {
  const text = Buffer.from(secret.value, 'utf8');
  const out: Array<{ form: string; bytes: Buffer }> = [
    { form: 'utf8', bytes: text },
    { form: 'utf16le', bytes: Buffer.from(secret.value, 'utf16le') },
  ];
  if (secret.kind === 'token') {
    out.push(
      { form: 'hex', bytes: Buffer.from(text.toString('hex')) },
      { form: 'HEX', bytes: Buffer.from(text.toString('hex').toUpperCase()) },
      ...base64Needles('text', text),
    );
  }
  if (secret.kind === 'key') {
    const hex = secret.value.replace(/^0x/, '').toLowerCase();
    const raw = Buffer.from(hex, 'hex');
    out.push(
      { form: 'hex without 0x', bytes: Buffer.from(hex) },
      { form: 'HEX without 0x', bytes: Buffer.from(hex.toUpperCase()) },
      { form: 'raw bytes', bytes: raw },
      ...base64Needles('bytes', raw),
    );
  }
  return out;
}

/** "<secret> as <form> in <place>" for every secret found in any of the places. */
export function findSecrets(secrets: Secret[], places: Array<{ where: string; bytes: Buffer }>): string[] {
  const hits: string[] = [];
  for (const secret of secrets) {
    for (const { form, bytes } of needles(secret)) {
      for (const place of places) {
        if (place.bytes.includes(bytes)) hits.push(`${secret.what} as ${form} in ${place.where}`);
      }
    }
  }
  return hits;
}

/**
 * The database as bytes at one moment: on SQLite every file in its DATA_DIR (the database, its -wal
 * and -shm, raw); on PostgreSQL every row of every table as JSON.
 */
export async function databaseImage(
  database: TestDatabase,
  moment: string,
): Promise<Array<{ where: string; bytes: Buffer }>> {
  if (database.backend === 'sqlite') {
    return readdirSync(database.dataDir).map((file) => ({
      where: `${file} ${moment}`,
      bytes: readFileSync(join(database.dataDir, file)),
    }));
  }
  const client = new pg.Client({ connectionString: database.databaseUrl });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const image: Array<{ where: string; bytes: Buffer }> = [];
    for (const { name } of tables) {
      const { rows } = await client.query<{ row: string }>(
        `SELECT row_to_json(t)::text AS row FROM ${client.escapeIdentifier(name)} t`,
      );
      image.push({ where: `table ${name} ${moment}`, bytes: Buffer.from(rows.map((r) => r.row).join('\n')) });
    }
    return image;
  } finally {
    await client.end();
  }
}
