/**
 * Signing secrets and signatures, per the Standard Webhooks specification: a secret is `whsec_`
 * followed by base64 key bytes; each request carries `webhook-id`, `webhook-timestamp` (Unix
 * seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of "id.timestamp.body"; several,
 * space-separated, while a rotated-out secret is still honoured). The `standardwebhooks` package
 * computes them, so receivers using it (or any implementation of the spec) verify what we send.
 *
 * A secret is kept only sealed with the server key (purpose 'webhook-secret', bound to its endpoint
 * id), so a copy of the database alone cannot forge a webhook.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { ServerKey } from '../server-key.ts';

const SECRET_PREFIX = 'whsec_';
/** Key bytes of a new secret (the spec asks for 24 to 64). */
const SECRET_BYTES = 32;

/** A fresh signing secret, `whsec_<base64>`: shown once to its owner, then only kept sealed. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** `secret` sealed for endpoint `endpointId`: what the database keeps. */
export function sealSecret(keys: ServerKey, endpointId: string, secret: string): string {
  return keys.seal('webhook-secret', secret, endpointId);
}

/** The secret sealed for `endpointId`; throws if it was sealed for another endpoint or altered. */
export function openSecret(keys: ServerKey, endpointId: string, sealed: string): string {
  return keys.open('webhook-secret', sealed, endpointId).toString('utf8');
}

/**
 * The Standard Webhooks headers for one attempt to send `body` as message `messageId` at `at`,
 * signed with each of `secrets` (the current one first).
 */
export function signedHeaders(
  secrets: readonly string[],
  messageId: string,
  at: Date,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(' '),
  };
}
