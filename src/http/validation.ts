import { Ajv, type ValidateFunction } from 'ajv';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyInstance, FastifySchema, FastifyServerOptions } from 'fastify';

/**
 * Schemas are compiled when a route first needs them, not at start: compiling every route's
 * validators and serialisers up front took about half a second of each start, most of it for
 * routes a given server rarely or never answers. The first request of a route pays its own
 * (a millisecond or two); the functions are the ones Fastify would have built.
 */
function lazy<F extends (...args: never[]) => unknown>(compile: () => F): F {
  let compiled: F | undefined;
  return ((...args: Parameters<F>) => (compiled ??= compile())(...args)) as F;
}

/** As lazy(), keeping Ajv's `errors`, which Fastify reads off the function after a failed call. */
function lazyValidator(compile: () => ValidateFunction): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const validate = ((data: unknown) => (compiled ??= compile())(data)) as ValidateFunction;
  Object.defineProperty(validate, 'errors', { get: () => compiled?.errors ?? null });
  return validate;
}

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
    return lazyValidator(() => ajv.compile(schema as object) as ValidateFunction);
  });
}

/**
 * Fastify's own response serialisers (fast-json-stringify, with the options and shared schemas
 * Fastify passes), each built on first use; given to Fastify() as its schemaController.
 */
export const lazySerializers: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildSerializer(externalSchemas, serializerOptions) {
      const build = SerializerSelector()(externalSchemas, serializerOptions);
      return (route) => lazy(() => build(route));
    },
  },
};

/**
 * The serialiser Fastify builds for a response schema, for JSON made outside a reply (a row's
 * JSON rendered once and kept, see RenderedRows): the same bytes a route answering that schema
 * would send. Built on first use.
 */
export function jsonSerializer<T>(schema: object): (value: T) => string {
  return lazy(() => SerializerSelector()({}, {})({ schema, method: 'GET', url: '', httpStatus: '200' }) as (value: T) => string);
}
