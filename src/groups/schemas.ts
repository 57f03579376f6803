import { Type, type Static } from '@sinclair/typebox';
import { PageLinks } from '../http/pagination.js';
import { IntegerId } from '../http/schemas.js';

export const GroupSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  name: Type.String(),
  description: Type.String(),
  default: Type.Boolean(),
  deleted: Type.Boolean(),
  is_public: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const CreateGroupBody = Type.Object({
  group: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 255 }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
  }),
});
export type CreateGroupBody = Static<typeof CreateGroupBody>;

export const GroupEnvelope = Type.Object({ group: GroupSchema });
export const GroupList = Type.Object({ groups: Type.Array(GroupSchema), ...PageLinks });

export const MembershipSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  user_id: Type.Integer(),
  group_id: Type.Integer(),
  default: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const CreateMembershipBody = Type.Object({
  group_membership: Type.Object({
    user_id: IntegerId,
    group_id: IntegerId,
    default: Type.Optional(Type.Boolean()),
  }),
});
export type CreateMembershipBody = Static<typeof CreateMembershipBody>;

export const MembershipEnvelope = Type.Object({ group_membership: MembershipSchema });
export const MembershipList = Type.Object({ group_memberships: Type.Array(MembershipSchema), ...PageLinks });
