/** Owns the process: reads the environment, starts the runtime and the HTTP server, stops on signals. */
import pino, { type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError, loadConfig, type LogFormat } from './config.ts';
import { buildApp } from './http/app.ts';
import { startRuntime } from './runtime.ts';

/** Keys that must never reach a log line, wherever they appear. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.apiKey',
  'apiKey',
  '*.secret',
  'secret',
  '*.privateKey',
  '*.anchorerKey',
  'anchorerKey',
  '*.adminToken',
  'adminToken',
  '*.rawTx',
];

/** What the log keeps of a request (Fastify's request object, as its "incoming request" line logs it). */
interface LoggedRequest {
  method?: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * How a request appears in the log: its path without the query string, which can carry what a
 * careless client put there (`/v/<id>?secret=…`). Replaces Fastify's serializer of `req`, which logs
 * the URL whole. A `req` without a URL is some other object and passes as it is (still redacted).
 */
export const LOG_SERIALIZERS = {
  req: (req: LoggedRequest | unknown) => {
    if (typeof (req as Partial<LoggedRequest> | null)?.url !== 'string') return req;
    const { method, url, host, ip, socket } = req as LoggedRequest;
    // A reveal link's token opens a sealed secret: its path is logged without it.
    const path = url.split('?')[0]!.replace(/^(\/r\/|\/v1\/reveal\/)[^/]+/, '$1[token]');
    return { method, url: path, host, remoteAddress: ip, remotePort: socket?.remotePort };
  },
};

/** The logger's options: level, redaction and serializers. Tests build theirs from the same. */
export function logOptions(level: string): pino.LoggerOptions {
  return { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: LOG_SERIALIZERS };
}

export async function startServer(env: NodeJS.ProcessEnv): Promise<{ url: string; close(): Promise<void> }> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`proofmark: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino(logOptions(config.logLevel), logDestination(config.logFormat));
  const runtime = await startRuntime(config, log);
  const app = await buildApp(runtime.services, { logger: log });
  const url = await app.listen({ port: config.port, host: config.host });
  runtime.services.batcher.start();
  runtime.webhookWorker.start();
  runtime.afterSaleSweeper.start();
  log.info({ url, publicBaseUrl: config.publicBaseUrl, docs: `${url}/docs` }, 'proofmark is serving');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await runtime.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  return { url, close };
}

/**
 * Where log lines go: pino's own default, JSON lines on standard output (for a pipe, a file, a log
 * shipper), or readable coloured lines for a person at a terminal (pino-pretty, in this thread).
 * Redaction happens before either, in pino itself.
 */
export function logDestination(format: LogFormat): DestinationStream | undefined {
  if (format === 'json') return undefined;
  return pretty({ destination: 1, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' });
}
