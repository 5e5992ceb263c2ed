import { describe, expect, it } from 'vitest';
import { isTeleportError } from '@teleport-ts/core/errors';
import { parseNode, type NodeServer } from '@teleport-ts/core/types';
import { parseTarget, resolveNode } from './ssh-nodes.js';
import { parseRouteRequest } from './ssh.js';

const CLUSTER = 'example.com';
const node = (name: string, hostname: string, addr = '', subKind?: 'openssh'): NodeServer =>
  parseNode({ kind: 'node', ...(subKind ? { sub_kind: subKind } : {}), version: 'v2', metadata: { name }, spec: { hostname, addr, use_tunnel: addr === '' } });

const A = '11111111-2222-4333-8444-555555555555';
const B = '66666666-7777-4888-9999-000000000000';
const nodes = [node(A, 'web-1'), node(B, 'db-1'), node('c', 'twin', '10.0.0.7:22', 'openssh'), node('d', 'twin', '10.0.0.8:22', 'openssh')];

function failure(fn: () => unknown): { code: string; kind: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isTeleportError(err)) return { code: err.code, kind: err.kind, message: err.message };
    throw err;
  }
  throw new Error('did not throw');
}

describe('resolveNode', () => {
  it('finds a node by hostname, UUID, <name>.<cluster> and address', () => {
    expect(resolveNode(nodes, { host: 'web-1', port: 0 }, CLUSTER).metadata.name).toBe(A);
    expect(resolveNode(nodes, { host: B, port: 22 }, CLUSTER).spec.hostname).toBe('db-1');
    expect(resolveNode(nodes, { host: `web-1.${CLUSTER}`, port: 0 }, CLUSTER).metadata.name).toBe(A);
    expect(resolveNode(nodes, { host: `${A}.${CLUSTER}`, port: 0 }, CLUSTER).metadata.name).toBe(A);
    expect(resolveNode(nodes, { host: '10.0.0.7', port: 22 }, CLUSTER).metadata.name).toBe('c');
    expect(resolveNode(nodes, { host: '10.0.0.8', port: 0 }, CLUSTER).metadata.name).toBe('d');
  });

  it("refuses an unknown host, a wrong port of an address, an unknown UUID and an ambiguous name with Teleport's texts", () => {
    expect(failure(() => resolveNode(nodes, { host: 'nope', port: 0 }, CLUSTER))).toEqual({
      code: 'ERR_TP_NODE_NOT_FOUND',
      kind: 'connection-problem',
      message: 'direct dialing to nodes not found in inventory is not supported',
    });
    expect(failure(() => resolveNode(nodes, { host: '10.0.0.7', port: 2222 }, CLUSTER)).code).toBe('ERR_TP_NODE_NOT_FOUND');
    const unknownId = '99999999-2222-4333-8444-555555555555';
    expect(failure(() => resolveNode(nodes, { host: unknownId, port: 0 }, CLUSTER))).toEqual({
      code: 'ERR_TP_NODE_ID_NOT_FOUND',
      kind: 'not-found',
      message: `unable to locate node matching UUID-like target ${unknownId}`,
    });
    expect(failure(() => resolveNode(nodes, { host: 'twin', port: 0 }, CLUSTER))).toEqual({
      code: 'ERR_TP_NODE_AMBIGUOUS',
      kind: 'not-found',
      message: 'ambiguous host could match multiple nodes',
    });
  });

  it('prefers the node whose UUID is the target when another node has it as hostname', () => {
    const clash = [...nodes, node('e', A)];
    expect(resolveNode(clash, { host: A, port: 0 }, CLUSTER).metadata.name).toBe(A);
  });
});

describe('parseTarget and parseRouteRequest', () => {
  it('reads the port from host:port and [v6]:port, and leaves a bare IPv6 address alone', () => {
    expect(parseTarget('web-1', 0)).toEqual({ host: 'web-1', port: 0 });
    expect(parseTarget('10.0.0.7:2222', 22)).toEqual({ host: '10.0.0.7', port: 2222 });
    expect(parseTarget('[::1]:22', 0)).toEqual({ host: '::1', port: 22 });
    expect(parseTarget('fe80::1', 22)).toEqual({ host: 'fe80::1', port: 22 });
  });

  it('accepts the contract line and refuses what is not', () => {
    expect(parseRouteRequest('{"host":"web-1","port":22,"cluster":"example.com"}')).toEqual({ host: 'web-1', port: 22, cluster: 'example.com' });
    expect(parseRouteRequest('{"host":"web-1"}')).toEqual({ host: 'web-1', port: 0, cluster: '' });
    for (const bad of ['not json', '[]', '{"host":""}', '{"host":"a","port":70000}', '{"host":"a","port":1.5}', '{"host":"a","cluster":3}']) {
      expect(failure(() => parseRouteRequest(bad)).code).toBe('ERR_TP_SSH_ROUTE_REQUEST');
    }
  });
});
