import { NotImplementedError } from '../../errors/index.js';
import type { Clock } from '../../clock/index.js';
import type { Backend } from '../types.js';

export async function openCockroachBackend(_options: {
  connString: string;
  changeFeedConnString?: string | undefined;
  ttlJobCron?: string | undefined;
  clock?: Clock;
}): Promise<Backend> {
  throw new NotImplementedError('cockroachdb backend is not implemented yet');
}
