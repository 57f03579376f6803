import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/unavailable.js';

/** An error with the Zendesk body it must be answered with. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body['error'] === 'string' ? (body['error'] as string) : 'ApiError');
  }
}

export type ValidationDetails = Record<string, Array<{ description: string; error?: string }>>;

export const notFound = (description = 'Not found') =>
  new ApiError(404, { error: 'RecordNotFound', description });

/** The Host names no account here (our wording; the same error name as any unknown endpoint). */
export const noSuchAccount = () => new ApiError(404, { error: 'InvalidEndpoint', description: 'No help desk is served at this address' });

/**
 * `challenge: false` leaves out WWW-Authenticate: a browser that gets it on a fetch shows its own
 * password dialog over the console's sign-in page.
 */
export const unauthorized = (challenge = true) =>
  new ApiError(401, { error: "Couldn't authenticate you" }, challenge ? { 'www-authenticate': 'Basic realm="Web Password"' } : {});

export const forbidden = () =>
  new ApiError(403, {
    error: {
      title: 'Forbidden',
      message:
        'You do not have access to this page. Please contact the account owner of this help desk for further help.',
    },
  });

export const conflict = (description: string) => new ApiError(409, { error: 'Conflict', description });

export const invalidJson = (description: string) => new ApiError(400, { error: 'InvalidJSON', description });

export const badRequest = (error: string, description: string) => new ApiError(400, { error, description });

export const payloadTooLarge = (description: string) => new ApiError(413, { error: 'PayloadTooLarge', description });

/** With 503 below, the only responses that carry Retry-After (some clients treat any response with it as a rate limit). */
export const tooManyRequests = (description: string, retryAfterSeconds: number) =>
  new ApiError(429, { error: 'TooManyRequests', description }, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) });

/** How long a client should wait before trying again while the database is away (it usually restarts in seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The database is unreachable (restarting, connection dropped). A write answered this way was not acknowledged: it may or may not have been committed. */
export const databaseUnavailable = () =>
  new ApiError(
    503,
    { error: 'DatabaseUnavailable', description: 'The database is unavailable right now; try again shortly.' },
    { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
  );

export const recordInvalid = (details: ValidationDetails) =>
  new ApiError(422, { error: 'RecordInvalid', description: 'Record validation errors', details });

/** One field, one message: the common case of a 422. */
export const invalidField = (field: string, description: string, error = 'InvalidValue') =>
  recordInvalid({ [field]: [{ description, error }] });

/** Collects validation failures so one 422 can name every bad field at once. */
export class ValidationErrors {
  readonly details: ValidationDetails = {};
  add(field: string, description: string, error = 'InvalidValue'): void {
    (this.details[field] ??= []).push({ description, error });
  }
  get empty(): boolean {
    return Object.keys(this.details).length === 0;
  }
  toError(): ApiError {
    return recordInvalid(this.details);
  }
  throwIfAny(): void {
    if (!this.empty) throw this.toError();
  }
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

function uniqueViolation(error: unknown): ApiError | null {
  const pgError = error as { code?: string; constraint?: string } | null;
  if (!pgError || pgError.code !== '23505') return null;
  const field = UNIQUE_CONSTRAINT_FIELDS[pgError.constraint ?? ''] ?? 'base';
  return recordInvalid({ [field]: [{ description: `${field}: has already been taken`, error: 'DuplicateValue' }] });
}

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.statusCode).headers(error.headers).send(error.body);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validation?: AjvErrorLike[]; validationContext?: string }, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiError) return send(reply, error);
    const duplicate = uniqueViolation(error);
    if (duplicate) return send(reply, duplicate);
    if (error.validation) {
      if (error.validationContext === 'body') return send(reply, recordInvalid(detailsFromSchemaErrors(error.validation)));
      if (error.validationContext === 'params') return send(reply, notFound());
      return send(reply, badRequest('InvalidParameter', error.message));
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(reply, payloadTooLarge(`The request body is larger than the limit of ${app.initialConfig.bodyLimit} bytes`));
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
      if (error.statusCode === 413) return send(reply, payloadTooLarge(error.message));
      return send(reply, badRequest('BadRequest', error.message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: 'InternalError', description: 'Something went wrong on our side' });
  });

  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'InvalidEndpoint', description: 'Not found' }),
  );
}
