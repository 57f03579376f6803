import type { User } from '../db/types.js';
import { isoSeconds } from '../http/time.js';

export function presentUser(user: User, base: string) {
  return {
    id: user.id,
    url: `${base}/api/v2/users/${user.id}.json`,
    name: user.name,
    email: user.email,
    role: user.role,
    active: user.active,
    suspended: user.suspended,
    verified: true,
    created_at: isoSeconds(user.created_at),
    updated_at: isoSeconds(user.updated_at),
  };
}
