/** The node role: the SSH node service. See `./service.ts`. */
export { startNodeService, type NodeService } from './service.js';
