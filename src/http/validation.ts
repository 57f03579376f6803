import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifySchema } from 'fastify';

/**
 * Two validators: path and query strings are coerced to the declared types (`?page=2`), bodies are
 * not (a number where a string belongs is a client error, not something to paper over).
 */
export function registerValidators(app: FastifyInstance): void {
  const common = { allErrors: false, useDefaults: true, removeAdditional: true as const, strict: false };
  const coercing = new Ajv({ ...common, coerceTypes: true });
  const exact = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [coercing, exact]) {
    ajv.addKeyword({ keyword: 'example' });
  }
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) => {
    const ajv = httpPart === 'body' ? exact : coercing;
    return ajv.compile(schema as object) as ValidateFunction;
  });
}
