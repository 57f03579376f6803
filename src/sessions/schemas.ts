import { Type } from '@sinclair/typebox';

export const SignInBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const SessionEnvelope = Type.Object({
  session: Type.Object({
    user: Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      email: Type.Union([Type.String(), Type.Null()]),
      role: Type.String(),
    }),
    csrf_token: Type.String({ description: 'Send it as X-CSRF-Token on every write made with the session cookie' }),
    expires_at: Type.String({ format: 'date-time', description: 'When the session ends if unused (it slides with use)' }),
  }),
});
