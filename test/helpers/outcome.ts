/** How a service call settled, as one comparable string: the fast service tests' refusal checks. */
import { ServiceError } from '../../src/service/errors.ts';

/** 'ok', or the ServiceError's status and code ('409 lifecycle_violation'); anything else rethrows. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (!(err instanceof ServiceError)) throw err;
    return `${err.statusCode} ${err.code}`;
  }
}
