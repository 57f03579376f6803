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
  suspended: Type.Boolean(),
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

/** Zendesk's Update User: every field optional; agents may send only their own name. */
export const UpdateUserBody = Type.Object({
  user: Type.Object({
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254 })),
    role: Type.Optional(UserRoleSchema),
    suspended: Type.Optional(Type.Boolean()),
  }),
});
export type UpdateUserBody = Static<typeof UpdateUserBody>;

const Password = Type.String({ minLength: 8, maxLength: 1024 });
/** Zendesk's Change Your Own Password body. */
export const ChangePasswordBody = Type.Object({ password: Password, previous_password: Type.String({ minLength: 1, maxLength: 1024 }) });
/** Zendesk's Set a User's Password body (admins). */
export const SetPasswordBody = Type.Object({ password: Password });

export const UserEnvelope = Type.Object({ user: UserSchema });
export const UserList = Type.Object({ users: Type.Array(UserSchema), ...PageLinks });
export const UserIdParams = Type.Object({ id: IntegerId });
