import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from './db/types.js';
import type { UsersService } from './users/service.js';
import type { GroupsService } from './groups/service.js';
import type { TicketsService } from './tickets/service.js';
import type { SideConversationsService } from './side-conversations/service.js';
import type { ApiTokensService } from './auth/api-tokens.js';
import type { AttachmentsService } from './attachments/service.js';
import type { IntegrationsService } from './integrations/service.js';
import type { IdempotencyService } from './idempotency/service.js';

/** What routes are given: the services, and how to build absolute URLs for this request. */
export interface AppContext {
  db: Kysely<Database>;
  baseUrl(request: FastifyRequest): string;
  services: {
    users: UsersService;
    groups: GroupsService;
    tickets: TicketsService;
    sideConversations: SideConversationsService;
    apiTokens: ApiTokensService;
    attachments: AttachmentsService;
    integrations: IntegrationsService;
    idempotency: IdempotencyService;
  };
}
