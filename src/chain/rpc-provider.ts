/**
 * The JSON-RPC provider every chain client uses, with RPC failures told in words an operator can act
 * on: they reach GET /healthz and the log.
 */
import {
  FetchRequest,
  isError,
  type ErrorCode,
  JsonRpcProvider,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcResult,
} from 'ethers';

/** The anchorer account cannot pay for an anchor transaction: nothing anchors until it is funded. */
export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError';
}

/**
 * What a node's refusal of a signed transaction (eth_sendRawTransaction) means for it:
 * - already-known: the node already holds this very transaction, so the send did what it was for;
 * - refused-nonce-or-fee: its nonce went to another transaction, or its fees are too low to replace
 *   the one holding the nonce in the pool or to meet the node's minimum: as signed, it is never mined;
 * - insufficient-funds: the sending account cannot pay for it.
 */
export type NodeRefusal = 'already-known' | 'refused-nonce-or-fee' | 'insufficient-funds';

/**
 * How nodes word each refusal, matched against the error's message (ethers keeps the node's own words
 * in it), case-insensitively, first match wins. A node's new wording is one more line here.
 */
const REFUSAL_WORDINGS: ReadonlyArray<readonly [RegExp, NodeRefusal]> = [
  [/already known/i, 'already-known'], // geth
  [/known transaction/i, 'already-known'], // Hardhat, Besu
  [/insufficient funds/i, 'insufficient-funds'], // geth
  [/doesn't have enough funds/i, 'insufficient-funds'], // Hardhat
  [/nonce too low/i, 'refused-nonce-or-fee'], // geth, Hardhat
  [/nonce has already been used/i, 'refused-nonce-or-fee'], // ethers' NONCE_EXPIRED
  [/underpriced/i, 'refused-nonce-or-fee'], // geth, Hardhat: (replacement) transaction underpriced
];

/** ethers' own codes for the same refusals, for the wordings it recognises and rewrites. */
const REFUSAL_CODES: ReadonlyArray<readonly [ErrorCode, NodeRefusal]> = [
  ['INSUFFICIENT_FUNDS', 'insufficient-funds'],
  ['NONCE_EXPIRED', 'refused-nonce-or-fee'],
  ['REPLACEMENT_UNDERPRICED', 'refused-nonce-or-fee'],
];

/**
 * What a failed eth_sendRawTransaction says about the transaction, or null when it says nothing (the
 * RPC unreachable, slow or rate limiting, or an answer in words not listed above).
 */
export function classifyRefusal(err: unknown): NodeRefusal | null {
  const message = String((err as Error)?.message ?? err);
  for (const [wording, refusal] of REFUSAL_WORDINGS) if (wording.test(message)) return refusal;
  for (const [code, refusal] of REFUSAL_CODES) if (isError(err, code)) return refusal;
  return null;
}

/** The sending account cannot pay for the transaction, in any wording or code listed above. */
export function isInsufficientFunds(err: unknown): boolean {
  return classifyRefusal(err) === 'insufficient-funds';
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
