/**
 * Queries on the hottest read paths (the verdict, the record page, the proofs), compiled once per
 * database and run with new parameters. Kysely builds and compiles a query on every call; on the
 * verify and proofs routes that cost as much as running it. The builder still writes the SQL, so
 * both dialects keep one definition.
 */
import { CompiledQuery, type Compilable, type Insertable, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Multi-row INSERTs kept compiled (one per table, columns and row count), least recently used out
 * first. Each keeps its SQL text and parameter map only (a few hundred KB at 1,000 rows), not the
 * builder's tree.
 */
const MAX_INSERTS = 32;

interface CompiledInsert {
  sql: string;
  /** Parameter i of the SQL is column columns[at[i] % n] of row floor(at[i] / n). */
  at: Uint32Array;
}

export class CompiledQueries {
  private readonly queries = new Map<string, CompiledQuery>();

  /** `root` compiles; the SQL it writes is the same for every transaction on it. */
  constructor(private readonly root: Kysely<Database>) {}

  /**
   * Runs on `db` (the root or one of its transactions) the query `build` makes, compiled once under
   * `name`. `build` receives placeholder values; `parameters` replace them in the order they appear
   * in the compiled SQL.
   */
  async run<Row>(
    db: Kysely<Database>,
    name: string,
    build: (db: Kysely<Database>) => Compilable<Row>,
    parameters: readonly unknown[],
  ): Promise<Row[]> {
    let query = this.queries.get(name) as CompiledQuery<Row> | undefined;
    if (!query) {
      query = build(this.root).compile();
      if (query.parameters.length !== parameters.length) {
        throw new Error(
          `compiled query ${name} takes ${query.parameters.length} parameters, not ${parameters.length}`,
        );
      }
      this.queries.set(name, query);
    }
    const result = await db.executeQuery<Row>({ ...query, parameters });
    return result.rows;
  }

  private readonly inserts = new Map<string, CompiledInsert>();

  /**
   * `db.insertInto(table).values(rows).execute()`, the statement built and compiled once per table,
   * columns and row count (ingest inserts 1,000 rows at a time; building them cost as much as
   * running them). Rows that do not all carry the same columns, each a text, a number or null (a
   * value the builder binds as one parameter), take the builder as before.
   */
  async insertRows<T extends keyof Database & string>(
    db: Kysely<Database>,
    table: T,
    rows: ReadonlyArray<Insertable<Database[T]>>,
  ): Promise<void> {
    const columns = Object.keys(rows[0]!);
    const uniform = rows.every((row) => {
      const values = row as Record<string, unknown>;
      return Object.keys(values).length === columns.length && columns.every((c) => isPlain(values[c]));
    });
    if (!uniform) {
      await db
        .insertInto(table)
        .values(rows as never)
        .execute();
      return;
    }
    const name = `${table}(${columns.join(',')})x${rows.length}`;
    let insert = this.inserts.get(name);
    if (insert) {
      this.inserts.delete(name);
    } else {
      // Each placeholder value is its own position in the rows, so the compiled parameters say
      // where every value goes whatever order the compiler writes them in.
      const placeholders = rows.map((_, r) =>
        Object.fromEntries(columns.map((c, i) => [c, r * columns.length + i])),
      );
      const query = this.root
        .insertInto(table)
        .values(placeholders as never)
        .compile();
      const { parameters } = query;
      if (
        parameters.length !== rows.length * columns.length ||
        parameters.some((p) => typeof p !== 'number')
      ) {
        throw new Error(`compiled insert ${name} takes ${parameters.length} parameters`);
      }
      insert = { sql: query.sql, at: Uint32Array.from(parameters as number[]) };
      if (this.inserts.size >= MAX_INSERTS) this.inserts.delete(this.inserts.keys().next().value!);
    }
    this.inserts.set(name, insert);
    const n = columns.length;
    const parameters = Array.from(
      insert.at,
      (p) => (rows[Math.floor(p / n)] as Record<string, unknown>)[columns[p % n]!],
    );
    await db.executeQuery(CompiledQuery.raw(insert.sql, parameters));
  }
}

/** A value Kysely binds as a single parameter whatever it is: a text, a number or null. */
function isPlain(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number';
}
