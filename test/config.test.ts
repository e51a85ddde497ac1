/**
 * loadConfig: defaults that run on a bare machine, the real-chain settings that go together, and an
 * error naming the variable for every bad value.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, logFormat } from '../src/config.ts';

const KEY = `0x${'11'.repeat(32)}`;
const CONTRACT = `0x${'ab'.repeat(20)}`;
const REAL = {
  RPC_URL: 'https://rpc.example.org',
  ANCHOR_CONTRACT: CONTRACT,
  ANCHORER_PRIVATE_KEY: KEY,
  ADMIN_TOKEN: 'a'.repeat(32),
  SECRET_KEY: '22'.repeat(32),
};

function failure(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('DISPLAY_TIME_ZONE: an IANA name, spelled canonically; anything else refused with a clear message', () => {
    expect(loadConfig({ DISPLAY_TIME_ZONE: 'UTC' }).displayTimeZone).toBe('UTC');
    expect(loadConfig({ DISPLAY_TIME_ZONE: ' asia/shanghai ' }).displayTimeZone).toBe('Asia/Shanghai');
    expect(loadConfig({ DISPLAY_TIME_ZONE: 'Europe/Berlin' }).displayTimeZone).toBe('Europe/Berlin');
    expect(() => loadConfig({ DISPLAY_TIME_ZONE: 'Mars/Olympus_Mons' })).toThrow(
      'DISPLAY_TIME_ZONE must be an IANA time zone name such as Asia/Shanghai or UTC; "Mars/Olympus_Mons" is not one',
    );
  });

  it('defaults: SQLite in ./data, the development chain, one confirmation', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      publicBaseUrl: 'http://127.0.0.1:8080',
      dataDir: './data',
      databaseUrl: undefined,
      chain: { kind: 'dev', port: 8545 },
      finality: 'depth',
      confirmations: 1,
      maxInFlight: 8,
      finalityStallMs: 1_800_000,
      adminToken: undefined,
      metricsToken: undefined,
      secretKey: undefined,
      batchMaxLeaves: 10_000,
      batchCeilingLeaves: 1_000_000,
      batchMaxAgeMs: 10_000,
      chainPollMs: 200,
      leaseMs: 5000,
      explorerUrl: undefined,
      publicRpcUrl: undefined,
      displayTimeZone: 'Asia/Shanghai',
      logLevel: 'info',
      bodyLimitBytes: 4 * 1024 * 1024,
      timeouts: { headersMs: 10_000, requestMs: 30_000, idleMs: 60_000, keepAliveMs: 72_000 },
      trustProxy: false,
      rpcTimeoutMs: 30_000,
      rateLimits: { secretPerMinute: 10, verifyPerMinute: 1200, merchantPerMinute: 6000 },
      maxPendingEvents: 1_000_000,
      maxPendingEventsPerMerchant: 100_000,
      recordLimits: { maxEvents: 200, maxEventDataBytes: 2048 },
      qrRendersPerSecond: 50,
      afterSale: { sealedTtlMs: 72 * 3_600_000, disputeResponseMs: 24 * 3_600_000 },
      secretGuesses: { limit: 5, windowMs: 3_600_000 },
      scanWindowDays: 30,
      logFormat: process.stdout.isTTY ? 'pretty' : 'json',
      webhooks: {
        allowPrivate: false,
        timeoutMs: 15_000,
        retryScheduleMs: [5, 300, 1800, 7200, 18_000, 36_000, 21_600].map((s) => s * 1000),
        pollMs: 1000,
      },
    });
  });

  it('webhooks: private targets, the attempt timeout, the retry schedule in units, the poll', () => {
    const config = loadConfig({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_MS: '2500',
      WEBHOOK_RETRY_SCHEDULE: '250ms, 2s,1m,1h',
      WEBHOOK_POLL_MS: '50',
    });
    expect(config.webhooks).toEqual({
      allowPrivate: true,
      timeoutMs: 2500,
      retryScheduleMs: [250, 2000, 60_000, 3_600_000],
      pollMs: 50,
    });
    // The default schedule gives up just under a day after the first attempt.
    const total = loadConfig({}).webhooks.retryScheduleMs.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(24 * 3_600_000);
    expect(total).toBeGreaterThan(23 * 3_600_000);
  });

  it('log lines: readable on a terminal, JSON into a pipe or file, unless LOG_FORMAT says', () => {
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({}, false)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });

  it('a real chain: all three settings, 12 confirmations and slower polling by default', () => {
    const config = loadConfig({ ...REAL });
    expect(config.chain).toEqual({
      kind: 'rpc',
      rpcUrl: 'https://rpc.example.org',
      contract: CONTRACT,
      anchorerKey: KEY,
      publishRpcUrl: false,
    });
    expect(config.confirmations).toBe(12);
    expect(config.finality).toBe('auto');
    expect(config.chainPollMs).toBe(2000);
    expect(
      loadConfig({ ...REAL, ANCHORER_PRIVATE_KEY: KEY.slice(2), PUBLISH_RPC_URL: 'true' }).chain,
    ).toMatchObject({
      anchorerKey: KEY.slice(2),
      publishRpcUrl: true,
    });
  });

  it('SECRET_KEY: 32 bytes as hex or base64url, required with a real chain, never echoed', () => {
    const bytes = Buffer.alloc(32, 0x5a);
    expect(loadConfig({ SECRET_KEY: bytes.toString('hex') }).secretKey).toEqual(bytes);
    expect(loadConfig({ SECRET_KEY: `0x${bytes.toString('hex')}` }).secretKey).toEqual(bytes);
    expect(loadConfig({ SECRET_KEY: bytes.toString('base64url') }).secretKey).toEqual(bytes);
    expect(loadConfig({ SECRET_KEY: `${bytes.toString('base64url')}=` }).secretKey).toEqual(bytes);
    expect(failure({ ...REAL, SECRET_KEY: undefined }).message).toContain('SECRET_KEY is required');
    const short = '5a'.repeat(31);
    const message = failure({ SECRET_KEY: short }).message;
    expect(message).toContain('SECRET_KEY must be 32 bytes');
    expect(message).not.toContain(short);
  });

  it('reads and trims the rest', () => {
    const config = loadConfig({
      PORT: ' 9000 ',
      HOST: '0.0.0.0',
      DATA_DIR: '/var/lib/proofmark',
      DATABASE_URL: 'postgresql://u:p@db:5432/proofmark',
      CONFIRMATIONS: '3',
      BATCH_MAX_LEAVES: '500',
      BATCH_MAX_AGE_MS: '2500',
      LOG_LEVEL: 'debug',
      EXPLORER_URL: 'https://explorer.example/',
      PUBLIC_RPC_URL: 'https://rpc.example/v1',
      BODY_LIMIT_BYTES: '1024',
      DEV_CHAIN_PORT: '0',
      ADMIN_TOKEN: 'x'.repeat(16),
      PUBLIC_BASE_URL: 'https://verify.example/',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      dataDir: '/var/lib/proofmark',
      databaseUrl: 'postgresql://u:p@db:5432/proofmark',
      confirmations: 3,
      batchMaxLeaves: 500,
      batchMaxAgeMs: 2500,
      logLevel: 'debug',
      explorerUrl: 'https://explorer.example',
      publicRpcUrl: 'https://rpc.example/v1',
      bodyLimitBytes: 1024,
      chain: { kind: 'dev', port: 0 },
      adminToken: 'x'.repeat(16),
      publicBaseUrl: 'https://verify.example',
    });
    // Listening on every interface, links still point somewhere a browser can reach.
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '81' }).publicBaseUrl).toBe('http://localhost:81');
    // An empty variable is an unset one.
    expect(loadConfig({ PORT: '', RPC_URL: '  ' }).port).toBe(8080);
  });

  it("CONFIRMATIONS: a depth, or the node's safe or finalized block; MAX_IN_FLIGHT and FINALITY_STALL_MS", () => {
    expect(loadConfig({ ...REAL, CONFIRMATIONS: '3' })).toMatchObject({
      finality: 'depth',
      confirmations: 3,
    });
    expect(loadConfig({ ...REAL, CONFIRMATIONS: 'finalized' })).toMatchObject({ finality: 'finalized' });
    expect(loadConfig({ CONFIRMATIONS: 'safe' })).toMatchObject({ finality: 'safe' });
    expect(loadConfig({ ...REAL, MAX_IN_FLIGHT: '1' }).maxInFlight).toBe(1);
    expect(loadConfig({ FINALITY_STALL_MS: '60000' }).finalityStallMs).toBe(60_000);
    expect(failure({ CONFIRMATIONS: 'latest' }).message).toContain('"safe" or "finalized"');
  });

  it('BATCH_CEILING_LEAVES: how far batches grow while anchoring is behind, never below BATCH_MAX_LEAVES', () => {
    expect(loadConfig({ BATCH_CEILING_LEAVES: '200000' }).batchCeilingLeaves).toBe(200_000);
    expect(loadConfig({ BATCH_MAX_LEAVES: '500', BATCH_CEILING_LEAVES: '500' }).batchCeilingLeaves).toBe(500);
    expect(failure({ BATCH_MAX_LEAVES: '5000', BATCH_CEILING_LEAVES: '4999' }).message).toMatch(
      /BATCH_CEILING_LEAVES must be at least BATCH_MAX_LEAVES/,
    );
    expect(failure({ BATCH_CEILING_LEAVES: '4000001' }).message).toMatch(/BATCH_CEILING_LEAVES/);
  });

  it('METRICS_TOKEN: a scraper credential of at least 16 characters', () => {
    expect(loadConfig({ METRICS_TOKEN: 'm'.repeat(16) }).metricsToken).toBe('m'.repeat(16));
    expect(failure({ METRICS_TOKEN: 'short' }).message).toMatch(/METRICS_TOKEN must be at least 16/);
  });

  it('RPC_TIMEOUT_MS: how long one JSON-RPC request may take, from 100 ms to 10 minutes', () => {
    expect(loadConfig({ ...REAL, RPC_TIMEOUT_MS: '2500' }).rpcTimeoutMs).toBe(2500);
    expect(loadConfig({ RPC_TIMEOUT_MS: '100' }).rpcTimeoutMs).toBe(100);
    expect(loadConfig({ RPC_TIMEOUT_MS: '600000' }).rpcTimeoutMs).toBe(600_000);
  });

  it('limits: per-minute rate limits (0 turns one off, not the secret check) and the backlog bound', () => {
    const config = loadConfig({
      RATE_LIMIT_SECRET_PER_MINUTE: '3',
      RATE_LIMIT_VERIFY_PER_MINUTE: '0',
      RATE_LIMIT_MERCHANT_PER_MINUTE: ' 100000 ',
      MAX_PENDING_EVENTS: '5',
    });
    expect(config.rateLimits).toEqual({ secretPerMinute: 3, verifyPerMinute: 0, merchantPerMinute: 100_000 });
    expect(config.maxPendingEvents).toBe(5);
    expect(loadConfig({ RATE_LIMIT_MERCHANT_PER_MINUTE: '0' }).rateLimits.merchantPerMinute).toBe(0);
  });

  it('request time limits: each phase in ms, the headers within the whole request', () => {
    const config = loadConfig({
      HEADERS_TIMEOUT_MS: '2000',
      REQUEST_TIMEOUT_MS: '5000',
      IDLE_TIMEOUT_MS: '3000',
      KEEP_ALIVE_TIMEOUT_MS: '4000',
    });
    expect(config.timeouts).toEqual({ headersMs: 2000, requestMs: 5000, idleMs: 3000, keepAliveMs: 4000 });
    expect(loadConfig({ HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '5000' }).timeouts.headersMs).toBe(
      5000,
    );
  });

  it('TRUST_PROXY: true or false as before, a number of hops, or proxy addresses and CIDRs', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,fd00::/8,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('bounded records and backlogs: events per record, event data, per-merchant backlog, QR renders', () => {
    const config = loadConfig({
      MAX_EVENTS_PER_RECORD: '50',
      MAX_EVENT_DATA_BYTES: '512',
      MAX_PENDING_EVENTS_PER_MERCHANT: '7',
      QR_RENDERS_PER_SECOND: '3',
    });
    expect(config.recordLimits).toEqual({ maxEvents: 50, maxEventDataBytes: 512 });
    expect(config.maxPendingEventsPerMerchant).toBe(7);
    expect(config.qrRendersPerSecond).toBe(3);
  });

  it('secret guesses: a handful per record and hour by default, both settable', () => {
    expect(loadConfig({}).secretGuesses).toEqual({ limit: 5, windowMs: 3_600_000 });
    expect(
      loadConfig({ SECRET_GUESSES_PER_WINDOW: '3', SECRET_GUESS_WINDOW_SECONDS: '86400' }).secretGuesses,
    ).toEqual({ limit: 3, windowMs: 86_400_000 });
  });

  it('SCAN_WINDOW_DAYS: how long a network counts once per item, from 1 day to 10 years', () => {
    expect(loadConfig({ SCAN_WINDOW_DAYS: '1' }).scanWindowDays).toBe(1);
    expect(loadConfig({ SCAN_WINDOW_DAYS: '3650' }).scanWindowDays).toBe(3650);
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['ANCHOR_CONTRACT', { RPC_URL: 'https://rpc.example.org' }],
    ['ANCHOR_CONTRACT', { ...REAL, ANCHOR_CONTRACT: '0x1234' }],
    ['RPC_URL', { ANCHOR_CONTRACT: CONTRACT, ANCHORER_PRIVATE_KEY: KEY }],
    ['RPC_URL', { ...REAL, RPC_URL: 'ws://rpc.example.org' }],
    ['ANCHORER_PRIVATE_KEY', { RPC_URL: 'https://rpc.example.org', ANCHOR_CONTRACT: CONTRACT }],
    ['ANCHORER_PRIVATE_KEY', { ...REAL, ANCHORER_PRIVATE_KEY: '0x1234' }],
    ['ANCHORER_PRIVATE_KEY', { ...REAL, ANCHORER_PRIVATE_KEY: `0x${'zz'.repeat(32)}` }],
    ['ADMIN_TOKEN', { ...REAL, ADMIN_TOKEN: undefined }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'short' }],
    ['SECRET_KEY', { SECRET_KEY: 'not a key' }],
    ['SECRET_KEY', { SECRET_KEY: 'ab'.repeat(33) }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root@localhost/proofmark' }],
    ['DATABASE_URL', { DATABASE_URL: 'sqlite:./data/db' }],
    ['CONFIRMATIONS', { CONFIRMATIONS: '0' }],
    ['CONFIRMATIONS', { CONFIRMATIONS: 'final' }],
    ['MAX_IN_FLIGHT', { MAX_IN_FLIGHT: '0' }],
    ['MAX_IN_FLIGHT', { MAX_IN_FLIGHT: '65' }],
    ['FINALITY_STALL_MS', { FINALITY_STALL_MS: '10' }],
    ['BATCH_MAX_LEAVES', { BATCH_MAX_LEAVES: 'many' }],
    ['BATCH_MAX_AGE_MS', { BATCH_MAX_AGE_MS: '5' }],
    ['BODY_LIMIT_BYTES', { BODY_LIMIT_BYTES: '10' }],
    ['PUBLIC_BASE_URL', { PUBLIC_BASE_URL: 'verify.example' }],
    ['EXPLORER_URL', { EXPLORER_URL: 'ftp://explorer.example' }],
    ['PUBLIC_RPC_URL', { PUBLIC_RPC_URL: 'wss://rpc.example' }],
    ['DISPLAY_TIME_ZONE', { DISPLAY_TIME_ZONE: 'Beijing' }],
    ['DISPLAY_TIME_ZONE', { DISPLAY_TIME_ZONE: '+08:00' }],
    ['PUBLISH_RPC_URL', { ...REAL, PUBLISH_RPC_URL: 'yes' }],
    ['DEV_CHAIN_PORT', { DEV_CHAIN_PORT: 'x' }],
    ['RPC_TIMEOUT_MS', { RPC_TIMEOUT_MS: '99' }],
    ['RPC_TIMEOUT_MS', { RPC_TIMEOUT_MS: '600001' }],
    ['RPC_TIMEOUT_MS', { RPC_TIMEOUT_MS: '5s' }],
    ['RATE_LIMIT_SECRET_PER_MINUTE', { RATE_LIMIT_SECRET_PER_MINUTE: '0' }],
    ['RATE_LIMIT_SECRET_PER_MINUTE', { RATE_LIMIT_SECRET_PER_MINUTE: 'ten' }],
    ['RATE_LIMIT_VERIFY_PER_MINUTE', { RATE_LIMIT_VERIFY_PER_MINUTE: '-1' }],
    ['RATE_LIMIT_VERIFY_PER_MINUTE', { RATE_LIMIT_VERIFY_PER_MINUTE: '1.5' }],
    ['RATE_LIMIT_MERCHANT_PER_MINUTE', { RATE_LIMIT_MERCHANT_PER_MINUTE: 'off' }],
    ['MAX_PENDING_EVENTS', { MAX_PENDING_EVENTS: '0' }],
    ['MAX_PENDING_EVENTS', { MAX_PENDING_EVENTS: '1e6' }],
    ['MAX_PENDING_EVENTS_PER_MERCHANT', { MAX_PENDING_EVENTS_PER_MERCHANT: '0' }],
    ['HEADERS_TIMEOUT_MS', { HEADERS_TIMEOUT_MS: '50' }],
    ['HEADERS_TIMEOUT_MS', { HEADERS_TIMEOUT_MS: '40000' }],
    ['REQUEST_TIMEOUT_MS', { REQUEST_TIMEOUT_MS: '0' }],
    ['IDLE_TIMEOUT_MS', { IDLE_TIMEOUT_MS: 'never' }],
    ['KEEP_ALIVE_TIMEOUT_MS', { KEEP_ALIVE_TIMEOUT_MS: '0' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'yes' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/33' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.1,proxy.example' }],
    ['TRUST_PROXY', { TRUST_PROXY: '101' }],
    ['MAX_EVENTS_PER_RECORD', { MAX_EVENTS_PER_RECORD: '0' }],
    ['MAX_EVENT_DATA_BYTES', { MAX_EVENT_DATA_BYTES: '1' }],
    ['QR_RENDERS_PER_SECOND', { QR_RENDERS_PER_SECOND: '0' }],
    ['SECRET_GUESSES_PER_WINDOW', { SECRET_GUESSES_PER_WINDOW: '0' }],
    ['SECRET_GUESSES_PER_WINDOW', { SECRET_GUESSES_PER_WINDOW: 'five' }],
    ['SECRET_GUESS_WINDOW_SECONDS', { SECRET_GUESS_WINDOW_SECONDS: '59' }],
    ['SECRET_GUESS_WINDOW_SECONDS', { SECRET_GUESS_WINDOW_SECONDS: '1h' }],
    ['SCAN_WINDOW_DAYS', { SCAN_WINDOW_DAYS: '0' }],
    ['SCAN_WINDOW_DAYS', { SCAN_WINDOW_DAYS: '3651' }],
    ['SCAN_WINDOW_DAYS', { SCAN_WINDOW_DAYS: '30d' }],
    ['LOG_FORMAT', { LOG_FORMAT: 'colour' }],
    ['WEBHOOK_ALLOW_PRIVATE', { WEBHOOK_ALLOW_PRIVATE: 'yes' }],
    ['WEBHOOK_TIMEOUT_MS', { WEBHOOK_TIMEOUT_MS: '99' }],
    ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '5s,,5m' }],
    ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '5 minutes' }],
    ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '0s' }],
    ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '200h' }],
    ['WEBHOOK_POLL_MS', { WEBHOOK_POLL_MS: '5' }],
  ] as Array<[string, NodeJS.ProcessEnv]>)('names %s when it is wrong (%j)', (name, env) => {
    const err = failure(env);
    expect(err.message).toContain(name);
    expect(err.name).toBe('ConfigError');
  });

  it('does not echo a bad private key back', () => {
    const secretish = `0x${'9f'.repeat(31)}`;
    expect(failure({ ...REAL, ANCHORER_PRIVATE_KEY: secretish }).message).not.toContain(secretish);
  });
});
