import { NotImplementedError } from '../../errors/index.js';
import type { Clock } from '../../clock/index.js';
import type { Backend } from '../types.js';

export function newMemoryBackend(_options: { clock?: Clock } = {}): Backend {
  throw new NotImplementedError('memory backend is not implemented yet');
}
