import { Type } from '@sinclair/typebox';

/** The Zendesk error bodies, for the OpenAPI document. */
export const SimpleError = Type.Object({ error: Type.String(), description: Type.Optional(Type.String()) }, { additionalProperties: true });
const ForbiddenError = Type.Object({ error: Type.Object({ title: Type.String(), message: Type.String() }) });
const ValidationError = Type.Object({
  error: Type.Literal('RecordInvalid'),
  description: Type.String(),
  details: Type.Record(Type.String(), Type.Array(Type.Object({ description: Type.String(), error: Type.Optional(Type.String()) }))),
});

export const ErrorResponses = {
  400: SimpleError,
  401: SimpleError,
  // Zendesk's own 403 body, or ours for the console's CSRF and end-user refusals.
  403: Type.Union([ForbiddenError, SimpleError]),
  404: SimpleError,
  413: SimpleError,
  422: ValidationError,
  429: SimpleError,
};

/** Ids in paths: integers; anything else is simply not found. */
export const IntegerId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
