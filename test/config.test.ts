/**
 * loadConfig: defaults that run on a bare machine, the real-chain settings that go together, and an
 * error naming the variable for every bad value.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

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
  it('defaults: SQLite in ./data, the development chain, one confirmation', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      publicBaseUrl: 'http://127.0.0.1:8080',
      dataDir: './data',
      databaseUrl: undefined,
      chain: { kind: 'dev', port: 8545 },
      confirmations: 1,
      adminToken: undefined,
      metricsToken: undefined,
      secretKey: undefined,
      batchMaxLeaves: 10_000,
      batchCeilingLeaves: 1_000_000,
      batchMaxAgeMs: 10_000,
      chainPollMs: 200,
      leaseMs: 5000,
      explorerUrl: undefined,
      logLevel: 'info',
      bodyLimitBytes: 4 * 1024 * 1024,
      trustProxy: false,
      rpcTimeoutMs: 30_000,
      rateLimits: { secretPerMinute: 10, verifyPerMinute: 1200, merchantPerMinute: 6000 },
      maxPendingEvents: 1_000_000,
    });
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
    ['BATCH_MAX_LEAVES', { BATCH_MAX_LEAVES: 'many' }],
    ['BATCH_MAX_AGE_MS', { BATCH_MAX_AGE_MS: '5' }],
    ['BODY_LIMIT_BYTES', { BODY_LIMIT_BYTES: '10' }],
    ['PUBLIC_BASE_URL', { PUBLIC_BASE_URL: 'verify.example' }],
    ['EXPLORER_URL', { EXPLORER_URL: 'ftp://explorer.example' }],
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
