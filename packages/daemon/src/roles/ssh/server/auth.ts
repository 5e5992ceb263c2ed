/**
 * Authentication of a connection: only `publickey` with an OpenSSH user certificate from the user CA (signature,
 * validity, type, the login among its principals, `source-address`), a key id, no lock in force, and the access
 * check (RBAC). A refusal is one line, sent to the client in a banner before the failure, and an audit event.
 */

import { sshUserIdentity, type SshCertificate } from '@teleport-ts/core/ca';
import { AccessDeniedError, isTeleportError } from '@teleport-ts/core/errors';
import { SSH_CERT_KEY_TYPES, verifyCertAuth } from '@teleport-ts/core/protocol/ssh';
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import { auditBase, lockSubject, type ConnectionState } from './state.js';

type Rejecting = { reject(methods?: string[], partial?: boolean, message?: string): void };

/** A refusal's text for the client and the audit log: the error's line, or a generic one for unexpected errors. */
function refusalText(err: unknown): string {
  if (isTeleportError(err) && err.kind === 'access-denied') return err.message;
  if (isTeleportError(err)) return `access denied: ${err.message}`;
  return 'access denied: internal error';
}

/** Handles one `authentication` event of a connection. */
export async function authenticate(state: ConnectionState, ctx: AuthContext): Promise<void> {
  if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
  // OpenSSH offers the bare key after its certificate: refused quietly, the certificate's refusal said why.
  if (!(SSH_CERT_KEY_TYPES as readonly string[]).includes((ctx as PublicKeyAuthContext).key.algo)) return ctx.reject(['publickey']);
  let certificate: SshCertificate | undefined;
  try {
    const pk = ctx as PublicKeyAuthContext;
    certificate = verifyCertAuth(pk, { userCaKeys: state.options.userCAs(), clock: state.clock, clientAddress: state.remoteHost });
    // A query without a signature only asks whether the key would do.
    if (pk.signature === undefined) return pk.accept();
    if (certificate.keyId === '') throw new AccessDeniedError('access denied: the certificate has no key id', { code: 'ERR_TP_SSH_DENIED' });
    const identity = sshUserIdentity(certificate);
    const user = { login: ctx.username, certificate, identity };
    state.options.locks?.assertNotLocked(lockSubject(state, user));
    const decision = await state.options.access({ certificate, identity, login: ctx.username });
    const upstream = await state.options.relay?.login({ certificate, identity, login: ctx.username });
    state.upstream?.end();
    state.upstream = upstream;
    // The node went away (sshd stopped, network): so does the user's connection.
    upstream?.once('close', () => state.connection.end());
    state.user = { ...user, decision };
    ctx.accept();
  } catch (err) {
    const message = refusalText(err);
    state.options.audit.emit('authAttemptFailure', {
      ...auditBase(state),
      user: certificate?.keyId,
      login: ctx.username,
      success: false,
      error: message,
    });
    (ctx as unknown as Rejecting).reject(['publickey'], false, message);
  }
}
