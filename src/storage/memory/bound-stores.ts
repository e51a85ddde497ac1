/**
 * The stores a caller gets: the memory stores with every method routed through a runner, which
 * decides how the call runs (alone under the storage's lock, or inside a transaction) and fires any
 * failure armed for it. One binding serves plain calls and each transaction.
 */
import type { Stores } from '../storage.ts';
import type { StoreOperation } from './faults.ts';

export type Runner = (operation: StoreOperation, call: () => Promise<unknown>) => Promise<unknown>;

export function bindStores(stores: Stores, runner: Runner): Stores {
  return {
    merchants: bindStore('merchants', stores.merchants, runner),
    records: bindStore('records', stores.records, runner),
    events: bindStore('events', stores.events, runner),
    batches: bindStore('batches', stores.batches, runner),
    scans: bindStore('scans', stores.scans, runner),
    leases: bindStore('leases', stores.leases, runner),
    secretAttempts: bindStore('secretAttempts', stores.secretAttempts, runner),
    webhooks: bindStore('webhooks', stores.webhooks, runner),
    directory: bindStore('directory', stores.directory, runner),
    uniqueKeys: bindStore('uniqueKeys', stores.uniqueKeys, runner),
    afterSale: bindStore('afterSale', stores.afterSale, runner),
  };
}

/**
 * Every method on the store's class, bound through `runner` as operation 'name.method'. The memory
 * store classes hold only their interface's methods (helpers are module functions), so this binds
 * exactly the interface.
 */
function bindStore<S extends keyof Stores>(name: S, store: Stores[S], runner: Runner): Stores[S] {
  const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const bound: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(store))) {
    if (method === 'constructor') continue;
    const operation = `${name}.${method}` as StoreOperation;
    bound[method] = (...args) => runner(operation, () => methods[method]!.apply(store, args));
  }
  return bound as unknown as Stores[S];
}
