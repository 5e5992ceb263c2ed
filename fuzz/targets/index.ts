/** Every fuzz target, in the order `pnpm fuzz` runs them. */

import type { Target } from '../harness.js';
import { apiBody } from './api.js';
import { tlsClientHello } from './clienthello.js';
import { derCertificate, derPublicKey } from './der.js';
import { pgBackend, pgFrontend, pgStartup } from './postgres.js';
import { sftpAudit } from './sftp.js';
import { sshCertificate, sshKeyLine, sshPublicKey } from './ssh.js';
import { yamlConfig, yamlResource } from './yaml.js';

export const TARGETS: readonly Target[] = [
  pgStartup,
  pgFrontend,
  pgBackend,
  tlsClientHello,
  sshPublicKey,
  sshKeyLine,
  sshCertificate,
  sftpAudit,
  derPublicKey,
  derCertificate,
  apiBody,
  yamlConfig,
  yamlResource,
] as readonly Target[];
