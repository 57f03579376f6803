import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import {
  BadParameter,
  Conflict,
  DependencyFailed,
  DomainError,
  Forbidden,
  Invalid,
  NotFound,
  RateLimited,
  Refused,
  TooLarge,
  Unauthenticated,
  type ValidationDetails,
} from '../errors.js';

/**
 * An answer only HTTP gives (authentication, a body that cannot be parsed, the database away), with
 * its Zendesk body. The domain throws src/errors.ts's errors instead; apiErrorFor maps them.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body['error'] === 'string' ? (body['error'] as string) : 'ApiError');
  }
}

/** The Host names no account here (our wording; the same error name as any unknown endpoint). */
export const noSuchAccount = () => new ApiError(404, { error: 'InvalidEndpoint', description: 'No help desk is served at this address' });

/**
 * `challenge: false` leaves out WWW-Authenticate: a browser that gets it on a fetch shows its own
 * password dialog over the console's sign-in page.
 */
export const unauthorized = (challenge = true) =>
  new ApiError(401, { error: "Couldn't authenticate you" }, challenge ? { 'www-authenticate': 'Basic realm="Web Password"' } : {});

export const invalidJson = (description: string) => new ApiError(400, { error: 'InvalidJSON', description });

export const badRequest = (error: string, description: string) => new ApiError(400, { error, description });

/** How long a client should wait before trying again while the database is away (it usually restarts in seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The database is unreachable (restarting, connection dropped). A write answered this way was not acknowledged: it may or may not have been committed. */
export const databaseUnavailable = () =>
  new ApiError(
    503,
    { error: 'DatabaseUnavailable', description: 'The database is unavailable right now; try again shortly.' },
    { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
  );

const retryAfter = (seconds: number) => ({ 'retry-after': String(Math.max(1, Math.ceil(seconds))) });

/** Zendesk's answer to each domain error (src/errors.ts): the one place where they meet HTTP. */
export function apiErrorFor(error: DomainError): ApiError {
  if (error instanceof NotFound) return new ApiError(404, { error: 'RecordNotFound', description: error.description });
  if (error instanceof Invalid) return new ApiError(422, { error: 'RecordInvalid', description: 'Record validation errors', details: error.details });
  if (error instanceof Refused) return new ApiError(422, { error: error.reason, description: error.description });
  if (error instanceof BadParameter) return badRequest('InvalidParameter', error.description);
  if (error instanceof Conflict) return new ApiError(409, { error: 'Conflict', description: error.description });
  // With 503 DatabaseUnavailable, the only answers that carry Retry-After (some clients treat any response with it as a rate limit).
  if (error instanceof RateLimited) return new ApiError(429, { error: 'TooManyRequests', description: error.description }, retryAfter(error.retryAfterSeconds));
  if (error instanceof Forbidden) {
    return new ApiError(
      403,
      error.description === undefined
        ? { error: { title: 'Forbidden', message: 'You do not have access to this page. Please contact the account owner of this help desk for further help.' } }
        : { error: 'Forbidden', description: error.description },
    );
  }
  if (error instanceof Unauthenticated) return new ApiError(401, { error: error.reason, description: error.description });
  if (error instanceof TooLarge) return new ApiError(413, { error: 'PayloadTooLarge', description: error.description });
  if (error instanceof DependencyFailed) {
    return new ApiError(502, { error: error.dependency, description: error.description }, error.retryAfterSeconds === undefined ? {} : retryAfter(error.retryAfterSeconds));
  }
  return new ApiError(500, { error: 'InternalError', description: 'Something went wrong on our side' });
}

interface AjvErrorLike {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** Turns schema validation failures on a body into the 422 details Zendesk clients read. */
function detailsFromSchemaErrors(errors: AjvErrorLike[]): ValidationDetails {
  const details: ValidationDetails = {};
  for (const e of errors) {
    // Same spelling as the services' details: message.to[0].email
    let path = (e.instancePath ?? '')
      .split('/')
      .filter(Boolean)
      .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`))
      .join('')
      .replace(/^\./, '');
    if (e.keyword === 'required' && typeof e.params?.['missingProperty'] === 'string') {
      path = path ? `${path}.${e.params['missingProperty']}` : (e.params['missingProperty'] as string);
    }
    const field = path || 'base';
    (details[field] ??= []).push({ description: `${field} ${e.message ?? 'is invalid'}`, error: 'InvalidValue' });
  }
  return details;
}

/**
 * A unique index caught a race the service's own check could not (two creates at once): the
 * loser gets the same 422 it would have had a moment later, not a 500.
 */
const UNIQUE_CONSTRAINT_FIELDS: Record<string, string> = {
  users_account_email: 'email',
  accounts_subdomain_key: 'subdomain',
  group_memberships_user_group: 'user_id',
};

function uniqueViolation(error: unknown): Invalid | null {
  const pgError = error as { code?: string; constraint?: string } | null;
  if (!pgError || pgError.code !== '23505') return null;
  const field = UNIQUE_CONSTRAINT_FIELDS[pgError.constraint ?? ''] ?? 'base';
  return new Invalid({ [field]: [{ description: `${field}: has already been taken`, error: 'DuplicateValue' }] });
}

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.statusCode).headers(error.headers).send(error.body);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validation?: AjvErrorLike[]; validationContext?: string }, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiError) return send(reply, error);
    if (error instanceof DomainError) return send(reply, apiErrorFor(error));
    const duplicate = uniqueViolation(error);
    if (duplicate) return send(reply, apiErrorFor(duplicate));
    if (error.validation) {
      if (error.validationContext === 'body') return send(reply, apiErrorFor(new Invalid(detailsFromSchemaErrors(error.validation))));
      if (error.validationContext === 'params') return send(reply, apiErrorFor(new NotFound()));
      return send(reply, badRequest('InvalidParameter', error.message));
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(reply, apiErrorFor(new TooLarge(`The request body is larger than the limit of ${app.initialConfig.bodyLimit} bytes`)));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(reply, invalidJson('Send the request body as application/json'));
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return send(reply, invalidJson(error.message));
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return send(reply, databaseUnavailable());
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      if (error.statusCode === 413) return send(reply, apiErrorFor(new TooLarge(error.message)));
      return send(reply, badRequest('BadRequest', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'InternalError', description: 'Something went wrong on our side' });
  });

  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'InvalidEndpoint', description: 'Not found' }),
  );
}
