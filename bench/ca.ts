/**
 * `pnpm bench ca`: user certificate pairs (SSH + TLS, what a login issues) and database client certificates
 * issued per second, on one thread, with pre-generated subject keys. Baseline, measured in the same run: the
 * raw signatures alone (one Ed25519 + one ECDSA P-256 signature per pair; one RSA-2048 signature per db client
 * cert) over a certificate-sized payload with node:crypto — the floor any implementation pays.
 */
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import {
  generateKeyPair,
  issueDatabaseClientCert,
  issueSshUserCert,
  issueUserCert,
  newCertAuthority,
  sshSigningKeyPair,
  tlsSigningKeyPair,
} from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { rate as loopRate } from './_common.js';
import { machineLine, markdownTable, writeSection, type Row } from './_report.js';

const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const KEYS = 200;

/** Calls of `op` per second, one after the other for DURATION_MS. */
const rate = (op: (i: number) => Promise<unknown> | unknown): Promise<number> => loopRate(1, DURATION_MS, (_, i) => op(i));

async function main(): Promise<void> {
  const clock = systemClock;
  const userCa = await newCertAuthority({ clusterName: 'bench.example.com', type: 'user', clock });
  const dbClientCa = await newCertAuthority({ clusterName: 'bench.example.com', type: 'db_client', clock });
  const tlsCa = tlsSigningKeyPair(userCa);
  const sshCa = sshSigningKeyPair(userCa);
  const dbCa = tlsSigningKeyPair(dbClientCa);
  const sshKeys = await Promise.all(Array.from({ length: KEYS }, () => generateKeyPair('ed25519')));
  const tlsKeys = await Promise.all(Array.from({ length: KEYS }, () => generateKeyPair('ecdsa-p256')));
  const dbKeys = await Promise.all(Array.from({ length: 20 }, () => generateKeyPair('rsa-2048')));
  const expires = (): Date => new Date(clock.now().getTime() + 12 * 3600_000);

  const pair = async (i: number): Promise<void> => {
    const identity = { username: `user${i}`, roles: ['access'], logins: ['root', `user${i}`], traits: { db_users: ['*'] }, expires: expires() };
    await issueSshUserCert({
      ca: sshCa.private_key,
      publicKey: sshKeys[i % KEYS]!.sshPublicKey,
      username: identity.username,
      logins: identity.logins,
      roles: identity.roles,
      traits: identity.traits,
      expires: identity.expires,
      clock,
    });
    await issueUserCert({ ca: tlsCa, publicKey: tlsKeys[i % KEYS]!.publicKeyPem, identity, clock });
  };
  const dbClient = async (i: number): Promise<void> => {
    await issueDatabaseClientCert({ ca: dbCa, publicKey: dbKeys[i % dbKeys.length]!.publicKeyPem, dbUser: `user${i}`, expires: expires(), clock });
  };

  // Baseline: the signatures alone, with keys of the same algorithms as the CAs'.
  const ed = createPrivateKey((await generateKeyPair('ed25519')).privateKeyPem);
  const ec = createPrivateKey((await generateKeyPair('ecdsa-p256')).privateKeyPem);
  const rsa = createPrivateKey((await generateKeyPair('rsa-2048')).privateKeyPem);
  const payload = randomBytes(700);
  const rawPair = (): void => {
    sign(null, payload, ed);
    sign('sha256', payload, ec);
  };
  const rawRsa = (): void => {
    sign('sha256', payload, rsa);
  };

  await rate(pair); // warm-up
  const rows: Row[] = [];
  const measures: [string, (i: number) => Promise<unknown> | unknown, (i: number) => Promise<unknown> | unknown][] = [
    ['user cert pairs (SSH + TLS)/s', pair, rawPair],
    ['db client certs/s', dbClient, rawRsa],
  ];
  for (const [name, ours, raw] of measures) {
    const base = await rate(raw);
    const got = await rate(ours);
    rows.push({
      operation: name,
      'teleport-ts': Math.round(got).toLocaleString('en-US'),
      'raw signatures baseline': Math.round(base).toLocaleString('en-US'),
      ratio: `${(got / base).toFixed(2)}x`,
    });
    process.stdout.write(`${name}: ${Math.round(got)} (raw signatures ${Math.round(base)}, ${(got / base).toFixed(2)}x)\n`);
  }
  const body = [
    '## Certificate issuance',
    '',
    'Command: `npx -y pnpm@10 bench ca` (3 s per figure, one thread, subject keys generated beforehand).',
    `Machine: ${machineLine()}.`,
    'Pairs: an Ed25519-CA-signed SSH user certificate plus an ECDSA-P-256-CA-signed X.509 user certificate, as a login issues them.',
    'Db client certs: signed by the RSA-2048 db_client CA. Baseline: the same signatures alone with node:crypto, in the same run.',
    '',
    markdownTable(rows),
  ].join('\n');
  await writeSection('ca', body);
  process.stdout.write('written to docs/benchmarks.md\n');
}

await main();
