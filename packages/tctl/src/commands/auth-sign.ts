/**
 * `tctl auth sign`: a key is generated here and only its public half goes to the auth server, which signs it.
 * Formats, as Teleport's `identityfile` writes them:
 *
 * - `db` (and `tls` with `--host`): `<out>.key`, `<out>.crt` (signed by the `db` CA), `<out>.cas` (the
 *   `db_client` CA, which the database trusts for client certificates). RSA-2048, as Teleport uses for databases.
 * - `cockroachdb`: the directory `<out>/` with `node.crt` (CN `node`), `node.key`, `ca.crt` (`db` CA) and
 *   `ca-client.crt` (`db_client` CA), the names `cockroach start --certs-dir` expects.
 * - `openssh`: `<out>` (OpenSSH private key) and `<out>-cert.pub`: a user certificate with `--user`, a host certificate
 *   for the `--host` names (signed by the host CA, for an OpenSSH server) with `--host`.
 * - `tls` with `--user`: `<out>.key`, `<out>.crt` (user certificate), `<out>.cas` (host CA).
 * - `file` (the default): one identity file with the key, the SSH and TLS certificates and the host CA.
 */

import { createPrivateKey } from 'node:crypto';
import path from 'node:path';
import { generateKeyPair, hostCaLine, toOpenSshPrivateKey, type KeyAlgorithm, type KeyPairPem } from '@teleport-ts/core/ca';
import { BadParameterError } from '@teleport-ts/core/errors';
import { parseTtl } from '@teleport-ts/core/types';
import type { TctlApi } from '../api.js';
import type { TctlCommand } from '../command.js';
import { writeOutputFiles, type OutputFile } from '../files.js';

const name = 'auth sign';
const help = 'Create an identity file(s) for a given user.';

const SIGN_FORMATS = ['file', 'openssh', 'tls', 'db', 'cockroachdb'] as const;
type SignFormat = (typeof SIGN_FORMATS)[number];

/** Teleport's `apidefaults.CertDuration`. */
const DEFAULT_SIGN_TTL = '12h';

export interface SignOptions {
  user?: string;
  host?: string;
  out: string;
  format?: string;
  ttl?: string;
  overwrite?: boolean;
}

export interface SignResult {
  format: SignFormat;
  /** `--out` as given: the templates print it. */
  output: string;
  files: string[];
  /** What was signed; the next step printed depends on it (configure the database, or sshd). */
  subject: 'database' | 'host' | 'user';
}

export type SignApi = Pick<TctlApi, 'ping' | 'generateDatabaseCert' | 'generateUserCerts' | 'generateHostCert'>;

/** Key generation, injectable so tests can be fast. */
export type KeyGenerator = (algorithm: KeyAlgorithm) => Promise<KeyPairPem>;

function parseSignFormat(format: string | undefined): SignFormat {
  const f = (format ?? 'file').toLowerCase();
  if (!(SIGN_FORMATS as readonly string[]).includes(f)) {
    throw new BadParameterError(`unsupported --format ${JSON.stringify(format)}, use one of: ${SIGN_FORMATS.join(', ')}`);
  }
  return f as SignFormat;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** RSA keys as PKCS#1 (`RSA PRIVATE KEY`), EC keys as SEC1 (`EC PRIVATE KEY`): what every database and OpenSSH read. */
function traditionalKeyPem(privateKeyPem: string): string {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs1', format: 'pem' }) as string;
  if (key.asymmetricKeyType === 'ec') return key.export({ type: 'sec1', format: 'pem' }) as string;
  return privateKeyPem;
}

interface CheckedSignOptions {
  format: SignFormat;
  ttlMs: number;
  out: string;
  hosts: string[];
  /** A database server certificate (`db`, `cockroachdb`, or `tls` for hosts). */
  database: boolean;
}

/** Everything that can be checked without the auth server; the CLI runs it before connecting. */
export function checkOptions(options: SignOptions): CheckedSignOptions {
  const format = parseSignFormat(options.format);
  const ttlMs = parseTtl(options.ttl ?? DEFAULT_SIGN_TTL);
  if (!options.out) throw new BadParameterError('required flag --out not provided');
  const hosts = splitList(options.host);
  const database = format === 'db' || format === 'cockroachdb' || (format === 'tls' && !options.user);
  if (database) {
    if (hosts.length === 0) throw new BadParameterError('at least one hostname must be specified via --host flag');
  } else {
    if (options.user && options.host) throw new BadParameterError('--user or --host must be specified, not both');
    if (!options.user && !options.host) throw new BadParameterError('--user or --host must be specified');
    if (options.host && format !== 'openssh') throw new BadParameterError(`invalid --format flag "${format}", only "openssh" is supported with --host`);
  }
  return { format, ttlMs, out: options.out, hosts, database };
}

export async function handler(api: SignApi, options: SignOptions, generate: KeyGenerator = generateKeyPair): Promise<SignResult> {
  const { format, ttlMs, out, hosts, database } = checkOptions(options);
  const overwrite = options.overwrite === true;

  if (database) {
    const keys = await generate('rsa-2048');
    const principals = format === 'cockroachdb' ? ['node', ...hosts.filter((h) => h !== 'node')] : hosts;
    // Both extended key usages, as Teleport's tlsca issues them: CockroachDB nodes also dial each other with node.crt.
    const signed = await api.generateDatabaseCert({ publicKey: keys.publicKeyPem, hosts: principals, ttl: ttlMs, clientAuth: true });
    const key = traditionalKeyPem(keys.privateKeyPem);
    const cas = signed.caCerts.map(withNewline).join('');
    const clientCas = signed.clientCaCerts.map(withNewline).join('');
    const files: OutputFile[] =
      format === 'cockroachdb'
        ? [
            { path: path.join(out, 'node.crt'), data: withNewline(signed.cert) },
            { path: path.join(out, 'node.key'), data: key },
            { path: path.join(out, 'ca.crt'), data: cas },
            { path: path.join(out, 'ca-client.crt'), data: clientCas },
          ]
        : [
            { path: `${out}.key`, data: key },
            { path: `${out}.crt`, data: withNewline(signed.cert) },
            { path: `${out}.cas`, data: clientCas },
          ];
    return { format, output: out, files: await writeOutputFiles(files, { overwrite }), subject: 'database' };
  }

  if (options.host) {
    // An OpenSSH server's host key: ed25519, as the balanced-v1 suite's SSH host keys.
    const keys = await generate('ed25519');
    const signed = await api.generateHostCert({ sshPublicKey: keys.sshPublicKey, principals: hosts, ttl: ttlMs });
    const files: OutputFile[] = [
      { path: out, data: toOpenSshPrivateKey(keys.privateKeyPem) },
      { path: `${out}-cert.pub`, data: withNewline(signed.sshCert) },
    ];
    return { format, output: out, files: await writeOutputFiles(files, { overwrite }), subject: 'host' };
  }

  const user = options.user!;
  const { clusterName } = await api.ping();
  // One key for both certificates: ECDSA P-256 works for SSH and TLS (identity files hold a single key);
  // an OpenSSH key pair follows the ssh-user suite.
  const keys = await generate(format === 'openssh' ? 'ed25519' : 'ecdsa-p256');
  const certs = await api.generateUserCerts({ user, sshPublicKey: keys.sshPublicKey, tlsPublicKey: keys.publicKeyPem, ttl: ttlMs });
  let files: OutputFile[];
  switch (format) {
    case 'openssh':
      files = [
        { path: out, data: toOpenSshPrivateKey(keys.privateKeyPem, user) },
        { path: `${out}-cert.pub`, data: withNewline(certs.sshCert) },
      ];
      break;
    case 'tls':
      files = [
        { path: `${out}.key`, data: traditionalKeyPem(keys.privateKeyPem) },
        { path: `${out}.crt`, data: withNewline(certs.tlsCert) },
        { path: `${out}.cas`, data: certs.tlsCaCerts.map(withNewline).join('') },
      ];
      break;
    default: {
      // Teleport's identity file: key, SSH certificate, TLS certificate, then the host CA as known_hosts
      // lines and as PEM.
      const identity =
        withNewline(traditionalKeyPem(keys.privateKeyPem)) +
        withNewline(certs.sshCert) +
        withNewline(certs.tlsCert) +
        certs.sshCaKeys.map((k) => hostCaLine(clusterName, k)).join('') +
        certs.tlsCaCerts.map(withNewline).join('');
      files = [{ path: out, data: identity }];
    }
  }
  return { format, output: out, files: await writeOutputFiles(files, { overwrite }), subject: 'user' };
}

/**
 * The next step: for databases as Teleport prints it; for a host certificate the sshd_config lines of Teleport's
 * OpenSSH guide; for users the files.
 */
export function render(result: SignResult): string {
  const files = result.files.join(', ');
  if (result.format === 'cockroachdb') {
    return `Database credentials have been written to ${files}.

To enable mutual TLS on your CockroachDB server, point it to the certs
directory using --certs-dir flag:

cockroach start \\
  --certs-dir=${result.output} \\
  # other flags...
`;
  }
  if (result.subject === 'host') {
    const name = path.basename(result.output);
    return `
The credentials have been written to ${files}

To use them with OpenSSH, copy both files to /etc/ssh/ on the host and add the following to its sshd_config:

HostKey /etc/ssh/${name}
HostCertificate /etc/ssh/${name}-cert.pub

then restart sshd. Clients trust the certificate with the @cert-authority line of "tctl auth export --type=host"
in their known_hosts file.
`;
  }
  if (result.subject === 'database') {
    const o = result.output;
    return `Database credentials have been written to ${files}.

To enable mutual TLS on your PostgreSQL server, add the following to its postgresql.conf configuration file:

ssl = on
ssl_cert_file = '/path/to/${o}.crt'
ssl_key_file = '/path/to/${o}.key'
ssl_ca_file = '/path/to/${o}.cas'

and require client certificates in its pg_hba.conf:

hostssl all             all             ::/0                    cert
hostssl all             all             0.0.0.0/0               cert
`;
  }
  return `\nThe credentials have been written to ${files}\n`;
}

/** `tctl auth sign --out <path> [--user <user> | --host <hosts>] [--format <format>]`. */
export const authSignCommand: TctlCommand<SignOptions, SignResult> = {
  name,
  help,
  options: [
    { flags: '--user <user>', description: 'Teleport user name.' },
    { flags: '--host <hosts>', description: 'Teleport host name(s), comma-separated.' },
    { flags: '-o, --out <path>', description: 'Identity output.' },
    { flags: '--format <format>', description: `Identity format: ${SIGN_FORMATS.join(', ')}. file is the default.`, default: 'file' },
    { flags: '--ttl <duration>', description: 'TTL (time to live) for the generated certificate.', default: DEFAULT_SIGN_TTL },
    { flags: '--overwrite', description: 'Whether to overwrite existing destination files.', default: false },
  ],
  handler: async ({ opts }, ctx) => {
    checkOptions(opts);
    return handler(await ctx.api(), opts);
  },
  render: (result) => render(result),
};
