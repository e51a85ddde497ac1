/**
 * Secrets (licence keys, card PINs, account passwords) and their commitments. The public rule is
 * docs/proof-format.md's: secretCommitment = keccak256(salt ++ utf8(trim(NFC(secret)))). What keeps
 * a short PIN from being brute-forced is the salt, so no salt is in the database in the clear:
 * records registered now derive theirs from the server key and the record id (never stored), and
 * salts that older versions stored are sealed under the server key at start (stored-salts.ts). A copy
 * of the database alone therefore holds nothing to test a guess against.
 */
import { bytesToHex, hexToBytes, secretCommitment, type Hex } from '../core/index.ts';
import type { RecordRow } from '../storage/rows.ts';
import type { ServiceContext } from './context.ts';
import { badRequest } from './errors.ts';
import { getRecord } from './records.ts';
import type { SecretTries } from './secret-attempts.ts';
import type { ServerKey } from './server-key.ts';

/** Whether nothing is left of `secret` once normalised and trimmed as the commitment rule does. */
export function isBlankSecret(secret: string): boolean {
  return secret.normalize('NFC').trim() === '';
}

/**
 * 400 secret_empty for a blank secret: a commitment to the empty string would match anything a
 * consumer leaves blank or fills with spaces. `where` names the record in a registration.
 */
export function refuseBlankSecret(secret: string, where?: string): void {
  if (isBlankSecret(secret)) {
    throw badRequest(
      'secret_empty',
      `${where ? `${where}: ` : ''}secret is empty once white space is trimmed; leave it out instead`,
    );
  }
}

/** The salt of a record registered now: a MAC of its id under the server key, never stored. */
export function derivedSalt(keys: ServerKey, recordId: string): Hex {
  return bytesToHex(keys.mac('secret-salt', recordId));
}

/** An older record's stored salt, sealed under the server key and bound to the record's id. */
export function sealSalt(keys: ServerKey, recordId: string, salt: Hex): string {
  return keys.seal('stored-salt', hexToBytes(salt), recordId);
}

/** The salt behind a record's commitment, however it is kept (see RecordRow.secret_salt). */
export function saltOf(keys: ServerKey, record: Pick<RecordRow, 'id' | 'secret_salt'>): Hex {
  const stored = record.secret_salt;
  if (stored === null) return derivedSalt(keys, record.id);
  if (stored.startsWith('0x')) return stored as Hex;
  return bytesToHex(keys.open('stored-salt', stored, record.id));
}

/** Whether `secret` is the one the record was registered with (false when it has none). */
export function secretMatches(
  keys: ServerKey,
  record: Pick<RecordRow, 'id' | 'secret_salt' | 'secret_commitment'>,
  secret: string,
): boolean {
  if (record.secret_commitment === null) return false;
  return secretCommitment(secret, saltOf(keys, record)) === record.secret_commitment;
}

export interface SecretCheck {
  match: boolean;
  /** The record's tries after this check; null for a record without a secret. */
  tries: SecretTries | null;
}

/**
 * Checks `secret` against a record's commitment within the record's budget (secret-attempts.ts):
 * 400 secret_empty for a blank secret, 404 record_not_found, 429 secret_attempts_exhausted once the
 * record has no try left (whether or not the secret is right). A record without a secret never
 * matches and spends no try.
 */
export async function checkSecret(
  ctx: ServiceContext,
  recordId: string,
  secret: string,
): Promise<SecretCheck> {
  refuseBlankSecret(secret);
  const record = await getRecord(ctx, recordId);
  if (record.secret_commitment === null) return { match: false, tries: null };
  const result = await ctx.secretAttempts.compare([record.id], () => secretMatches(ctx.keys, record, secret));
  return result.get(record.id)!;
}

/** The record's tries for the page; null when it has no secret to check. */
export function secretTries(
  ctx: ServiceContext,
  record: Pick<RecordRow, 'id' | 'secret_commitment'>,
): Promise<SecretTries> | null {
  return record.secret_commitment === null ? null : ctx.secretAttempts.tries(record.id);
}
