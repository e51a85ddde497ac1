/**
 * `proofmark dispute ...`: the operator's arbitration, through the service API with the admin token.
 * `list` shows what waits (open: for the merchant; answered: contested, for the operator), `show`
 * one dispute with its files' hashes, `decide` the operator's decision.
 */
import { adminClient, type ApiOptions } from '../api-options.ts';
import { CliError, printJson } from '../output.ts';

const STATUSES = ['open', 'answered', 'decided'] as const;

export async function disputeList(opts: ApiOptions & { status?: string }): Promise<void> {
  const status = opts.status;
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
    throw new CliError(`--status must be one of ${STATUSES.join(', ')}`, 2);
  }
  printJson(await (await adminClient(opts)).adminDisputes(status as (typeof STATUSES)[number] | undefined));
}

export async function disputeShow(id: string, opts: ApiOptions): Promise<void> {
  printJson(await (await adminClient(opts)).adminDispute(id));
}

export async function disputeDecide(
  id: string,
  opts: ApiOptions & { for: string; strike?: boolean; note?: string },
): Promise<void> {
  if (opts.for !== 'buyer' && opts.for !== 'merchant')
    throw new CliError('--for must be buyer or merchant', 2);
  if (opts.strike && opts.for !== 'buyer') throw new CliError('--strike goes only with --for buyer', 2);
  printJson(
    await (
      await adminClient(opts)
    ).decideDispute(id, {
      decision: opts.for,
      strike: opts.strike === true,
      ...(opts.note !== undefined && { note: opts.note }),
    }),
  );
}
