/**
 * `proofmark webhook ...`: the operator's own webhook endpoints, through the service API with the
 * admin token. (Merchants manage theirs through the API with their keys: /v1/webhooks/endpoints.)
 */
import type { WebhookEventType } from '../../client/types.ts';
import { adminClient, type ApiOptions } from '../api-options.ts';
import { CliError, printJson } from '../output.ts';

export async function webhookCreate(
  opts: ApiOptions & { url: string; event?: string[]; description?: string },
): Promise<void> {
  const api = await adminClient(opts);
  printJson(
    await api.webhooks('operator').create({
      url: opts.url,
      ...(opts.event !== undefined && { eventTypes: opts.event as WebhookEventType[] }),
      ...(opts.description !== undefined && { description: opts.description }),
    }),
  );
}

export async function webhookList(opts: ApiOptions): Promise<void> {
  printJson(await (await adminClient(opts)).webhooks('operator').list());
}

export async function webhookDelete(id: string, opts: ApiOptions): Promise<void> {
  printJson(await (await adminClient(opts)).webhooks('operator').delete(id));
}

export async function webhookRotateSecret(id: string, opts: ApiOptions): Promise<void> {
  printJson(await (await adminClient(opts)).webhooks('operator').rotateSecret(id));
}

export async function webhookDeliveries(
  id: string,
  opts: ApiOptions & { limit?: number; before?: string },
): Promise<void> {
  if (opts.limit !== undefined && (opts.limit < 1 || opts.limit > 100)) {
    throw new CliError('--limit must be from 1 to 100', 2);
  }
  const api = await adminClient(opts);
  printJson(
    await api.webhooks('operator').deliveries(id, {
      ...(opts.limit !== undefined && { limit: opts.limit }),
      ...(opts.before !== undefined && { before: opts.before }),
    }),
  );
}

export async function webhookReplay(id: string, messageId: string, opts: ApiOptions): Promise<void> {
  printJson(await (await adminClient(opts)).webhooks('operator').replay(id, messageId));
}
