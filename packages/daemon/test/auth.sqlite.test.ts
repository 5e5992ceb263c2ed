import { runAuthSuite } from './auth-suite.js';

// Each auth server gets its own data dir, so the default sqlite storage is a new cluster.
runAuthSuite('sqlite', async () => ({ type: 'sqlite' }));
