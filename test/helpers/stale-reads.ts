/**
 * Races on the memory store. MemoryStorage runs one unit of work at a time, so two requests never
 * interleave there; on a database they do: a transaction reads, another one commits, and the first
 * then writes on what it read. StaleReadStorage replays that interleaving deterministically: the test
 * captures what a read answered before the rival committed, lets the rival commit, and arms that
 * answer for the next transaction's call of the read. The rest of that transaction runs on the
 * current store, where its write meets the rival's rows as it would on PostgreSQL.
 */
import type { StoreOperation } from '../../src/storage/memory/faults.ts';
import type { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import type { Storage, Stores } from '../../src/storage/storage.ts';

/** What a store method resolves to, by its 'store.method' name. */
export type ReadAnswer<Op extends StoreOperation> = Op extends `${infer S extends keyof Stores}.${infer M}`
  ? M extends keyof Stores[S]
    ? Stores[S][M] extends (...args: never[]) => Promise<infer R>
      ? R
      : never
    : never
  : never;

/** Every store, so the wrapper cannot miss one: a new store fails to compile here until listed. */
const STORE_NAMES = Object.keys({
  merchants: true,
  records: true,
  events: true,
  batches: true,
  scans: true,
  leases: true,
  secretAttempts: true,
  webhooks: true,
  directory: true,
  uniqueKeys: true,
  afterSale: true,
} satisfies Record<keyof Stores, true>) as Array<keyof Stores>;

// The stores are the inner storage's, defined in the constructor (declaration merging types them).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface StaleReadStorage extends Stores {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class StaleReadStorage implements Storage {
  readonly kind = 'memory';
  readonly location = 'memory (stale reads)';
  private readonly armed = new Map<StoreOperation, unknown[]>();

  constructor(readonly inner: MemoryStorage) {
    for (const name of STORE_NAMES) Object.defineProperty(this, name, { get: () => inner[name] });
  }

  purgeOverwritten(): Promise<void> {
    return this.inner.purgeOverwritten();
  }

  /**
   * The next call of `operation` inside a transaction answers `answer` (what it read before a rival
   * committed) instead of reading. Arming it again queues another answer for the call after that.
   */
  answerNext<Op extends StoreOperation>(operation: Op, answer: ReadAnswer<Op>): void {
    this.armed.set(operation, [...(this.armed.get(operation) ?? []), answer]);
  }

  /** Answers armed and not yet given: a test checks that each one was used. */
  pending(): number {
    return [...this.armed.values()].reduce((n, answers) => n + answers.length, 0);
  }

  transaction<T>(work: (tx: Stores) => Promise<T>): Promise<T> {
    return this.inner.transaction((tx) => work(this.stale(tx)));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** `tx` with each armed read answering from its queue while it lasts. */
  private stale(tx: Stores): Stores {
    const out = { ...tx } as unknown as Record<keyof Stores, Record<string, unknown>>;
    for (const operation of this.armed.keys()) {
      const [store, method] = operation.split('.') as [keyof Stores, string];
      const real = out[store][method] as (...args: unknown[]) => Promise<unknown>;
      out[store] = {
        ...out[store],
        [method]: async (...args: unknown[]) => {
          const answers = this.armed.get(operation);
          if (!answers?.length) return real(...args);
          const answer = answers.shift();
          if (answers.length === 0) this.armed.delete(operation);
          return answer;
        },
      };
    }
    return out as unknown as Stores;
  }
}
