/**
 * The undo journal behind the memory store's atomicity. Every write to a Table records how to undo
 * itself; a unit of work (one plain call, or one whole transaction) either commits, dropping the
 * journal, or rolls back, replaying it backwards. Units never overlap (the storage's mutex sees to
 * that), so one journal serves the whole storage. Rolling back costs one closure per write, so a
 * 1,000-row insert is as cheap to undo as to do.
 */
export class Journal {
  private undo: (() => void)[] | null = null;

  /** Starts a unit of work. Throws if one is open: units are serialised, so that is a bug here. */
  begin(): void {
    if (this.undo) throw new Error('memory storage: a unit of work is already open');
    this.undo = [];
  }

  /** Remembers how to undo a write just made. Throws outside a unit: every write belongs to one. */
  record(undo: () => void): void {
    if (!this.undo) throw new Error('memory storage: a write outside a unit of work');
    this.undo.push(undo);
  }

  /** Keeps every write of the unit. */
  commit(): void {
    this.undo = null;
  }

  /** Undoes every write of the unit, newest first. */
  rollback(): void {
    const undo = this.undo ?? [];
    this.undo = null;
    for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
  }
}

/**
 * Rows by a text key, every write journaled. Rows are stored as given and never changed in place:
 * stores replace a row with a changed copy, so an undo only has to put the old object back, and
 * stores copy rows at their boundary so no caller holds an object that is stored.
 */
export class Table<R> {
  private readonly rows = new Map<string, R>();

  constructor(private readonly journal: Journal) {}

  get(key: string): R | undefined {
    return this.rows.get(key);
  }

  has(key: string): boolean {
    return this.rows.has(key);
  }

  get size(): number {
    return this.rows.size;
  }

  values(): IterableIterator<R> {
    return this.rows.values();
  }

  keys(): IterableIterator<string> {
    return this.rows.keys();
  }

  set(key: string, row: R): void {
    const had = this.rows.has(key);
    const old = this.rows.get(key);
    this.rows.set(key, row);
    this.journal.record(() => (had ? this.rows.set(key, old as R) : this.rows.delete(key)));
  }

  delete(key: string): void {
    if (!this.rows.has(key)) return;
    const old = this.rows.get(key) as R;
    this.rows.delete(key);
    this.journal.record(() => this.rows.set(key, old));
  }
}

/** The key of a row whose primary key has several columns. */
export function compositeKey(...parts: readonly (string | number)[]): string {
  return JSON.stringify(parts);
}
