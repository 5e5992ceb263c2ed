import { NotImplementedError } from '../../errors/index.js';
import type { Clock } from '../../clock/index.js';
import type { Backend } from '../types.js';

export async function openSqliteBackend(_options: { path: string; clock?: Clock }): Promise<Backend> {
  throw new NotImplementedError('sqlite backend is not implemented yet');
}
