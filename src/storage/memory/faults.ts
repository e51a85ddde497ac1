/**
 * Failure hooks for tests, after Sunlight's failLockAndNotPersist / failLockButPersist: arm a
 * failure for the next call of one store method (or the next transaction commit) and the memory
 * store makes it fail in one of the two ways a real database can fail a write:
 *
 * - 'before-persist': the call throws and writes nothing (the database refused or was unreachable).
 * - 'after-persist': the write happens, then the call throws, so the caller believes it failed
 *   though it took effect (the connection dropped after the commit).
 *
 * For a plain call, "persisted" means durable. Inside a transaction a store method's write joins the
 * transaction: an 'after-persist' failure applies the write and throws, and like any failed call it
 * aborts the transaction, so the write is rolled back with the rest. To make a whole transaction
 * durable and still fail, arm 'commit' with 'after-persist'; 'commit' with 'before-persist' rolls
 * it back. Every injected failure is an InjectedStorageFailure.
 *
 *   storage.faults.failNext('batches.transition', 'after-persist');
 *   await expect(anchorer.tick()).rejects.toThrow(InjectedStorageFailure);
 */
import type { Stores } from '../storage.ts';

/** A store method, as 'store.method' ('batches.transition', 'events.insertMany', ...). */
export type StoreOperation = {
  [S in keyof Stores]: `${S}.${keyof Stores[S] & string}`;
}[keyof Stores];

/** What a failure hook can fail: a store method, or 'commit' for the end of a whole transaction. */
export type FaultOperation = StoreOperation | 'commit';

export type FaultTiming = 'before-persist' | 'after-persist';

export class InjectedStorageFailure extends Error {
  override name = 'InjectedStorageFailure';

  constructor(
    readonly operation: FaultOperation,
    readonly when: FaultTiming,
  ) {
    super(`injected storage failure: ${operation} ${when}`);
  }
}

export class FaultPlan {
  private readonly armed = new Map<FaultOperation, FaultTiming[]>();

  /**
   * Makes the next call of `operation` fail `when`. Arming the same operation again queues another
   * failure for the call after that; each call takes one.
   */
  failNext(operation: FaultOperation, when: FaultTiming): void {
    const queue = this.armed.get(operation) ?? [];
    queue.push(when);
    this.armed.set(operation, queue);
  }

  /** Failures armed and not yet taken, by operation: a test can check that each one fired. */
  pending(): Map<FaultOperation, readonly FaultTiming[]> {
    return new Map([...this.armed].map(([operation, queue]) => [operation, [...queue]]));
  }

  /** Disarms every failure. */
  clear(): void {
    this.armed.clear();
  }

  /** The failure armed for this call of `operation`, taken off its queue. */
  take(operation: FaultOperation): FaultTiming | undefined {
    const queue = this.armed.get(operation);
    const when = queue?.shift();
    if (queue?.length === 0) this.armed.delete(operation);
    return when;
  }
}
