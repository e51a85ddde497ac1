/**
 * What `proofmark records import` reads: one entry per line of the file (a CSV record per data row),
 * each with its line number as an editor shows it (the first line is 1; a CSV header is line 1), and
 * either the record to register or why the line is malformed. Blank lines are skipped.
 *
 * Formats:
 * - csv: a header naming record fields (externalId, kind, sku, productName, serial, secret; any
 *   `metadata.<key>` column goes into metadata), then one record per row. --kind, --sku and
 *   --product fill the columns a file leaves out.
 * - pairs: `serial,secret` per line (split at the first comma).
 * - secrets: one secret per line; the serial is the line's externalId.
 *
 * A line without an externalId gets one derived from its line number and its text
 * (`L<line>-<hash>`), so re-running the same file names every record as before and the service
 * answers the records it already holds as replays, never twice.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { RECORD_KINDS, type RecordKind } from '../../core/lifecycle.ts';
import type { PublicData, RecordInput } from '../../client/types.ts';
import { CliError } from '../output.ts';

export const IMPORT_FORMATS = ['csv', 'pairs', 'secrets'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export type ImportLine = { line: number; record: RecordInput } | { line: number; malformed: string };

/** --kind, --sku, --product: what every record of a plain file shares, and a CSV's defaults. */
export interface RecordDefaults {
  kind?: RecordKind | undefined;
  sku?: string | undefined;
  productName?: string | undefined;
}

const FIELDS = ['externalId', 'kind', 'sku', 'productName', 'serial', 'secret'] as const;
/** The API's limits (src/http/routes/records.ts), checked here so a line is refused by its number. */
const MAX_LENGTH: Record<(typeof FIELDS)[number], number> = {
  externalId: 128,
  kind: 16,
  sku: 128,
  productName: 300,
  serial: 200,
  secret: 500,
};

/** The format a file is read in: `--format`, else csv for a .csv file, else pairs if the first line has a comma. */
export async function detectFormat(path: string, asked: ImportFormat | undefined): Promise<ImportFormat> {
  if (asked) return asked;
  if (path.toLowerCase().endsWith('.csv')) return 'csv';
  for await (const { text } of textLines(path)) {
    if (text.trim() !== '') return text.includes(',') ? 'pairs' : 'secrets';
  }
  return 'secrets';
}

/** The file's entries in line order. `bytesRead` (for a progress bar) is updated as it reads. */
export function readImport(
  path: string,
  format: ImportFormat,
  defaults: RecordDefaults,
  progress: { bytesRead: number },
): AsyncGenerator<ImportLine> {
  if (format === 'csv') return csvLines(path, defaults, progress);
  for (const [option, value] of [
    ['--kind', defaults.kind],
    ['--sku', defaults.sku],
    ['--product', defaults.productName],
  ] as const) {
    if (value === undefined) throw new CliError(`a ${format} file needs ${option}`, 2);
  }
  return plainLines(path, format, defaults, progress);
}

async function* textLines(path: string, progress?: { bytesRead: number }) {
  const stream = createReadStream(path, { encoding: 'utf8' });
  if (progress) stream.on('data', (chunk) => (progress.bytesRead += Buffer.byteLength(chunk)));
  let line = 0;
  try {
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      line++;
      yield { line, text: line === 1 ? text.replace(/^\uFEFF/, '') : text };
    }
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 1, { cause: err });
  }
}

async function* plainLines(
  path: string,
  format: 'pairs' | 'secrets',
  defaults: RecordDefaults,
  progress: { bytesRead: number },
): AsyncGenerator<ImportLine> {
  for await (const { line, text } of textLines(path, progress)) {
    if (text.trim() === '') continue;
    let serial: string | undefined;
    let secret: string;
    if (format === 'pairs') {
      const comma = text.indexOf(',');
      if (comma < 0) {
        yield { line, malformed: 'expected serial,secret' };
        continue;
      }
      serial = text.slice(0, comma).trim();
      secret = text.slice(comma + 1).trim();
    } else {
      secret = text.trim();
    }
    const externalId = derivedExternalId(line, text);
    yield checked(line, {
      externalId,
      kind: defaults.kind!,
      sku: defaults.sku!,
      productName: defaults.productName!,
      serial: serial ?? externalId,
      secret,
    });
  }
}

async function* csvLines(
  path: string,
  defaults: RecordDefaults,
  progress: { bytesRead: number },
): AsyncGenerator<ImportLine> {
  const input = createReadStream(path);
  input.on('data', (chunk) => (progress.bytesRead += chunk.length));
  const parser = input.pipe(
    parse({ bom: true, info: true, raw: true, relax_column_count: true, skip_empty_lines: true, trim: true }),
  );
  let header: string[] | null = null;
  try {
    for await (const { record, info, raw } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
      raw: string;
    }>) {
      if (!header) {
        header = checkHeader(record, path);
        continue;
      }
      // info.lines is the line the record ends on (a quoted field may span lines): an editor shows
      // the line it starts on.
      const text = raw.replace(/^[\r\n]+/, '').replace(/[\r\n]+$/, '');
      const line = info.lines - (text.match(/\n/g)?.length ?? 0);
      if (record.length !== header.length) {
        yield { line, malformed: `${record.length} columns where the header has ${header.length}` };
        continue;
      }
      const fields: Record<string, string> = {};
      const metadata: PublicData = {};
      header.forEach((name, i) => {
        const value = record[i]!;
        if (name.startsWith('metadata.')) {
          if (value !== '') metadata[name.slice('metadata.'.length)] = value;
        } else if (value !== '') fields[name] = value;
      });
      yield checked(line, {
        externalId: fields.externalId ?? derivedExternalId(line, record.join('\u001f')),
        kind: (fields.kind ?? defaults.kind) as RecordKind,
        sku: fields.sku ?? defaults.sku ?? '',
        productName: fields.productName ?? defaults.productName ?? '',
        serial: fields.serial ?? '',
        ...(fields.secret !== undefined && { secret: fields.secret }),
        ...(Object.keys(metadata).length > 0 && { metadata }),
      });
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${path} as CSV: ${(err as Error).message}`, 1, { cause: err });
  }
}

function checkHeader(names: string[], path: string): string[] {
  const unknown = names.filter(
    (n) => !(FIELDS as readonly string[]).includes(n) && !/^metadata\.[^.\s]+$/.test(n),
  );
  if (unknown.length > 0) {
    throw new CliError(
      `${path}: line 1 is not a header of record fields (${FIELDS.join(', ')}, metadata.<key>): ` +
        `unknown column ${unknown.map((n) => JSON.stringify(n)).join(', ')}; ` +
        'for a file of serial,secret lines pass --format pairs',
      2,
    );
  }
  if (!names.includes('serial')) throw new CliError(`${path}: the header has no serial column`, 2);
  return names;
}

/** The externalId of a line that has none: its number and its text, so a re-run names it the same. */
export function derivedExternalId(line: number, text: string): string {
  const hash = createHash('sha256').update(`${line}\n${text}`).digest('base64url').slice(0, 16);
  return `L${line}-${hash}`;
}

/** The record, or why the service would refuse it (so it is refused here, by its line number). */
function checked(line: number, record: RecordInput): ImportLine {
  if (!(RECORD_KINDS as readonly string[]).includes(record.kind)) {
    return { line, malformed: `kind must be one of ${RECORD_KINDS.join(', ')}` };
  }
  for (const field of FIELDS) {
    const value = record[field];
    if (field === 'secret' && value === undefined) continue;
    if (value === undefined || value === '') return { line, malformed: `${field} is empty` };
    if (value.length > MAX_LENGTH[field]) {
      return { line, malformed: `${field} is longer than ${MAX_LENGTH[field]} characters` };
    }
  }
  return { line, record };
}
