import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { ApiError, unauthorized } from '../http/errors.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { accountExamples as ex } from './examples.js';
import { isoSeconds } from '../http/time.js';
import { presentUser } from '../users/presenter.js';
import { UserSchema } from '../users/schemas.js';
import { secretMatches, type AccountsService } from './service.js';

const CreateAccountBody = Type.Object({
  account: Type.Object({
    subdomain: Type.String({ minLength: 1, maxLength: 63 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    admin_email: Type.String({ minLength: 3, maxLength: 254 }),
    admin_password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })),
  }),
});

const AccountSchema = Type.Object({ id: Type.Integer(), subdomain: Type.String(), name: Type.String(), created_at: Type.String() });

export interface AccountsRoutesOptions {
  ctx: AppContext;
  accounts: AccountsService;
  /** SIDELINE_OPERATOR_TOKEN; unset, the endpoint does not exist. */
  operatorToken: string | undefined;
  /** Tells the Host → account map to reload, so the new subdomain answers at once. */
  onCreated: () => void;
}

/**
 * The operator's API (not Zendesk's): new accounts, authenticated by SIDELINE_OPERATOR_TOKEN alone
 * (no account's user may call it). Without that token configured the endpoint answers 404 like any
 * unknown path, so its presence reveals nothing.
 */
export const accountsRoutes: FastifyPluginAsyncTypebox<AccountsRoutesOptions> = async (app, { ctx, accounts, operatorToken, onCreated }) => {
  app.post(
    '/api/v2/sideline/accounts',
    {
      config: { access: 'public' },
      onRequest: async (request) => {
        if (!operatorToken) throw new ApiError(404, { error: 'InvalidEndpoint', description: 'Not found' });
        const header = request.headers.authorization ?? '';
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
        if (!presented || !secretMatches(presented, operatorToken)) throw unauthorized();
      },
      schema: {
        tags: ['Accounts'],
        summary: 'Create an account and its first admin (operator only: Authorization: Bearer SIDELINE_OPERATOR_TOKEN)',
        security: [{ bearerAuth: [] }],
        body: withExamples(CreateAccountBody, ex.createBody),
        response: {
          201: withExamples(Type.Object({ account: AccountSchema, admin: UserSchema, admin_password: Type.Optional(Type.String()) }), ex.createResponse),
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const input = request.body.account;
      const created = await accounts.createAccount({
        subdomain: input.subdomain,
        name: input.name,
        adminEmail: input.admin_email,
        adminPassword: input.admin_password,
      });
      onCreated();
      const { account, admin } = created;
      return reply.code(201).send({
        account: { id: account.id, subdomain: account.subdomain, name: account.name, created_at: isoSeconds(account.created_at) },
        admin: presentUser(admin, ctx.baseUrl(request)),
        ...(created.generatedPassword ? { admin_password: created.generatedPassword } : {}),
      });
    },
  );
};
