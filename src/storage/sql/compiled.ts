/**
 * Queries on the hottest read paths (the verdict, the record page, the proofs), compiled once per
 * database and run with new parameters. Kysely builds and compiles a query on every call; on the
 * verify and proofs routes that cost as much as running it. The builder still writes the SQL, so
 * both dialects keep one definition.
 */
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.ts';

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
}
