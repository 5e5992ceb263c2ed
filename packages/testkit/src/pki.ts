import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files written by {@link makeTestPki}. */
export interface TestPki {
  caCert: string;
  caKey: string;
  /** For `localhost` and `127.0.0.1` (subjectAltName). */
  serverCert: string;
  serverKey: string;
  /** CN = `clientCommonName`. */
  clientCert: string;
  clientKey: string;
}

/** Options of {@link makeTestPki}. */
export interface MakeTestPkiOptions {
  /** Common name of the client certificate (PostgreSQL `cert` auth maps it to the role). Default `client`. */
  clientCommonName?: string;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
}

async function newKey(path: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  // libpq refuses a client key readable by group or others.
  await chmod(path, 0o600);
}

/**
 * Creates a throwaway CA, a server certificate for `localhost`/`127.0.0.1` and a client certificate, all
 * ECDSA P-256 and valid for one day, in `dir` (created if needed), using the `openssl` CLI. For harness tests;
 * product code issues certificates with the project's own CA.
 *
 * @example
 * ```ts
 * const pki = await makeTestPki(dir, { clientCommonName: 'alice' });
 * await startPostgres({ tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert } });
 * ```
 */
export async function makeTestPki(dir: string, options: MakeTestPkiOptions = {}): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const pki: TestPki = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };

  await newKey(pki.caKey);
  await openssl([
    'req', '-x509', '-new', '-key', pki.caKey, '-subj', '/CN=teleport-ts test CA', '-days', '1',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', pki.caCert,
  ]);

  const issue = async (name: 'server' | 'client', subject: string, extensions: string[]) => {
    const key = p(`${name}.key`);
    const csr = p(`${name}.csr`);
    const ext = p(`${name}.ext`);
    await newKey(key);
    await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
    await writeFile(ext, `${['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions].join('\n')}\n`);
    await openssl([
      'x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial',
      '-days', '1', '-extfile', ext, '-out', p(`${name}.crt`),
    ]);
  };

  await issue('server', '/CN=localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth']);
  const cn = options.clientCommonName ?? 'client';
  await issue('client', `/CN=${cn.replace(/[/\\=+,]/g, '\\$&')}`, ['extendedKeyUsage=clientAuth']);
  return pki;
}
