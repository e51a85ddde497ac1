/**
 * The JSON-RPC provider every chain client uses, with RPC failures told in words an operator can act
 * on: they reach GET /healthz and the log.
 */
import {
  FetchRequest,
  isError,
  JsonRpcProvider,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcResult,
} from 'ethers';

/** The anchorer account cannot pay for an anchor transaction: nothing anchors until it is funded. */
export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError';
}

/** ethers' INSUFFICIENT_FUNDS (geth-style nodes), or Hardhat's own wording, which ethers leaves unnamed. */
export function isInsufficientFunds(err: unknown): boolean {
  if (isError(err, 'INSUFFICIENT_FUNDS')) return true;
  return /insufficient funds|doesn't have enough funds/i.test(String((err as Error)?.message ?? err));
}

/**
 * The node refused a signed transaction for its nonce (used by another transaction) or its fees
 * (another transaction holds the nonce in the pool; below the node's minimum): as signed, it can never
 * be mined. Anything else (the RPC unreachable, slow, rate limited) says nothing about the transaction.
 */
export function isRefusedForNonceOrFee(err: unknown): boolean {
  if (isError(err, 'NONCE_EXPIRED') || isError(err, 'REPLACEMENT_UNDERPRICED')) return true;
  return /nonce too low|nonce has already been used|underpriced/i.test(
    String((err as Error)?.message ?? err),
  );
}

/**
 * ethers' provider with RPC failures told plainly (they reach GET /healthz and the log): ethers takes
 * any JSON-RPC error to eth_call for a contract revert ("missing revert data"), wraps other unknown
 * ones as "could not coalesce error" around the whole payload, and puts the RPC URL, which may hold
 * an API key, into HTTP errors.
 */
class PlainErrorProvider extends JsonRpcProvider {
  override getRpcError(payload: JsonRpcPayload, response: JsonRpcError): Error {
    const error = super.getRpcError(payload, response);
    const notARevert = isError(error, 'CALL_EXCEPTION') && error.data === null && !('data' in response.error);
    if (!isError(error, 'UNKNOWN_ERROR') && !notARevert) return error;
    const { code, message } = response.error;
    return new Error(`RPC error ${code} on ${payload.method}: ${message ?? 'no message'}`, { cause: error });
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    try {
      return await super._send(payload);
    } catch (err) {
      const info = (err as { info?: { responseStatus?: string } }).info;
      if (isError(err, 'SERVER_ERROR') && info?.responseStatus) {
        throw new Error(`RPC answered HTTP ${info.responseStatus}`, { cause: err });
      }
      if (isError(err, 'TIMEOUT')) {
        throw new Error(`RPC request timed out after ${this._getConnection().timeout} ms`, { cause: err });
      }
      if ((err as NodeJS.ErrnoException).syscall) {
        throw new Error(`RPC unreachable: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }
}

/** What the CLI waits for one JSON-RPC answer (the service's own is RPC_TIMEOUT_MS, also 30 s by default). */
export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

/**
 * No response cache (a cached nonce or block number right after a mined transaction is stale) and,
 * with `timeoutMs`, a bound on each request (ethers' own default is 5 minutes).
 */
export function openRpcProvider(url: string, opts: { pollMs?: number; timeoutMs?: number }): JsonRpcProvider {
  const connection = new FetchRequest(url);
  if (opts.timeoutMs !== undefined) connection.timeout = opts.timeoutMs;
  return new PlainErrorProvider(connection, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: opts.pollMs ?? 1000,
  });
}
