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
  const log = pino(
    { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    logDestination(config.logFormat),
  );
  const runtime = await startRuntime(config, log);
  const app = await buildApp(runtime.services, { logger: log });
  const url = await app.listen({ port: config.port, host: config.host });
  runtime.services.batcher.start();
  runtime.webhookWorker.start();
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
