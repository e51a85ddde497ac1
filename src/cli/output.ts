/** Output helpers shared by the commands: one-line failures, JSON on stdout, a tiny progress bar. */

/** A failure the user should read as one line: `error: <message>`, then exit with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** `error: ...` for the user; the whole stack (and causes) only with --verbose. */
export function formatError(err: unknown, verbose: boolean): string {
  if (verbose) {
    const parts: string[] = [];
    for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
      parts.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
      e = e instanceof Error ? e.cause : undefined;
      if (e !== undefined) parts.push('caused by:');
    }
    return `error: ${parts.join('\n')}`;
  }
  return `error: ${printable(oneLine(errorMessage(err)))}`;
}

/**
 * `text` with control characters and bidirectional overrides written as \uXXXX: text from a bundle
 * or a file (a record id, a JSON parser's excerpt) cannot return the cursor, erase or conceal what the
 * terminal shows, or reorder it, so an error cannot pass itself off as "verified".
 */
export function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The most useful short text of an error: ethers' shortMessage, a fetch failure's cause. */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const short = (err as { shortMessage?: unknown }).shortMessage;
  let message = typeof short === 'string' && short !== '' ? short : err.message;
  const cause = err.cause;
  if (message === 'fetch failed' && cause instanceof Error) message = `${message}: ${cause.message}`;
  return message;
}

export function oneLine(text: string): string {
  const first = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return first.trim();
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function println(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

export interface Progress {
  /** Sets the bar to `done` of its total. */
  update(done: number, detail?: string): void;
  /** Clears the bar. */
  finish(): void;
}

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export function progress(label: string, total: number): Progress {
  const stream = process.stderr;
  if (!stream.isTTY || total <= 0) return { update() {}, finish() {} };
  let lastDraw = 0;
  const draw = (done: number, detail: string) => {
    const width = 30;
    const filled = Math.round((Math.min(done, total) / total) * width);
    const pct = Math.floor((Math.min(done, total) / total) * 100);
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${detail}`;
    stream.write(`\r\x1b[K${text.slice(0, (stream.columns || 80) - 1)}`);
  };
  return {
    update(done, detail = `${done}/${total}`) {
      const now = Date.now();
      if (now - lastDraw < 50 && done < total) return;
      lastDraw = now;
      draw(done, detail);
    },
    finish() {
      stream.write('\r\x1b[K');
    },
  };
}
