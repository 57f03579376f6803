import { Type, type Static } from '@sinclair/typebox';
import { PageLinks } from '../http/pagination.js';
import { IntegerId } from '../http/schemas.js';

export const UserRoleSchema = Type.Union([Type.Literal('end-user'), Type.Literal('agent'), Type.Literal('admin')]);

export const UserSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  name: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  role: UserRoleSchema,
  active: Type.Boolean(),
  verified: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const CreateUserBody = Type.Object({
  user: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 255 }),
    email: Type.String({ minLength: 3, maxLength: 254 }),
    role: Type.Optional(UserRoleSchema),
    password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })),
  }),
});
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UserEnvelope = Type.Object({ user: UserSchema });
export const UserList = Type.Object({ users: Type.Array(UserSchema), ...PageLinks });
export const UserIdParams = Type.Object({ id: IntegerId });
