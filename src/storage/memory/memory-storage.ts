/**
 * The in-memory backend: every store of storage.ts over JavaScript maps, for tests that need the
 * service's and the batcher's logic without a database. It keeps the same contracts as the SQL
 * backends (test/storage/behaviour.ts runs the same suite on all of them), except durability: what
 * it holds dies with the process.
 *
 * Concurrency is the simplest the contracts allow: one unit of work at a time. A plain call or a
 * whole transaction takes the storage's lock (first come, first served), so a plain call waits for
 * a running transaction, and nothing ever sees another unit's uncommitted writes. Each unit writes
 * through an undo journal and rolls back on failure, so a failed call or transaction leaves nothing.
 *
 * Stricter than the database where a misuse would otherwise go unnoticed in a fast test:
 * - a failed call inside a transaction aborts it (as on PostgreSQL): later calls reject, and the
 *   transaction rejects with that failure even if `work` caught it and resolved;
 * - calling the storage itself (not the `tx` stores) from inside `work` rejects at once instead of
 *   waiting for the lock that `work` holds (on a one-connection SQLite that would hang);
 * - a `tx` store used after its transaction ended rejects.
 *
 * `faults` arms failures of single calls or of a commit: see faults.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  AfterSaleStore,
  BatchStore,
  DirectoryStore,
  EventStore,
  LeaseStore,
  MerchantStore,
  RecordStore,
  ScanStore,
  SecretAttemptStore,
  Storage,
  Stores,
  UniqueKeyStore,
  WebhookStore,
} from '../storage.ts';
import { MemoryAfterSaleStore } from './after-sale-store.ts';
import { MemoryBatchStore } from './batch-store.ts';
import { bindStores } from './bound-stores.ts';
import { MemoryDirectoryStore } from './directory-store.ts';
import { MemoryEventStore } from './event-store.ts';
import { FaultPlan, InjectedStorageFailure, type FaultTiming, type StoreOperation } from './faults.ts';
import { MemoryLeaseStore } from './lease-store.ts';
import { MemoryMerchantStore } from './merchant-store.ts';
import { Mutex } from './mutex.ts';
import { MemoryRecordStore } from './record-store.ts';
import { MemoryScanStore } from './scan-store.ts';
import { MemorySecretAttemptStore } from './secret-attempt-store.ts';
import { MemoryTables } from './tables.ts';
import { MemoryUniqueKeyStore } from './unique-key-store.ts';
import { MemoryWebhookStore } from './webhook-store.ts';

/** One transaction's life: whether its stores may still be used, and the failure that aborted it. */
interface TransactionState {
  open: boolean;
  aborted: { error: unknown } | null;
}

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  readonly location = 'memory';
  /** Failure hooks: `faults.failNext(operation, when)`. */
  readonly faults = new FaultPlan();

  readonly merchants: MerchantStore;
  readonly records: RecordStore;
  readonly events: EventStore;
  readonly batches: BatchStore;
  readonly scans: ScanStore;
  readonly leases: LeaseStore;
  readonly secretAttempts: SecretAttemptStore;
  readonly webhooks: WebhookStore;
  readonly directory: DirectoryStore;
  readonly uniqueKeys: UniqueKeyStore;
  readonly afterSale: AfterSaleStore;

  private readonly tables = new MemoryTables();
  private readonly stores: Stores;
  private readonly lock = new Mutex();
  /** Set while a transaction's `work` runs, to catch calls that bypass its `tx` stores. */
  private readonly insideWork = new AsyncLocalStorage<MemoryStorage>();
  private closed = false;

  constructor() {
    const t = this.tables;
    this.stores = {
      merchants: new MemoryMerchantStore(t),
      records: new MemoryRecordStore(t),
      events: new MemoryEventStore(t),
      batches: new MemoryBatchStore(t),
      scans: new MemoryScanStore(t),
      leases: new MemoryLeaseStore(t),
      secretAttempts: new MemorySecretAttemptStore(t),
      webhooks: new MemoryWebhookStore(t),
      directory: new MemoryDirectoryStore(t),
      uniqueKeys: new MemoryUniqueKeyStore(t),
      afterSale: new MemoryAfterSaleStore(t),
    };
    const plain = bindStores(this.stores, (operation, call) => this.runAlone(operation, call));
    this.merchants = plain.merchants;
    this.records = plain.records;
    this.events = plain.events;
    this.batches = plain.batches;
    this.scans = plain.scans;
    this.leases = plain.leases;
    this.secretAttempts = plain.secretAttempts;
    this.webhooks = plain.webhooks;
    this.directory = plain.directory;
    this.uniqueKeys = plain.uniqueKeys;
    this.afterSale = plain.afterSale;
  }

  async transaction<T>(work: (tx: Stores) => Promise<T>): Promise<T> {
    this.assertNotInsideWork('transaction');
    return this.lock.lock(async () => {
      this.assertOpen();
      const state: TransactionState = { open: true, aborted: null };
      const tx = bindStores(this.stores, (operation, call) => this.runInTransaction(state, operation, call));
      const journal = this.tables.journal;
      journal.begin();
      let result: T;
      let commitFault: FaultTiming | undefined;
      try {
        result = await this.insideWork.run(this, () => work(tx));
        // `work` caught a failed call and went on: the transaction is aborted all the same.
        if (state.aborted) throw state.aborted.error;
        commitFault = this.faults.take('commit');
        if (commitFault === 'before-persist') throw new InjectedStorageFailure('commit', commitFault);
      } catch (err) {
        journal.rollback();
        throw err;
      } finally {
        state.open = false;
      }
      journal.commit();
      if (commitFault === 'after-persist') throw new InjectedStorageFailure('commit', commitFault);
      return result;
    });
  }

  /** Nothing to do: memory has no files. Rejects once closed, like every call. */
  async purgeOverwritten(): Promise<void> {
    this.assertNotInsideWork('purgeOverwritten');
    this.assertOpen();
  }

  /** Waits for the units of work queued before it; every call after it rejects. */
  async close(): Promise<void> {
    await this.lock.lock(async () => {
      this.closed = true;
    });
  }

  /** A plain call: alone under the lock, its writes kept only if it succeeds. */
  private async runAlone(operation: StoreOperation, call: () => Promise<unknown>): Promise<unknown> {
    this.assertNotInsideWork(operation);
    return this.lock.lock(async () => {
      this.assertOpen();
      const fault = this.faults.take(operation);
      const journal = this.tables.journal;
      journal.begin();
      let result: unknown;
      try {
        if (fault === 'before-persist') throw new InjectedStorageFailure(operation, fault);
        result = await call();
      } catch (err) {
        journal.rollback();
        throw err;
      }
      journal.commit();
      if (fault === 'after-persist') throw new InjectedStorageFailure(operation, fault);
      return result;
    });
  }

  /** A call on a transaction's stores: its writes join the transaction; a failure aborts it. */
  private async runInTransaction(
    state: TransactionState,
    operation: StoreOperation,
    call: () => Promise<unknown>,
  ): Promise<unknown> {
    if (!state.open) throw new Error(`${operation}: the transaction these stores belong to has ended`);
    if (state.aborted) {
      throw new Error(`${operation}: the transaction was aborted by an earlier failed call; retry it whole`);
    }
    const fault = this.faults.take(operation);
    try {
      if (fault === 'before-persist') throw new InjectedStorageFailure(operation, fault);
      const result = await call();
      if (fault === 'after-persist') throw new InjectedStorageFailure(operation, fault);
      return result;
    } catch (err) {
      state.aborted ??= { error: err };
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the memory storage is closed');
  }

  private assertNotInsideWork(what: string): void {
    if (this.insideWork.getStore() === this) {
      throw new Error(`${what}: called on the storage inside a transaction; use the stores it gives`);
    }
  }
}
