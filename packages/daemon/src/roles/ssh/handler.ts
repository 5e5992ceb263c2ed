/** Who serves the SSH bytes that reach a node (from its reverse tunnel or its direct listener). */

import type { Duplex } from 'node:stream';

/** The node's SSH server as the node sees it: it takes raw SSH byte streams (`./server/`'s `NodeSshServer`). */
export interface SshStreamHandler {
  handle(stream: Duplex, remoteAddr: string): void;
  /** The node's SSH host certificate was renewed: new connections get it, running ones keep theirs. */
  renewHostCert?(hostKey: string, hostCert: string): void;
  /** A CA rotation moved: read the user CA keys again now. */
  refreshTrust?(): void;
  close(): Promise<void>;
}
