/**
 * What tctl needs from the auth API: the typed client of `@teleport-ts/core/api`. Each command names the
 * methods it calls (`Pick<TctlApi, ...>`), so its handler can be tested against a small fake.
 */

import type { AuthClient } from '@teleport-ts/core/api';

export type TctlApi = AuthClient;

export type {
  
  
  
  UserTokenInfo,
} from '@teleport-ts/core/api';
