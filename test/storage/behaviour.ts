/**
 * The storage behaviour suite: every promise the doc comments of src/storage/storage.ts make, checked
 * against one backend. Each backend's test file runs it (memory.test.ts, sql.test.ts), so the
 * backends cannot drift apart. Written from the contracts alone: a backend that needs a change here
 * to pass has found an ambiguity in storage.ts, to be settled there.
 *
 * `open` is called before every test and must return an empty storage; `close` (default: the
 * storage's own close) after it.
 */
import { afterEach, beforeEach, describe } from 'vitest';
import type { Storage } from '../../src/storage/storage.ts';
import { afterSaleBehaviour } from './behaviour/after-sale.ts';
import { batchBehaviour } from './behaviour/batches.ts';
import { copyBehaviour } from './behaviour/copies.ts';
import { directoryBehaviour } from './behaviour/directory.ts';
import { eventBehaviour } from './behaviour/events.ts';
import { leaseBehaviour } from './behaviour/leases.ts';
import { merchantBehaviour } from './behaviour/merchants.ts';
import { recordBehaviour } from './behaviour/records.ts';
import { scanBehaviour } from './behaviour/scans.ts';
import { secretAttemptBehaviour } from './behaviour/secret-attempts.ts';
import { sealBehaviour } from './behaviour/seals.ts';
import { transactionBehaviour } from './behaviour/transactions.ts';
import { uniqueKeyBehaviour } from './behaviour/unique-keys.ts';
import { webhookBehaviour } from './behaviour/webhooks.ts';

export function describeStorageBehaviour(
  name: string,
  open: () => Promise<Storage>,
  close: (storage: Storage) => Promise<void> = (storage) => storage.close(),
): void {
  describe(`storage behaviour: ${name}`, () => {
    let opened: Storage | undefined;
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(async () => {
      if (opened) await close(opened);
      opened = undefined;
    });
    const storage = (): Storage => {
      if (!opened) throw new Error('no storage is open');
      return opened;
    };

    describe('merchants', () => merchantBehaviour(storage));
    describe('records', () => recordBehaviour(storage));
    describe('events', () => eventBehaviour(storage));
    describe('batches', () => batchBehaviour(storage));
    describe('seals in steps', () => sealBehaviour(storage));
    describe('scans', () => scanBehaviour(storage));
    describe('leases', () => leaseBehaviour(storage));
    describe('secret attempts', () => secretAttemptBehaviour(storage));
    describe('webhooks', () => webhookBehaviour(storage));
    describe('directory', () => directoryBehaviour(storage));
    describe('unique keys', () => uniqueKeyBehaviour(storage));
    describe('after sale', () => afterSaleBehaviour(storage));
    describe('transactions', () => transactionBehaviour(storage));
    describe('rows are copies', () => copyBehaviour(storage));
  });
}
