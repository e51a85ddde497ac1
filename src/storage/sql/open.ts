/**
 * The SQL backend: every store of src/storage/storage.ts on one Kysely database, embedded SQLite by
 * default or PostgreSQL when a DATABASE_URL is given.
 */
import type { Kysely } from 'kysely';
import type { Storage, StorageKind, Stores } from '../storage.ts';
import { SqlAfterSaleStore } from './after-sale.ts';
import { SqlBatchStore } from './batches.ts';
import { CompiledQueries } from './compiled.ts';
import type { SqlContext } from './context.ts';
import { openDatabase, type OpenDatabase } from './database.ts';
import { purgeOverwrittenSql, storageError } from './dialect.ts';
import { SqlDirectoryStore } from './directory.ts';
import { SqlEventStore } from './events.ts';
import { SqlLeaseStore } from './leases.ts';
import { SqlMerchantStore } from './merchants.ts';
import { SqlRecordStore } from './records.ts';
import { SqlScanStore } from './scans.ts';
import { SqlSecretAttemptStore } from './secret-attempts.ts';
import type { Database } from './schema.ts';
import { SqlUniqueKeyStore } from './unique-keys.ts';
import { SqlWebhookStore } from './webhooks.ts';

class SqlStores implements Stores {
  readonly merchants: SqlMerchantStore;
  readonly records: SqlRecordStore;
  readonly events: SqlEventStore;
  readonly batches: SqlBatchStore;
  readonly scans: SqlScanStore;
  readonly leases: SqlLeaseStore;
  readonly secretAttempts: SqlSecretAttemptStore;
  readonly webhooks: SqlWebhookStore;
  readonly directory: SqlDirectoryStore;
  readonly uniqueKeys: SqlUniqueKeyStore;
  readonly afterSale: SqlAfterSaleStore;

  constructor(ctx: SqlContext) {
    this.merchants = new SqlMerchantStore(ctx);
    this.records = new SqlRecordStore(ctx);
    this.events = new SqlEventStore(ctx);
    this.batches = new SqlBatchStore(ctx);
    this.scans = new SqlScanStore(ctx);
    this.leases = new SqlLeaseStore(ctx);
    this.secretAttempts = new SqlSecretAttemptStore(ctx);
    this.webhooks = new SqlWebhookStore(ctx);
    this.directory = new SqlDirectoryStore(ctx);
    this.uniqueKeys = new SqlUniqueKeyStore(ctx);
    this.afterSale = new SqlAfterSaleStore(ctx);
  }
}

export class SqlStorage extends SqlStores implements Storage {
  readonly kind: StorageKind;
  readonly location: string;
  /** The Kysely database itself: for migrations and tests' inspection only. */
  readonly db: Kysely<Database>;
  private readonly compiled: CompiledQueries;

  constructor(private readonly opened: OpenDatabase) {
    const compiled = new CompiledQueries(opened.db);
    super({ db: opened.db, compiled });
    this.compiled = compiled;
    this.db = opened.db;
    this.kind = opened.dialect;
    this.location = opened.location;
  }

  async transaction<T>(work: (tx: Stores) => Promise<T>): Promise<T> {
    try {
      return await this.db
        .transaction()
        .execute((trx) => work(new SqlStores({ db: trx, compiled: this.compiled })));
    } catch (err) {
      // A unique violation at commit, or one `work` caught and rethrew as it was.
      throw storageError(err);
    }
  }

  purgeOverwritten(): Promise<void> {
    return purgeOverwrittenSql(this.db, this.opened.dialect);
  }

  close(): Promise<void> {
    return this.opened.close();
  }
}

/** Opens (creating and migrating as needed) the database and the stores on it. */
export async function openStorage(opts: { databaseUrl?: string; dataDir: string }): Promise<SqlStorage> {
  return new SqlStorage(await openDatabase(opts));
}
