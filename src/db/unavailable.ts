/**
 * Whether an error means the database cannot be reached right now (it restarted, dropped our
 * connection, refuses connections while starting up), as opposed to a fault of the request or of
 * our code. Such a request is answered 503 with Retry-After; the pool reconnects by itself.
 */

/** SQLSTATE classes and codes of a lost or refused server: connection exceptions (08), admin/crash shutdown, starting up, too many connections. */
const UNAVAILABLE_SQLSTATE = /^(08...|57P01|57P02|57P03|53300)$/;

const UNAVAILABLE_SYSCALL_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres says these in words only (no code): the socket ended, or a client it already knows is dead. */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'is not queryable',
  'timeout exceeded when trying to connect',
  'Client was closed',
];

/** 55000 is a broad class; only its "database is not currently accepting connections" (ALLOW_CONNECTIONS false) means the store is away. */
const NOT_ACCEPTING = 'not currently accepting connections';

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SYSCALL_CODES.has(code))) return true;
    if (code === '55000' && typeof message === 'string' && message.includes(NOT_ACCEPTING)) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) return true;
    // AggregateError: a connect to a name with several addresses fails with one error per address.
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e))) return true;
    current = cause;
  }
  return false;
}
