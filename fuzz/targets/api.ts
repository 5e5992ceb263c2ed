/** The auth API's request bodies: the router's JSON read, then every route's valibot schema. */

import * as fc from 'fast-check';
import { BadParameterError, isTeleportError } from '../../packages/core/src/errors/index.js';
import * as requests from '../../packages/daemon/src/roles/auth/requests.js';
import type { Target } from '../harness.js';
import { mutatedText } from '../mutate.js';

type Schema = Parameters<typeof requests.parseBody>[0];

/** Every route's body schema, by name. */
const SCHEMAS = Object.entries(requests).filter(([name, value]) => name.endsWith('Body') && typeof value === 'object' && '~run' in value) as [string, Schema][];

/** Valid bodies, one or more per route, as clients send them. */
function seedBodies(): unknown[] {
  const keys = { sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ alice', tlsPublicKey: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n' };
  return [
    { name: 'alice', roles: ['access', 'editor'], invite: true, ttl: 3_600_000, labels: { env: 'dev' }, traits: { logins: ['root'] }, logins: ['root'], dbUsers: ['alice'], dbNames: ['app'] },
    { ttl: 28_800_000 },
    { tokenId: 'e3b0c44298fc1c149afbf4c8996fb924' },
    { tokenId: 'e3b0c44298fc1c149afbf4c8996fb924', password: 'correct horse battery', otpCode: '123456' },
    { hostId: 'db-agent-1', hostname: 'db1', version: '17.0.0', ttl: 60_000, database: { name: 'roach', protocol: 'postgres', uri: 'localhost:5432', description: 'the app db', labels: { env: 'prod' } } },
    { events: [{ event: 'db.session.query', code: 'TDB02I', db_query: 'select 1' }] },
    { ...keys, user: 'alice', ttl: 43_200_000, routeToDatabase: { serviceName: 'roach', protocol: 'postgres', username: 'alice', database: 'app' } },
    { ...keys, user: 'alice', password: 'secret', otp: '123456', clientAddr: '[2001:db8::7]:51234' },
    { publicKey: keys.tlsPublicKey, hosts: ['db.example.com', '127.0.0.1'], ttl: 3_600_000, clientAuth: true },
    { publicKey: keys.tlsPublicKey, dbUser: 'alice', ttl: 60_000 },
    { sshPublicKey: keys.sshPublicKey, principals: ['node-1'], ttl: 60_000 },
    { token: 'join-token', hostId: 'a1b2', nodeName: 'db1', role: 'Db', additionalPrincipals: ['db1.example.com'], ...keys },
    { roles: ['Db'], ttl: 1_800_000, name: 'tok', labels: { 'team/a': 'x' } },
    { name: 'tok' },
    { type: 'host', phase: 'init', mode: 'manual', gracePeriod: 0 },
  ];
}

const FIELDS = [...new Set(seedBodies().flatMap((b) => Object.keys(b as object)))];
const TOKENS = [
  ...FIELDS.map((f) => `"${f}":`),
  'null', 'true', 'false', '-1', '0', '1e309', '-0', '1.5', '9007199254740993', '""', '[]', '{}', '[null]', '{"":1}',
  '"__proto__":', '"constructor":', '{"__proto__":{"x":1}}', '"\\u0000"', '"\\ud800"', ',', ':', '"', '\\', '[', ']', '{', '}',
];

/** A JSON object with known field names and arbitrary JSON values. */
const knownFieldObject = fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }).map((o) => JSON.stringify(o));

/** What the router does with the body text: `request body is not valid JSON` for a syntax error. */
function readJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadParameterError('request body is not valid JSON');
  }
}

/** The bodies every schema accepted, by schema name. */
type Accepted = [string, unknown][];

export const apiBody: Target<'text', Accepted> = {
  name: 'api-body',
  description: 'auth API request bodies: JSON.parse as the router does, then each route\'s schema (requests.ts parseBody)',
  kind: 'text',
  seeds: () => seedBodies().map((b) => JSON.stringify(b)),
  arbitrary: (seeds) =>
    fc.oneof(
      { weight: 5, arbitrary: mutatedText(seeds, TOKENS) },
      { weight: 3, arbitrary: knownFieldObject },
      { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    ),
  parse(text) {
    const body = readJson(text);
    const accepted: Accepted = [];
    for (const [name, schema] of SCHEMAS) {
      try {
        accepted.push([name, requests.parseBody(schema, body)]);
      } catch (err) {
        if (!isTeleportError(err)) throw err;
      }
    }
    if (accepted.length === 0) throw new BadParameterError('no route accepts this body');
    return accepted;
  },
  check(accepted) {
    // Idempotence: a parsed body, sent again, parses to the same body.
    for (const [name, value] of accepted) {
      const schema = SCHEMAS.find(([n]) => n === name)![1];
      const again = requests.parseBody(schema, JSON.parse(JSON.stringify(value) ?? 'null'));
      if (JSON.stringify(again) !== JSON.stringify(value)) throw new Error(`${name}: parsing a parsed body changes it`);
    }
  },
};
