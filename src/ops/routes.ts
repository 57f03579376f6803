import { sql } from 'kysely';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../app-context.js';
import { migrationsApplied } from '../db/store.js';
import { withExamples } from '../http/docs.js';
import { opsExamples as ex } from './examples.js';

export const opsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const Status = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) });

  app.get(
    '/healthz',
    { config: { access: 'public' }, schema: { tags: ['Operations'], summary: 'The process is alive', response: { 200: withExamples(Status, ex.healthy) } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: { tags: ['Operations'], summary: 'The store is reachable and migrated', response: { 200: withExamples(Status, ex.healthy), 503: withExamples(Status, ex.unavailable) } },
    },
    async (request, reply) => {
      try {
        await sql`select 1`.execute(ctx.db);
        if (!(await migrationsApplied(ctx.db))) return reply.code(503).send({ status: 'unavailable', reason: 'migrations pending' });
        return { status: 'ok' };
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed');
        return reply.code(503).send({ status: 'unavailable', reason: 'store unreachable' });
      }
    },
  );
};
