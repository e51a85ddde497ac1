/**
 * The per-record budget of secret checks: at most `limit` wrong secrets per record per window, from
 * every address and every instance together, because the count lives in the database. A check takes
 * a try before it compares (one atomic write: racing checks never compare more than `limit` in a
 * window) and gives it back when the secret was right, so a buyer who types the right key loses
 * nothing. Once a record has no try left, every check of it is refused with 429 until the window
 * ends, the right secret too: answering it would make the refusal an oracle.
 *
 * A window begins with the first try after the previous window ended and lasts `windowMs`, so over
 * any stretch of time a record answers at most `limit` wrong secrets per window (twice that across
 * one boundary). The price: anyone can spend a record's tries, and then its buyer waits for the
 * window to end too (README: "Secret guessing").
 */
import type { Logger } from 'pino';
import type { SecretAttemptRow } from '../storage/rows.ts';
import type { SecretAttemptStore } from '../storage/storage.ts';
import { ServiceError } from './errors.ts';

export interface SecretGuessPolicy {
  /** Wrong secrets a record takes per window. */
  limit: number;
  windowMs: number;
}

/**
 * What the secret checks have refused since start, for metrics (suggested names:
 * proofmark_secret_wrong_guesses_total, proofmark_secret_checks_refused_total,
 * proofmark_secret_records_exhausted_total).
 */
export interface SecretAbuseCounters {
  /** Secrets compared and found wrong. */
  wrongGuesses: number;
  /** Checks refused because the record had no try left. */
  refused: number;
  /** Times a record used its last try of a window. */
  exhausted: number;
}

/** A record's tries as a check or the page sees them. */
export interface SecretTries {
  /** Wrong secrets the record still takes in its current window. */
  left: number;
  /** Seconds until the window ends and the tries are back; null while some are left. */
  retryAfterSeconds: number | null;
  /** The policy: wrong secrets per window, and the window's length. */
  limit: number;
  windowSeconds: number;
}

/** 429 secret_attempts_exhausted: the record has no try left until its window ends. */
export class SecretAttemptsExhausted extends ServiceError {
  declare readonly retryAfterSeconds: number;

  constructor(
    readonly recordId: string,
    retryAfterSeconds: number,
  ) {
    super(
      429,
      'secret_attempts_exhausted',
      `too many wrong secrets were tried against record ${recordId}; it answers none for ${retryAfterSeconds} s`,
      retryAfterSeconds,
    );
  }
}

export class SecretAttempts {
  readonly counters: SecretAbuseCounters = { wrongGuesses: 0, refused: 0, exhausted: 0 };

  constructor(
    private readonly store: SecretAttemptStore,
    readonly policy: SecretGuessPolicy,
    private readonly now: () => Date,
    private readonly log: Logger,
  ) {}

  /** The record's tries now (no try is taken). */
  async tries(recordId: string): Promise<SecretTries> {
    const row = await this.store.get(recordId);
    const nowMs = this.now().getTime();
    if (!row || this.endsAt(row) <= nowMs) return this.triesOf(this.policy.limit, null);
    const left = Math.max(0, this.policy.limit - row.failures);
    return this.triesOf(left, left > 0 ? null : this.secondsUntilEnd(row, nowMs));
  }

  /** No try left, for `retryAfterSeconds`: what a refused check shows. */
  noneLeft(retryAfterSeconds: number): SecretTries {
    return this.triesOf(0, retryAfterSeconds);
  }

  /**
   * Compares a secret for each record under its budget (ids distinct) and returns, per record,
   * whether it matched and its tries after the check. If any record has no try left, nothing is
   * compared, the tries taken for the others are given back, and it throws SecretAttemptsExhausted
   * (429 secret_attempts_exhausted, with the wait as Retry-After).
   */
  async compare(
    recordIds: readonly string[],
    matches: (recordId: string) => boolean,
  ): Promise<Map<string, { match: boolean; tries: SecretTries }>> {
    const nowMs = this.now().getTime();
    const taken = await this.store.take(
      recordIds,
      new Date(nowMs).toISOString(),
      new Date(nowMs - this.policy.windowMs).toISOString(),
      this.policy.limit,
    );
    const rows = recordIds.map((id) => ({ id, row: taken.get(id) ?? null }));
    const refused = rows.find((r) => r.row === null);
    if (refused) {
      await this.store.giveBack(rows.flatMap(({ row }) => (row ? [row] : [])));
      this.counters.refused++;
      throw await this.exhausted(refused.id, nowMs);
    }
    const granted = rows.map(({ id, row }) => ({ id, row: row! }));
    const out = new Map<string, { match: boolean; tries: SecretTries }>();
    const right: SecretAttemptRow[] = [];
    try {
      for (const { id, row } of granted) {
        const match = matches(id);
        if (match) right.push(row);
        const left = this.policy.limit - row.failures + (match ? 1 : 0);
        out.set(id, { match, tries: this.triesOf(left, left > 0 ? null : this.secondsUntilEnd(row, nowMs)) });
      }
    } catch (err) {
      // Nothing was judged: a comparison that could not run costs no try.
      await this.store.giveBack(granted.map(({ row }) => row));
      throw err;
    }
    await this.store.giveBack(right);
    for (const { id, row } of granted) {
      const { match, tries } = out.get(id)!;
      if (match) continue;
      this.counters.wrongGuesses++;
      if (tries.left === 0) {
        this.counters.exhausted++;
        this.log.warn(
          {
            recordId: id,
            wrongSecrets: row.failures,
            windowStart: row.window_start,
            retryAfterSeconds: tries.retryAfterSeconds,
          },
          'secret checks exhausted: this record answers no secret until its window ends',
        );
      }
    }
    return out;
  }

  /** The 429 for a record with no try left, with the wait until its window ends. */
  private async exhausted(recordId: string, nowMs: number): Promise<SecretAttemptsExhausted> {
    const row = await this.store.get(recordId);
    return new SecretAttemptsExhausted(recordId, row ? this.secondsUntilEnd(row, nowMs) : 1);
  }

  private triesOf(left: number, retryAfterSeconds: number | null): SecretTries {
    const { limit, windowMs } = this.policy;
    return { left, retryAfterSeconds, limit, windowSeconds: windowMs / 1000 };
  }

  private endsAt(row: SecretAttemptRow): number {
    return Date.parse(row.window_start) + this.policy.windowMs;
  }

  /** Whole seconds until the row's window ends, at least 1. */
  private secondsUntilEnd(row: SecretAttemptRow, nowMs: number): number {
    return Math.max(1, Math.ceil((this.endsAt(row) - nowMs) / 1000));
  }
}
