/**
 * Certificates for agentless OpenSSH nodes (Teleport's `GenerateOpenSSHCert`): the proxy, which terminates the
 * user's SSH connection in front of such a node, logs in to its `sshd` with a short-lived user certificate signed by
 * the `openssh` CA, the one `tctl auth export --type=openssh` prints for `TrustedUserCAKeys`. The proxy proves whom
 * it acts for with the user's own SSH certificate (from the user CA, valid now, listing the login), so it cannot mint
 * a certificate for a user who did not log in through it.
 */

import type { OpenSshUserCert } from '@teleport-ts/core/api';
import { formatSshCertificate, issueSshUserCert, sshSigningKeyPair, sshUserIdentity, trustedSshKeys, verifySshCert } from '@teleport-ts/core/ca';
import { AccessDeniedError, isTeleportError } from '@teleport-ts/core/errors';
import { actorName, requireSystemRole, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { assertNotLocked } from './locks.js';
import { OpenSshCertBody, parseBody } from './requests.js';

/** The certificate only logs in (sshd checks validity at authentication): a few minutes are enough. */
const OPENSSH_CERT_TTL_MS = 5 * 60_000;

/**
 * `POST /v1/certs/openssh` (Proxy only): a user certificate from the `openssh` CA for one login, for the user the
 * given user certificate names. Audited as `cert.create` with `cert_type: openssh`.
 */
export async function generateOpenSshCert(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<OpenSshUserCert> {
  const actor = requireSystemRole(caller, 'Proxy');
  const body = parseBody(OpenSshCertBody, rawBody);
  const [userCa, opensshCa] = await Promise.all([ctx.certAuthority('user'), ctx.certAuthority('openssh')]);
  let certificate;
  try {
    certificate = verifySshCert(body.userCert, { trustedCaKeys: trustedSshKeys(userCa), certType: 'user', principal: body.login, clock: ctx.clock }).certificate;
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    throw new AccessDeniedError(`access denied: the user certificate cannot be used: ${err.message}`, { code: 'ERR_TP_SSH_DENIED' });
  }
  const identity = sshUserIdentity(certificate);
  await assertNotLocked(ctx, { user: identity.username, roles: identity.roles, logins: [body.login] });
  // Never past the user's own certificate (the openssh CA has SSH keys only, which do not expire).
  const expires = new Date(Math.min(Number(certificate.validBefore) * 1000, ctx.clock.now().getTime() + OPENSSH_CERT_TTL_MS));
  const cert = await issueSshUserCert({
    ca: sshSigningKeyPair(opensshCa).private_key,
    publicKey: body.sshPublicKey,
    username: identity.username,
    logins: [body.login],
    roles: identity.roles,
    traits: identity.traits,
    routeToCluster: ctx.clusterName,
    expires,
    clock: ctx.clock,
    permitPty: identity.permitPty,
    permitPortForwarding: identity.permitPortForwarding,
    permitAgentForwarding: identity.permitAgentForwarding,
  });
  await ctx.emit('certificateCreate', {
    user: actorName(actor),
    cert_type: 'openssh',
    identity: { user: identity.username, roles: identity.roles, logins: [body.login], expires: expires.toISOString() },
  });
  return { sshCert: formatSshCertificate(cert) };
}
