import { NotImplementedError } from '../../errors/index.js';
import type { Clock } from '../../clock/index.js';
import type { Backend } from '../types.js';

export async function openPostgresBackend(_options: { connString: string; changeFeedConnString?: string | undefined; clock?: Clock }): Promise<Backend> {
  throw new NotImplementedError('postgres backend is not implemented yet');
}
