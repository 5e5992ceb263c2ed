/** YAML from users: teleport.yaml and resources (`tctl create`, which also reaches the API as parsed resources). */

import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import { parseConfig } from '../../packages/core/src/config/index.js';
import type { FileConfig } from '../../packages/core/src/config/types.js';
import { defaultAuthPreference, parseLock, parseProvisionToken, parseRole, parseUser, resourceFromYaml, resourceToYaml, type Resource } from '../../packages/core/src/types/index.js';
import type { Target } from '../harness.js';
import { mutatedText } from '../mutate.js';

/** YAML's indicators and the constructs that make parsers work hard: anchors, aliases, merges, tags, flow style. */
const YAML_TOKENS = [
  '\n', '  ', ': ', '- ', '---\n', '...\n', '#', '&a ', '*a', '<<: *a', '!!str ', '!!binary ', '!!map ', '!!set ', '!!timestamp ', '!custom ', '? ', '|', '>-', '{', '}', '[', ']', ',', '"', "'", '\\u0000', '%YAML 1.1\n', '%TAG ! tag:x,2000:\n', '~', 'null', 'yes', 'off', '0x1F', '1e999', '.inf', '-.nan', '2001-12-14t21:59:43.10-05:00', '__proto__', 'constructor', '\t', '\r\n', '\u2028', '\ufeff',
];

/** Lines of `k:` indented by 0, 1, 2… spaces: quadratic in length (1,200 lines are 0.7 MB), so built once and sliced. */
const MAX_INDENTED_KEYS = 1200;
const INDENTED_KEYS = Array.from({ length: MAX_INDENTED_KEYS }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
/** The first `lines` lines of {@link INDENTED_KEYS}, without the last newline. */
const indentedKeys = (lines: number): string => INDENTED_KEYS.slice(0, (lines * (lines - 1)) / 2 + 3 * lines - 1);

/**
 * Deep nesting, which the mutations cannot build (six edits): flow collections, compact sequences, explicit keys,
 * indented mappings, hundreds to thousands of levels, one or two documents.
 */
const deepNesting: fc.Arbitrary<string> = fc
  .record({ depth: fc.integer({ min: 100, max: 3000 }), kind: fc.nat(4), twice: fc.boolean() })
  .map(({ depth, kind, twice }) => {
    const one = [
      () => '['.repeat(depth) + ']'.repeat(depth),
      () => '{a: '.repeat(depth) + '1' + '}'.repeat(depth),
      () => '- '.repeat(depth) + 'x',
      () => '? '.repeat(depth) + 'x',
      () => indentedKeys(Math.min(depth, MAX_INDENTED_KEYS)) + ' 1',
    ][kind]!();
    return twice ? `${one}\n---\n${one}\n` : `${one}\n`;
  });

/** A teleport.yaml as the getting-started guide writes it, with every service. */
function fullConfigYaml(): string {
  return `version: v3
teleport:
  nodename: auth-1
  data_dir: /var/lib/teleport
  auth_token: /etc/token
  auth_server: auth.example.com:3025
  ca_pin: sha256:${'ab'.repeat(32)}
  storage:
    type: sqlite
    path: /var/lib/teleport/backend
  log:
    output: stderr
    severity: INFO
    format: { output: json }
auth_service:
  enabled: "yes"
  listen_addr: 0.0.0.0:3025
  cluster_name: example.com
  tokens: ["db,node:abc123", "proxy:def456"]
  authentication:
    type: local
    second_factor: otp
proxy_service:
  enabled: yes
  web_listen_addr: 0.0.0.0:3080
  public_addr: proxy.example.com:443
  https_keypairs:
  - key_file: /etc/tls/key.pem
    cert_file: /etc/tls/cert.pem
db_service:
  enabled: true
  databases:
  - name: roach
    protocol: postgres
    uri: localhost:5432
    static_labels: { env: dev }
    tls: { mode: verify-full, ca_cert_file: /etc/db/ca.pem }
ssh_service:
  enabled: false
`;
}

/** The smallest config a db agent runs with. */
const agentConfigYaml = (): string => `version: v3\nteleport:\n  auth_server: proxy.example.com:3080\n  auth_token: /tmp/token\ndb_service:\n  enabled: true\n  databases: [{ name: pg, protocol: postgres, uri: "127.0.0.1:5432" }]\nauth_service: { enabled: false }\nproxy_service: { enabled: false }\n`;

/** teleport.yaml: syntax, unknown keys with their line, then the schema. */
export const yamlConfig: Target<'text', FileConfig> = {
  name: 'yaml-config',
  description: 'teleport.yaml (parseConfig: YAML syntax, unknown keys, schema)',
  kind: 'text',
  seeds: () => [fullConfigYaml(), agentConfigYaml(), 'version: v3\n', ''],
  arbitrary: (seeds) =>
    fc.oneof({ weight: 40, arbitrary: mutatedText(seeds, YAML_TOKENS) }, { weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 48 }) }, { weight: 1, arbitrary: deepNesting }),
  parse: (text) => parseConfig(text),
};

/**
 * One resource of every kind, as `tctl get` prints them, and a stream of two (a user and a lock). The stream holds
 * two small resources rather than all five: the documents are parsed one at a time by the same code whatever their
 * number, the parser's time grows with the input's length, and a seed of all five (1,140 characters, twice the next
 * largest) took about a third of the mutation time for no path the others do not reach.
 */
function resourceSeeds(): string[] {
  const resources: Resource[] = [
    parseRole({
      kind: 'role',
      version: 'v7',
      metadata: { name: 'dev', labels: { team: 'db' } },
      spec: {
        allow: { logins: ['{{internal.logins}}'], node_labels: { '*': '*' }, db_labels: { env: ['dev', 'staging'] }, db_users: ['{{internal.db_users}}'], db_names: ['app'] },
        deny: { logins: ['root'] },
        options: { max_session_ttl: '8h' },
      },
    }),
    parseUser({ kind: 'user', metadata: { name: 'alice' }, spec: { roles: ['access', 'dev'], traits: { logins: ['root'], db_users: ['alice'] } } }),
    parseProvisionToken({ kind: 'token', version: 'v2', metadata: { name: 'join-token-123', expires: '2030-01-01T00:00:00Z' }, spec: { roles: ['Node', 'Db'] } }),
    defaultAuthPreference(),
    parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'lock-1' }, spec: { target: { user: 'alice' }, message: 'incident 42' } }),
  ];
  return [...resources.map((r) => resourceToYaml(r)), resourceToYaml([resources[1]!, resources[4]!])];
}

/** Resources: every kind, several documents; what parses prints back (tctl get) and parses to the same resources. */
export const yamlResource: Target<'text', Resource[]> = {
  name: 'yaml-resource',
  description: 'resources in YAML, one or several documents (resourceFromYaml), round trip through resourceToYaml',
  kind: 'text',
  seeds: resourceSeeds,
  arbitrary: (seeds) =>
    fc.oneof({ weight: 40, arbitrary: mutatedText(seeds, YAML_TOKENS) }, { weight: 5, arbitrary: fc.string({ unit: 'binary', maxLength: 48 }) }, { weight: 1, arbitrary: deepNesting }),
  parse: (text) => resourceFromYaml(text),
  check(resources) {
    if (resources.length === 0) return;
    // Printing normalizes (empty fields are omitted, so an empty trait list disappears); after one print the
    // resources are a fixed point: `tctl get` then `tctl create` changes nothing.
    const printed = resourceFromYaml(resourceToYaml(resources));
    const again = resourceFromYaml(resourceToYaml(printed));
    if (printed.length !== resources.length || !isDeepStrictEqual(again, printed)) throw new Error('resourceToYaml then resourceFromYaml is not stable');
  },
};
