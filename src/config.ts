/**
 * Settings, all from the environment, validated at start: a bad value stops the process with a
 * message naming the variable. Defaults run the whole thing on a bare machine.
 */

export interface Config {
  port: number;
  host: string;
  publicBaseUrl: string;
  dataDir: string;
  /** Unset: embedded SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** Set only for a real chain; unset: the embedded development chain. */
  chain:
    | { kind: 'dev'; port: number }
    | { kind: 'rpc'; rpcUrl: string; contract: string; anchorerKey: string; publishRpcUrl: boolean };
  confirmations: number;
  adminToken: string | undefined;
  /** A token that opens GET /metrics and nothing else (for a Prometheus scraper); unset: admin only. */
  metricsToken: string | undefined;
  /** SECRET_KEY's bytes; unset: generated into DATA_DIR in development (required on a real chain). */
  secretKey: Uint8Array | undefined;
  batchMaxLeaves: number;
  /** How large a batch may grow while anchoring is behind; at least batchMaxLeaves. */
  batchCeilingLeaves: number;
  batchMaxAgeMs: number;
  chainPollMs: number;
  leaseMs: number;
  explorerUrl: string | undefined;
  logLevel: string;
  bodyLimitBytes: number;
  /** Trust X-Forwarded-For (client IPs for rate limits) only behind a proxy that sets it. */
  trustProxy: boolean;
  /** How long one JSON-RPC request may take before it fails (a hung RPC must not stall anchoring). */
  rpcTimeoutMs: number;
  /** Requests a minute, per instance (in memory); 0 turns a limit off (not the secret check's). */
  rateLimits: {
    /** Per client IP, on each secret-check route (the API's and the page form's). */
    secretPerMinute: number;
    /** Per client IP, over the verdict routes together: GET /v1/verify/:id, POST /v1/verify, GET /v/:id. */
    verifyPerMinute: number;
    /** Per authenticated merchant, over every route that takes a merchant key together. */
    merchantPerMinute: number;
  };
  /** Events waiting for a final batch at which writes answer 503 backlog_full (a soft bound). */
  maxPendingEvents: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const port = int(env, 'PORT', 8080, 0, 65535);
  const host = str(env, 'HOST') ?? '127.0.0.1';
  const rpcUrl = str(env, 'RPC_URL');
  const contract = str(env, 'ANCHOR_CONTRACT');
  const anchorerKey = str(env, 'ANCHORER_PRIVATE_KEY');
  const realChain = [rpcUrl, contract, anchorerKey].some((v) => v !== undefined);
  if (realChain) {
    for (const [name, value] of [
      ['RPC_URL', rpcUrl],
      ['ANCHOR_CONTRACT', contract],
      ['ANCHORER_PRIVATE_KEY', anchorerKey],
    ] as const) {
      if (value === undefined)
        throw new ConfigError(
          `${name} is required when any of RPC_URL, ANCHOR_CONTRACT, ANCHORER_PRIVATE_KEY is set`,
        );
    }
    url('RPC_URL', rpcUrl!);
    if (!/^0x[0-9a-fA-F]{40}$/.test(contract!))
      throw new ConfigError('ANCHOR_CONTRACT must be a 0x-prefixed 20-byte address');
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(anchorerKey!)) {
      throw new ConfigError('ANCHORER_PRIVATE_KEY must be 32 bytes of hex');
    }
  }
  const publicBaseUrl = (
    str(env, 'PUBLIC_BASE_URL') ?? `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`
  ).replace(/\/+$/, '');
  url('PUBLIC_BASE_URL', publicBaseUrl);
  const explorerUrl = str(env, 'EXPLORER_URL')?.replace(/\/+$/, '');
  if (explorerUrl) url('EXPLORER_URL', explorerUrl);
  const adminToken = str(env, 'ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16)
    throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  if (realChain && adminToken === undefined)
    throw new ConfigError('ADMIN_TOKEN is required with a real chain (RPC_URL)');
  const metricsToken = str(env, 'METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16)
    throw new ConfigError('METRICS_TOKEN must be at least 16 characters');
  const secretKeyText = str(env, 'SECRET_KEY');
  const secretKey = secretKeyText === undefined ? undefined : keyBytes(secretKeyText);
  if (secretKey === null) {
    throw new ConfigError('SECRET_KEY must be 32 bytes: 64 hex digits or 43 base64url characters');
  }
  if (realChain && secretKey === undefined)
    throw new ConfigError(
      'SECRET_KEY is required with a real chain (RPC_URL): generate one with `openssl rand -hex 32`',
    );
  const logLevel = str(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const batchMaxLeaves = int(env, 'BATCH_MAX_LEAVES', 10_000, 1, 1_000_000);
  const batchCeilingLeaves = int(
    env,
    'BATCH_CEILING_LEAVES',
    Math.max(1_000_000, batchMaxLeaves),
    1,
    4_000_000,
  );
  if (batchCeilingLeaves < batchMaxLeaves) {
    throw new ConfigError(`BATCH_CEILING_LEAVES must be at least BATCH_MAX_LEAVES (${batchMaxLeaves})`);
  }
  const databaseUrl = str(env, 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }

  return {
    port,
    host,
    publicBaseUrl,
    dataDir: str(env, 'DATA_DIR') ?? './data',
    databaseUrl,
    chain: realChain
      ? {
          kind: 'rpc',
          rpcUrl: rpcUrl!,
          contract: contract!,
          anchorerKey: anchorerKey!,
          publishRpcUrl: bool(env, 'PUBLISH_RPC_URL', false),
        }
      : { kind: 'dev', port: int(env, 'DEV_CHAIN_PORT', 8545, 0, 65535) },
    confirmations: int(env, 'CONFIRMATIONS', realChain ? 12 : 1, 1, 10_000),
    adminToken,
    metricsToken,
    secretKey,
    batchMaxLeaves,
    batchCeilingLeaves,
    batchMaxAgeMs: int(env, 'BATCH_MAX_AGE_MS', 10_000, 10, 86_400_000),
    chainPollMs: int(env, 'CHAIN_POLL_MS', realChain ? 2000 : 200, 10, 600_000),
    leaseMs: int(env, 'LEADER_LEASE_MS', 5000, 500, 600_000),
    explorerUrl,
    logLevel,
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    rpcTimeoutMs: int(env, 'RPC_TIMEOUT_MS', 30_000, 100, 600_000),
    rateLimits: {
      secretPerMinute: int(env, 'RATE_LIMIT_SECRET_PER_MINUTE', 10, 1, 1_000_000_000),
      verifyPerMinute: int(env, 'RATE_LIMIT_VERIFY_PER_MINUTE', 1200, 0, 1_000_000_000),
      merchantPerMinute: int(env, 'RATE_LIMIT_MERCHANT_PER_MINUTE', 6000, 0, 1_000_000_000),
    },
    maxPendingEvents: int(env, 'MAX_PENDING_EVENTS', 1_000_000, 1, 1_000_000_000),
  };
}

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return Number(raw);
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!['true', 'false', '1', '0'].includes(raw)) throw new ConfigError(`${name} must be true or false`);
  return raw === 'true' || raw === '1';
}

function url(name: string, value: string): void {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL`);
  }
}

/**
 * SECRET_KEY's text as its 32 bytes: 64 hex digits (optionally 0x-prefixed) or 43 base64url characters
 * (with or without padding). Null when it is neither.
 */
function keyBytes(text: string): Uint8Array | null {
  const hex = /^(?:0x)?([0-9a-fA-F]{64})$/.exec(text);
  if (hex) return Buffer.from(hex[1]!, 'hex');
  if (!/^[A-Za-z0-9_-]{43}=?$/.test(text)) return null;
  const bytes = Buffer.from(text.replace(/=$/, ''), 'base64url');
  return bytes.length === 32 ? bytes : null;
}
