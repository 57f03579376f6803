import type { Group, GroupMembership } from '../db/types.js';
import { isoSeconds } from '../http/time.js';

export function presentGroup(group: Group, base: string) {
  return {
    id: group.id,
    url: `${base}/api/v2/groups/${group.id}.json`,
    name: group.name,
    description: group.description ?? '',
    default: false,
    deleted: false,
    is_public: true,
    created_at: isoSeconds(group.created_at),
    updated_at: isoSeconds(group.updated_at),
  };
}

export function presentMembership(membership: GroupMembership, base: string) {
  return {
    id: membership.id,
    url: `${base}/api/v2/group_memberships/${membership.id}.json`,
    user_id: membership.user_id,
    group_id: membership.group_id,
    default: membership.default,
    created_at: isoSeconds(membership.created_at),
    updated_at: isoSeconds(membership.updated_at),
  };
}
