/**
 * `proofmark records import <file>`: a merchant's stock, from a CSV or the plain text files
 * marketplaces use (see ../import/sources.ts), registered in requests of up to 1,000 records, a few
 * in flight. Safe to interrupt and run again: every line has a stable externalId, so what was
 * registered comes back as a replay, never as a second record. Each refused line is reported on
 * stdout as `line <n>: <reason>: <message>`; the summary goes to stderr, with a progress bar there
 * on a terminal. `--out` writes `line,externalId,recordId,verifyUrl,status` for the QR labels.
 * Exit 0 when every line was registered, 1 when some were refused, 130 when interrupted.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import cliProgress from 'cli-progress';
import { ApiClient } from '../../client/client.ts';
import { RECORD_KINDS, type RecordKind } from '../../core/lifecycle.ts';
import { apiBase } from '../api-options.ts';
import { sendEntries, type Entry, type Outcome } from '../import/send.ts';
import { detectFormat, IMPORT_FORMATS, readImport, type ImportFormat } from '../import/sources.ts';
import { CliError, printable } from '../output.ts';

const PER_REQUEST = 1000;

export interface ImportOptions {
  api?: string;
  key?: string;
  out?: string;
  format?: string;
  kind?: string;
  sku?: string;
  product?: string;
  concurrency?: number;
}

export async function recordsImport(file: string, opts: ImportOptions): Promise<void> {
  const key = opts.key ?? process.env.PROOFMARK_API_KEY?.trim();
  if (!key) throw new CliError('no merchant key: set PROOFMARK_API_KEY or pass --key', 2);
  if (opts.format !== undefined && !(IMPORT_FORMATS as readonly string[]).includes(opts.format)) {
    throw new CliError(`--format must be one of ${IMPORT_FORMATS.join(', ')}`, 2);
  }
  if (opts.kind !== undefined && !(RECORD_KINDS as readonly string[]).includes(opts.kind)) {
    throw new CliError(`--kind must be one of ${RECORD_KINDS.join(', ')}`, 2);
  }
  const size = await stat(file).then(
    (s) => s.size,
    (err: Error) => {
      throw new CliError(`cannot read ${file}: ${err.message}`, 1, { cause: err });
    },
  );
  const api = new ApiClient(apiBase(opts), { token: key });
  const format = await detectFormat(file, opts.format as ImportFormat | undefined);
  const progress = { bytesRead: 0 };
  const lines = readImport(
    file,
    format,
    { kind: opts.kind as RecordKind | undefined, sku: opts.sku, productName: opts.product },
    progress,
  );

  const out = opts.out ? createWriteStream(opts.out) : null;
  out?.write('line,externalId,recordId,verifyUrl,status\n');
  const tally = { registered: 0, refused: 0 };
  const report = (o: Outcome) => {
    if ('refused' in o) {
      tally.refused++;
      process.stdout.write(`line ${o.line}: ${o.refused}: ${printable(o.message)}\n`);
    } else {
      tally.registered++;
      out?.write([o.line, o.externalId, o.recordId, o.verifyUrl, o.status].map(csvField).join(',') + '\n');
    }
  };
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: 'import [{bar}] {percentage}% | {registered} registered, {refused} refused',
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(size, 0, tally);

  let interrupted = false;
  const onInterrupt = () => (interrupted = true);
  process.once('SIGINT', onInterrupt);
  const inFlight = new Set<Promise<void>>();
  const concurrency = opts.concurrency ?? 4;
  let lastLine = 0;
  let failure: { error: unknown } | null = null;
  const flush = async (batch: Entry[]) => {
    const sent = sendEntries(api, batch, report)
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        inFlight.delete(sent);
        bar?.update(progress.bytesRead, tally);
      });
    inFlight.add(sent);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  };
  try {
    let batch: Entry[] = [];
    for await (const entry of lines) {
      if (interrupted || failure) break;
      lastLine = entry.line;
      if ('malformed' in entry) {
        report({ line: entry.line, externalId: null, refused: 'malformed', message: entry.malformed });
        continue;
      }
      batch.push(entry);
      if (batch.length === PER_REQUEST) {
        await flush(batch);
        batch = [];
      }
    }
    if (!interrupted && !failure) await flush(batch);
  } finally {
    // Requests already sent finish either way (a re-run answers them as replays).
    await Promise.all([...inFlight]);
    bar?.update(progress.bytesRead, tally);
    bar?.stop();
    process.off('SIGINT', onInterrupt);
    if (out) {
      out.end();
      await once(out, 'close');
    }
  }
  if (failure) throw (failure as { error: unknown }).error;
  const summary = `${tally.registered} lines registered, ${tally.refused} refused (${format} file ${file})`;
  if (interrupted) {
    throw new CliError(
      `interrupted after line ${lastLine}: ${summary}; run the same command again to finish`,
      130,
    );
  }
  if (tally.refused > 0) throw new CliError(summary, 1);
  process.stderr.write(`${summary}\n`);
}

function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
