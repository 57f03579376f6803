/**
 * Request and response examples of the group and group membership endpoints, for the reference page
 * at /api/v2/docs: the Support group (360001) of the help desk on https://help.example.com, with
 * Agent Sally (user 2) in it.
 */
const BASE = 'https://help.example.com/api/v2';

const support = {
  id: 360001,
  url: `${BASE}/groups/360001.json`,
  name: 'Support',
  description: 'First line: every customer ticket starts here',
  default: true,
  deleted: false,
  is_public: true,
  created_at: '2026-11-30T09:00:00Z',
  updated_at: '2026-11-30T09:00:00Z',
};
const hardware = {
  ...support,
  id: 360002,
  url: `${BASE}/groups/360002.json`,
  name: 'Hardware',
  description: 'Printers, scanners and their vendors',
  default: false,
  created_at: '2026-11-30T09:05:00Z',
  updated_at: '2026-11-30T09:05:00Z',
};

const membership = {
  id: 461001,
  url: `${BASE}/group_memberships/461001.json`,
  user_id: 2,
  group_id: 360002,
  default: false,
  created_at: '2026-11-30T09:10:00Z',
  updated_at: '2026-11-30T09:10:00Z',
};

export const groupExamples = {
  createBody: { group: { name: 'Hardware', description: 'Printers, scanners and their vendors' } },
  createResponse: { group: hardware },
  listResponse: { groups: [support, hardware], count: 2, next_page: null, previous_page: null },
  createMembershipBody: { group_membership: { user_id: 2, group_id: 360002 } },
  createMembershipResponse: { group_membership: membership },
  membershipListResponse: {
    group_memberships: [
      { ...membership, id: 461000, url: `${BASE}/group_memberships/461000.json`, group_id: 360001, default: true },
      membership,
    ],
    count: 2,
    next_page: null,
    previous_page: null,
  },
};
