/**
 * Queries on the hottest read paths, compiled once per database and run with new parameters.
 * Kysely builds and compiles a query on every call; on the verify and proofs routes that cost as
 * much as running it. The builder still writes the SQL, so both dialects keep one definition.
 */
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.ts';

const compiledByDb = new WeakMap<Kysely<Database>, Map<string, CompiledQuery>>();

/**
 * Runs the query `build` makes, compiled once for `db` under `name`. `build` receives placeholder
 * values; `parameters` replace them in the order they appear in the compiled SQL.
 */
export async function runCompiled<Row>(
  db: Kysely<Database>,
  name: string,
  build: (db: Kysely<Database>) => Compilable<Row>,
  parameters: readonly unknown[],
): Promise<Row[]> {
  let compiled = compiledByDb.get(db);
  if (!compiled) compiledByDb.set(db, (compiled = new Map()));
  let query = compiled.get(name) as CompiledQuery<Row> | undefined;
  if (!query) {
    query = build(db).compile();
    if (query.parameters.length !== parameters.length) {
      throw new Error(
        `compiled query ${name} takes ${query.parameters.length} parameters, not ${parameters.length}`,
      );
    }
    compiled.set(name, query);
  }
  const result = await db.executeQuery<Row>({ ...query, parameters });
  return result.rows;
}
