import { describe, expect, it } from 'vitest';
import { parseAccessRequest } from '@teleport-ts/core/types';
import { renderNewRequest, renderRequestDetails, renderRequestList, renderSearch } from './requests.js';

const request = parseAccessRequest({
  kind: 'access_request',
  metadata: { name: 'ca75727e-bfdc-4bc9-a458-2c0d17773bc9' },
  spec: {
    user: 'bob',
    roles: ['dba'],
    state: 'APPROVED',
    request_reason: 'incident 42',
    resolve_reason: 'go ahead',
    created: '2026-12-03T17:03:19Z',
    expires: '2026-12-04T05:03:12Z',
    reviews: [{ author: 'alice', roles: ['dba-reviewer'], state: 'APPROVED', reason: 'go ahead', created: '2026-12-03T17:03:25Z' }],
  },
});

describe('tsh request rendering', () => {
  it('lists requests in a table, or as JSON', () => {
    expect(renderRequestList([request], 'text')).toBe(
      [
        'ID                                   User Roles Resources Created At (UTC)    Status   Reasons                                   ',
        '------------------------------------ ---- ----- --------- ------------------- -------- ----------------------------------------- ',
        'ca75727e-bfdc-4bc9-a458-2c0d17773bc9 bob  dba             2026-12-03 17:03:19 APPROVED request="incident 42", resolve="go ahead" ',
        '',
        '',
      ].join('\n'),
    );
    expect((JSON.parse(renderRequestList([request], 'json')) as { spec: { state: string } }[])[0]!.spec.state).toBe('APPROVED');
  });

  it('shows one request with its reviews, and the login hint for --nowait', () => {
    const text = renderRequestDetails(request);
    expect(text).toContain('Request ID:     ca75727e-bfdc-4bc9-a458-2c0d17773bc9\nUsername:       bob\nRoles:          dba\nReason:         "incident 42"\n');
    expect(text).toContain('Access Expires: 2026-12-04 05:03:12 UTC\nStatus:         APPROVED\n');
    expect(text).toContain('Reviews:\n  alice: APPROVED "go ahead"\n');
    expect(renderNewRequest({ request }, new Date())).toContain("hint: use 'tsh login --request-id=ca75727e-bfdc-4bc9-a458-2c0d17773bc9' to login with an approved request\n");
  });

  it('prints search results with the command that requests them', () => {
    const out = renderSearch([{ id: '/e2e.example.com/db/roach', kind: 'db', name: 'roach', labels: { env: 'dev' } }]);
    expect(out).toContain('roach db   env=dev /e2e.example.com/db/roach \n\nTo request access to these resources, run\n> tsh request new --resource=/e2e.example.com/db/roach --reason <request reason>\n');
    expect(renderSearch([])).not.toContain('To request');
  });
});
