/**
 * Settings, all from the environment, validated at start: a bad value stops the process with a
 * message naming the variable. Defaults run the whole thing on a bare machine.
 */
import { isIP } from 'node:net';

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
  /**
   * CONFIRMATIONS: when a batch is final. 'depth': `confirmations` blocks deep. 'safe' or
   * 'finalized': at or below the node's block with that tag. 'auto' (a real chain without
   * CONFIRMATIONS): 'finalized' when the node answers that tag at start, else `confirmations` (12).
   */
  finality: 'depth' | 'safe' | 'finalized' | 'auto';
  /** Blocks deep, the anchoring block included, under the depth rule and as 'auto''s fallback. */
  confirmations: number;
  /** MAX_IN_FLIGHT: anchor transactions that may wait to be mined at once (consecutive nonces). */
  maxInFlight: number;
  /** FINALITY_STALL_MS: how long the node's safe/finalized block may stand still before /healthz says so. */
  finalityStallMs: number;
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
  /**
   * PUBLIC_RPC_URL: a JSON-RPC endpoint of the anchoring chain that visitors' browsers may call (it
   * must answer CORS). Set, the verification page checks the record's state proof against the chain
   * in the visitor's browser; unset, the page has no script.
   */
  publicRpcUrl: string | undefined;
  /**
   * DISPLAY_TIME_ZONE: the IANA zone the pages show times in, with the offset (the API stays ISO UTC).
   * Canonical spelling (`asia/shanghai` becomes `Asia/Shanghai`).
   */
  displayTimeZone: string;
  logLevel: string;
  bodyLimitBytes: number;
  /** How long each phase of a request may take; see `HttpTimeouts`. */
  timeouts: HttpTimeouts;
  /**
   * Which proxies X-Forwarded-For is taken from, for the client IP the rate limits count: false (none,
   * the socket's address), a number of hops counted from the right, or the proxies' addresses and
   * CIDRs. `true` trusts every hop and takes the leftmost entry, which the client writes itself.
   */
  trustProxy: TrustProxy;
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
  /** The same bound for one merchant's events, so one merchant's flood is refused to it alone. */
  maxPendingEventsPerMerchant: number;
  /** What one record may hold, so no record grows into a page or a verdict that stalls the server. */
  recordLimits: {
    /** Events one record may hold, its issuance included; past it 409 record_event_limit. */
    maxEvents: number;
    /** Bytes of an event's `data` as canonical JSON (UTF-8); past it 413 event_data_too_large. */
    maxEventDataBytes: number;
  };
  /** QR codes rendered a second (cached codes are free); past it qr.png and qr.svg answer 503. */
  qrRendersPerSecond: number;
  /** After the sale: how long a sealed secret is kept, and how long a merchant has to answer a dispute. */
  afterSale: { sealedTtlMs: number; disputeResponseMs: number };
  /**
   * Wrong secrets a record takes per window, from every source and instance together (counted in
   * the database); past them its checks answer 429 until the window ends.
   */
  secretGuesses: { limit: number; windowMs: number };
  /** A scanner (a network) counts once per item per window of this many days. */
  scanWindowDays: number;
  /** How log lines are written: JSON, or readable lines for a terminal (pino-pretty). */
  logFormat: LogFormat;
  webhooks: {
    /** Let webhooks go to loopback, private and link-local addresses (off: SSRF protection). */
    allowPrivate: boolean;
    /** How long one delivery attempt may wait for an answer. */
    timeoutMs: number;
    /** The wait before each retry of a failed delivery; after the last, it is given up. */
    retryScheduleMs: number[];
    /** How often an idle delivery worker looks for due deliveries and newly final batches. */
    pollMs: number;
  };
}

/** Milliseconds; Node's http server enforces each (see README's table). */
export interface HttpTimeouts {
  /** From a connection's first byte to the end of the request headers. */
  headersMs: number;
  /** From the first byte to the last byte of the body: the whole request's arrival. */
  requestMs: number;
  /** No byte either way for this long while a request is open (a stalled body or reader). */
  idleMs: number;
  /** An idle keep-alive connection between requests. */
  keepAliveMs: number;
}

export type TrustProxy = boolean | number | string[];

export type LogFormat = 'json' | 'pretty';

/**
 * The backoff of Standard Webhooks' reference implementation (5 s, 5 min, 30 min, 2 h, 5 h, 10 h),
 * with a last retry 6 h later, so the eighth and last attempt comes just under a day (23 h 35 min)
 * after the first.
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,6h';

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
  const publicRpcUrl = str(env, 'PUBLIC_RPC_URL');
  if (publicRpcUrl) url('PUBLIC_RPC_URL', publicRpcUrl);
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
    ...finality(env, realChain),
    maxInFlight: int(env, 'MAX_IN_FLIGHT', DEFAULT_MAX_IN_FLIGHT, 1, 64),
    finalityStallMs: int(env, 'FINALITY_STALL_MS', 30 * 60_000, 1000, 7 * 86_400_000),
    adminToken,
    metricsToken,
    secretKey,
    batchMaxLeaves,
    batchCeilingLeaves,
    batchMaxAgeMs: int(env, 'BATCH_MAX_AGE_MS', 10_000, 10, 86_400_000),
    chainPollMs: int(env, 'CHAIN_POLL_MS', realChain ? 2000 : 200, 10, 600_000),
    leaseMs: int(env, 'LEADER_LEASE_MS', 5000, 500, 600_000),
    explorerUrl,
    publicRpcUrl: publicRpcUrl || undefined,
    displayTimeZone: displayTimeZone(env),
    logLevel,
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    timeouts: timeouts(env),
    trustProxy: trustProxy(env),
    rpcTimeoutMs: int(env, 'RPC_TIMEOUT_MS', 30_000, 100, 600_000),
    rateLimits: {
      secretPerMinute: int(env, 'RATE_LIMIT_SECRET_PER_MINUTE', 10, 1, 1_000_000_000),
      verifyPerMinute: int(env, 'RATE_LIMIT_VERIFY_PER_MINUTE', 1200, 0, 1_000_000_000),
      merchantPerMinute: int(env, 'RATE_LIMIT_MERCHANT_PER_MINUTE', 6000, 0, 1_000_000_000),
    },
    maxPendingEvents: int(env, 'MAX_PENDING_EVENTS', 1_000_000, 1, 1_000_000_000),
    maxPendingEventsPerMerchant: int(env, 'MAX_PENDING_EVENTS_PER_MERCHANT', 100_000, 1, 1_000_000_000),
    recordLimits: {
      maxEvents: int(env, 'MAX_EVENTS_PER_RECORD', 200, 1, 1_000_000),
      maxEventDataBytes: int(env, 'MAX_EVENT_DATA_BYTES', 2048, 2, 1024 * 1024),
    },
    qrRendersPerSecond: int(env, 'QR_RENDERS_PER_SECOND', 50, 1, 100_000),
    afterSale: {
      sealedTtlMs: int(env, 'SEALED_DELIVERY_TTL_HOURS', 72, 1, 24 * 365) * 3_600_000,
      disputeResponseMs: int(env, 'DISPUTE_RESPONSE_HOURS', 24, 1, 24 * 90) * 3_600_000,
    },
    secretGuesses: {
      limit: int(env, 'SECRET_GUESSES_PER_WINDOW', 5, 1, 1000),
      windowMs: int(env, 'SECRET_GUESS_WINDOW_SECONDS', 3600, 60, 30 * 86_400) * 1000,
    },
    scanWindowDays: int(env, 'SCAN_WINDOW_DAYS', 30, 1, 3650),
    logFormat: logFormat(env, process.stdout.isTTY === true),
    webhooks: {
      allowPrivate: bool(env, 'WEBHOOK_ALLOW_PRIVATE', false),
      timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 15_000, 100, 120_000),
      retryScheduleMs: durations(env, 'WEBHOOK_RETRY_SCHEDULE', DEFAULT_WEBHOOK_RETRY_SCHEDULE),
      pollMs: int(env, 'WEBHOOK_POLL_MS', 1000, 10, 600_000),
    },
  };
}

function timeouts(env: NodeJS.ProcessEnv): HttpTimeouts {
  const headersMs = int(env, 'HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestMs = int(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  // Node refuses a headers limit above the whole request's: the headers are part of the request.
  if (headersMs > requestMs) {
    throw new ConfigError(
      `HEADERS_TIMEOUT_MS (${headersMs}) must not exceed REQUEST_TIMEOUT_MS (${requestMs})`,
    );
  }
  return {
    headersMs,
    requestMs,
    idleMs: int(env, 'IDLE_TIMEOUT_MS', 60_000, 100, 3_600_000),
    keepAliveMs: int(env, 'KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
  };
}

/** Proxy names proxy-addr (Fastify's trustProxy) knows besides addresses and CIDRs. */
const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY: true or false as before; a whole number of hops (0 is false); or a comma-separated
 * list of proxy addresses, CIDRs and proxy-addr's names (loopback, linklocal, uniquelocal).
 */
function trustProxy(env: NodeJS.ProcessEnv): TrustProxy {
  const raw = str(env, 'TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 100) throw new ConfigError(`TRUST_PROXY must be at most 100 hops, not "${raw}"`);
    return hops === 0 ? false : hops;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (!PROXY_NAMES.includes(entry) && !isAddressOrCidr(entry)) {
      throw new ConfigError(
        `TRUST_PROXY must be true, false, a number of hops, or a comma-separated list of proxy addresses ` +
          `and CIDRs (or loopback, linklocal, uniquelocal); "${entry}" is none of these`,
      );
    }
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** LOG_FORMAT, else readable lines when standard output is a terminal and JSON when it is not. */
export function logFormat(env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean): LogFormat {
  const raw = str(env, 'LOG_FORMAT');
  if (raw === undefined) return stdoutIsTerminal ? 'pretty' : 'json';
  if (raw !== 'json' && raw !== 'pretty') throw new ConfigError('LOG_FORMAT must be json or pretty');
  return raw;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A comma-separated list of durations such as "5s,5m,2h" (units ms, s, m, h), in milliseconds. */
function durations(env: NodeJS.ProcessEnv, name: string, fallback: string): number[] {
  const raw = str(env, name) ?? fallback;
  const out = raw.split(',').map((part) => {
    const match = /^(\d{1,9})(ms|s|m|h)$/.exec(part.trim());
    return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : NaN;
  });
  if (out.length > 50 || out.some((ms) => !(ms > 0 && ms <= 7 * 86_400_000))) {
    throw new ConfigError(
      `${name} must be up to 50 comma-separated durations like 5s,5m,2h (ms, s, m, h; each up to ` +
        `7 days), not "${raw}"`,
    );
  }
  return out;
}

/**
 * Eight anchors in flight cover a 12 s chain: under light load a batch seals every BATCH_MAX_AGE_MS
 * (10 s), about one a block, and a transaction is usually mined within one to three blocks; under
 * load batches grow rather than multiply. Eight also stays well inside the 16 executable
 * transactions per account that geth's pool keeps by default (txpool.accountslots), leaving room for
 * an operator's own transactions from the same key.
 */
const DEFAULT_MAX_IN_FLIGHT = 8;

/** CONFIRMATIONS: a number of blocks, `safe` or `finalized`; unset, 1 on the dev chain and 'auto' on a real one. */
function finality(env: NodeJS.ProcessEnv, realChain: boolean): Pick<Config, 'finality' | 'confirmations'> {
  const fallback = realChain ? 12 : 1;
  const raw = str(env, 'CONFIRMATIONS');
  if (raw === 'safe' || raw === 'finalized') return { finality: raw, confirmations: fallback };
  if (raw === undefined) return { finality: realChain ? 'auto' : 'depth', confirmations: fallback };
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 10_000) {
    throw new ConfigError(
      `CONFIRMATIONS must be a whole number from 1 to 10000, "safe" or "finalized", not "${raw}"`,
    );
  }
  return { finality: 'depth', confirmations: Number(raw) };
}

/** Beijing time by default: the pages speak Chinese first, to buyers in China (README). */
export const DEFAULT_DISPLAY_TIME_ZONE = 'Asia/Shanghai';

function displayTimeZone(env: NodeJS.ProcessEnv): string {
  const zone = str(env, 'DISPLAY_TIME_ZONE') ?? DEFAULT_DISPLAY_TIME_ZONE;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new ConfigError(
      `DISPLAY_TIME_ZONE must be an IANA time zone name such as Asia/Shanghai or UTC; "${zone}" is not one`,
    );
  }
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
