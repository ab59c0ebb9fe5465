// The page's stores call the bridge through `settle`: a bridge that throws (a dropped HTTP
// connection, a bug) still yields a Result for the page, never an exception.
import type { Result } from '../../../shared/contract';

export async function settle<T>(call: () => Promise<Result<T>>): Promise<Result<T>> {
  try {
    return await call();
  } catch (error) {
    const detail = error instanceof Error && error.message ? `: ${error.message}` : '';
    return { ok: false, error: { code: 'internal', message: `The app did not answer${detail}` } };
  }
}
