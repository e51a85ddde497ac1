/** `proofmark merchant ...`: the operator's merchant administration through the service API. */
import { ApiClient, adminToken, apiBase, type ApiOptions } from '../api-client.ts';
import { CliError, printJson } from '../output.ts';

async function adminClient(opts: ApiOptions): Promise<ApiClient> {
  return new ApiClient(apiBase(opts), await adminToken(opts));
}

const path = (id: string, rest = '') => `/v1/merchants/${encodeURIComponent(id)}${rest}`;

export async function merchantCreate(opts: ApiOptions & { name: string; email?: string }): Promise<void> {
  const api = await adminClient(opts);
  const body: { name: string; contactEmail?: string } = { name: opts.name };
  if (opts.email !== undefined) body.contactEmail = opts.email;
  printJson(await api.post('/v1/merchants', body));
}

export async function merchantVerify(id: string, opts: ApiOptions & { evidence?: string[] }): Promise<void> {
  if (!opts.evidence || opts.evidence.length === 0)
    throw new CliError('pass at least one --evidence "description=sha256hex"', 2);
  const evidence = opts.evidence.map(parseEvidence);
  const api = await adminClient(opts);
  printJson(await api.post(path(id, '/verify'), { evidence }));
}

export async function merchantStrike(id: string, opts: ApiOptions & { reason: string }): Promise<void> {
  const api = await adminClient(opts);
  printJson(await api.post(path(id, '/strikes'), { reason: opts.reason }));
}

export async function merchantRotateKey(id: string, opts: ApiOptions): Promise<void> {
  const api = await adminClient(opts);
  printJson(await api.post(path(id, '/keys')));
}

/** "description=sha256hex": the description may itself contain '=', the hash is after the last one. */
export function parseEvidence(text: string): { description: string; sha256: string } {
  const at = text.lastIndexOf('=');
  const description = at < 0 ? '' : text.slice(0, at).trim();
  const sha256 =
    at < 0
      ? ''
      : text
          .slice(at + 1)
          .trim()
          .toLowerCase();
  if (description === '' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new CliError(`--evidence must be "description=sha256hex" (64 hex digits), not "${text}"`, 2);
  }
  return { description, sha256 };
}
