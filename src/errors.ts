/**
 * The errors the domain throws: what went wrong, in the domain's terms. Services, commands and
 * channels throw these and nothing HTTP-shaped; `http/errors.ts` turns them into Zendesk's error
 * bodies and statuses, and the SMTP listener into SMTP reply codes. A new kind is added here and
 * mapped in both places.
 */

/** Per field (Zendesk's spelling, e.g. `message.to[0].email`), what is wrong with it. */
export type ValidationDetails = Record<string, Array<{ description: string; error?: string }>>;

export abstract class DomainError extends Error {}

/** The record does not exist, or not in this account, or not for this user (the same answer, on purpose). */
export class NotFound extends DomainError {
  constructor(readonly description = 'Not found') {
    super(description);
  }
}

/** The input breaks the rules: every bad field at once. */
export class Invalid extends DomainError {
  constructor(readonly details: ValidationDetails) {
    super(
      Object.entries(details)
        .map(([field, list]) => `${field}: ${list.map((d) => d.description).join('; ')}`)
        .join(', '),
    );
  }
}

/** Refused as a whole for a named reason, not a field (e.g. `EncryptionKeyMissing`). */
export class Refused extends DomainError {
  constructor(
    readonly reason: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/** A query parameter (a filter, a time, a cursor) that cannot be read. */
export class BadParameter extends DomainError {
  constructor(readonly description: string) {
    super(description);
  }
}

/** It clashes with what is there (already imported, still being processed). */
export class Conflict extends DomainError {
  constructor(readonly description: string) {
    super(description);
  }
}

/** Too many in too short a time; try again after retryAfterSeconds. */
export class RateLimited extends DomainError {
  constructor(
    readonly description: string,
    readonly retryAfterSeconds: number,
  ) {
    super(description);
  }
}

/** The actor may not do this. Without a description, Zendesk's own wording is answered. */
export class Forbidden extends DomainError {
  constructor(readonly description?: string) {
    super(description ?? 'Forbidden');
  }
}

/** Who is asking could not be established (wrong password, unknown token). */
export class Unauthenticated extends DomainError {
  constructor(
    readonly reason: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/** Larger than a limit allows (a body, an attachment, a quota). */
export class TooLarge extends DomainError {
  constructor(readonly description: string) {
    super(description);
  }
}

/** A service we depend on (Slack, Teams) refused or could not be reached: named, e.g. `SlackUnavailable`. */
export class DependencyFailed extends DomainError {
  constructor(
    readonly dependency: string,
    readonly description: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
  }
}

export const notFound = (description?: string) => new NotFound(description);

export const recordInvalid = (details: ValidationDetails) => new Invalid(details);

/** One field, one message: the common case. */
export const invalidField = (field: string, description: string, error = 'InvalidValue') =>
  new Invalid({ [field]: [{ description, error }] });

export const conflict = (description: string) => new Conflict(description);

export const tooManyRequests = (description: string, retryAfterSeconds: number) => new RateLimited(description, retryAfterSeconds);

export const payloadTooLarge = (description: string) => new TooLarge(description);

export const forbidden = (description?: string) => new Forbidden(description);

/** Collects validation failures so one error can name every bad field at once. */
export class ValidationErrors {
  readonly details: ValidationDetails = {};
  add(field: string, description: string, error = 'InvalidValue'): void {
    (this.details[field] ??= []).push({ description, error });
  }
  get empty(): boolean {
    return Object.keys(this.details).length === 0;
  }
  toError(): Invalid {
    return new Invalid(this.details);
  }
  throwIfAny(): void {
    if (!this.empty) throw this.toError();
  }
}
