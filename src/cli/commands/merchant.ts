/** `proofmark merchant ...`: the operator's merchant administration through the service API. */
import { adminClient, type ApiOptions } from '../api-options.ts';
import { CliError, printJson } from '../output.ts';

export async function merchantCreate(opts: ApiOptions & { name: string; email?: string }): Promise<void> {
  const api = await adminClient(opts);
  printJson(
    await api.createMerchant({
      name: opts.name,
      ...(opts.email !== undefined && { contactEmail: opts.email }),
    }),
  );
}

export async function merchantVerify(id: string, opts: ApiOptions & { evidence?: string[] }): Promise<void> {
  if (!opts.evidence || opts.evidence.length === 0)
    throw new CliError('pass at least one --evidence "description=sha256hex"', 2);
  const evidence = opts.evidence.map(parseEvidence);
  const api = await adminClient(opts);
  printJson(await api.verifyMerchant(id, evidence));
}

export async function merchantStrike(id: string, opts: ApiOptions & { reason: string }): Promise<void> {
  const api = await adminClient(opts);
  printJson(await api.strikeMerchant(id, opts.reason));
}

export async function merchantStrikes(id: string, opts: ApiOptions): Promise<void> {
  const api = await adminClient(opts);
  printJson(await api.merchantStrikes(id));
}

export async function merchantRotateKey(id: string, opts: ApiOptions): Promise<void> {
  const api = await adminClient(opts);
  printJson(await api.rotateMerchantKey(id));
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
