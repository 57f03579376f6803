/**
 * The generated corpus: for every endpoint, malformed and hostile variants of one known-good
 * request (auth, method, path params, query, content type, broken JSON, wrong types / giant
 * integers / unicode edges / CR-LF / 1 MB strings at every field of the body schema, deep nesting,
 * oversized bodies, HTTP framing). Channel endpoints get their own corpora (special.ts).
 */
import type { RawRequest } from '../lib/http.js';
import type { StoreKind } from '../lib/sideline.js';
import type { Endpoint } from './endpoints.js';
import { key } from './endpoints.js';
import {
  GIANT_INTEGERS,
  HEADER_INJECTIONS,
  UNICODE_EDGES,
  WRONG_TYPES,
  admits,
  deepArray,
  deepObject,
  fieldsOf,
  isSingleLineField,
  pathName,
  raw,
  setAt,
  toJson,
  type Path,
} from './values.js';

export type Expectation = 'refuse' | 'any';

export interface Case {
  endpoint: string;
  category: string;
  name: string;
  build(ctx: Ctx): RawRequest | Buffer | Promise<RawRequest | Buffer>;
  expect: Expectation;
  /** A dropped connection or a bare 4xx from Node's HTTP parser is a fine answer (the request is not HTTP). */
  framing?: boolean;
  /** Always part of the short form. */
  core?: boolean;
  /** Answers to check further (uploads: names without paths). */
  inspect?: 'upload';
  timeoutMs?: number;
}

export interface Ctx {
  port: number;
  store: StoreKind;
  bearer: string;
  adminBasic: string;
  adminEmail: string;
  agentBasic: string;
  endUserBasic: string;
  ids: {
    ticketA: number;
    ticketB: number;
    scEmail: string;
    scEmailCreateEvent: string;
    unboundAttachment: string;
    boundAttachment: string;
    throwawayToken: number;
    adminUserId: number;
    agentUserId: number;
    groupId: number;
  };
  recipientEmail: string;
  replyToken: string | null;
  slack: { teamId: string; secret: string; channel: string; threadTs: string | null };
  teams: { appId: string; conversationId: string | null; token(overrides?: TeamsTokenOverrides): Promise<string> };
  inboundSecret: string;
  uniq(): string;
}

export interface TeamsTokenOverrides {
  alg?: 'none';
  foreignKey?: boolean;
  exp?: number;
  nbf?: number;
  iss?: string;
  aud?: string;
}

// ------------------------------------------------------------------------------------ helpers

export function fillPath(e: Endpoint, ctx: Ctx, override: Record<string, string> = {}): string {
  return e.path.replace(/:([A-Za-z_]+)/g, (_m, name: string) => override[name] ?? paramValue(e, name, ctx));
}

function paramValue(e: Endpoint, name: string, ctx: Ctx): string {
  const { ids } = ctx;
  switch (name) {
    case 'ticket_id':
      return String(ids.ticketA);
    case 'side_conversation_id':
      return ids.scEmail;
    case 'attachment_id':
      return e.path.startsWith('/api/v2/tickets/side_conversations/') ? ids.unboundAttachment : ids.boundAttachment;
    case 'file_name':
      return 'photo.png';
    case 'team_id':
      return 'T0DELETE';
    case 'id':
      if (e.path.startsWith('/api/v2/users/')) return String(ids.adminUserId);
      if (e.path.startsWith('/api/v2/api_tokens/')) return String(ids.throwawayToken);
      return String(ids.ticketB);
    default:
      return '1';
  }
}

/** A valid body for each JSON endpoint (fresh unique values each time). */
export function baseBody(e: Endpoint, ctx: Ctx): unknown {
  const u = ctx.uniq();
  switch (key(e)) {
    case 'POST /api/v2/users':
      return { user: { name: `Fault User ${u}`, email: `fault-user-${u}@example.com`, role: 'end-user' } };
    case 'POST /api/v2/api_tokens':
      return { api_token: { description: `fault ${u}` } };
    case 'POST /api/v2/groups':
      return { group: { name: `Fault group ${u}`, description: 'made by the fault harness' } };
    case 'POST /api/v2/group_memberships':
      return { group_membership: { user_id: ctx.ids.agentUserId, group_id: ctx.ids.groupId } };
    case 'POST /api/v2/tickets':
      return { ticket: { subject: `Fault ticket ${u}`, comment: { body: 'Opened by the fault harness' }, priority: 'low' } };
    case 'PUT /api/v2/tickets/:id':
      return { ticket: { comment: { body: `Fault comment ${u}` }, priority: 'normal' } };
    case 'POST /api/v2/tickets/:ticket_id/side_conversations':
      return {
        message: { subject: `Fault side conversation ${u}`, body: 'Hello from the fault harness', to: [{ email: ctx.recipientEmail, name: 'Fault Recipient' }] },
        external_ids: { harness: u },
      };
    case 'PUT /api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id':
      return { side_conversation: { state: 'open', subject: `Fault subject ${u}` } };
    case 'POST /api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id/reply':
      return { message: { body: `Fault reply ${u}` } };
    case 'POST /api/v2/sideline/integrations/slack':
      return { slack_workspace: { team_id: 'T0SCRATCH', bot_token: 'xoxb-fault-scratch', signing_secret: 'scratch-signing-secret', name: 'Scratch' } };
    case 'PUT /api/v2/sideline/integrations/teams':
      return { teams_bot: { app_id: ctx.teams.appId, app_password: 'fault-app-password', tenant_id: 'fault-tenant', service_url: 'http://127.0.0.1:9/teams' } };
    default:
      return {};
  }
}

function jsonReq(e: Endpoint, ctx: Ctx, body: string | Buffer | undefined, opts: { auth?: string | null; contentType?: string | null; target?: string; headers?: Array<[string, string]> } = {}): RawRequest {
  const headers: Array<[string, string]> = [];
  const auth = opts.auth === undefined ? ctx.bearer : opts.auth;
  if (auth !== null) headers.push(['Authorization', auth]);
  const ct = opts.contentType === undefined ? (body === undefined ? null : 'application/json') : opts.contentType;
  if (ct !== null) headers.push(['Content-Type', ct]);
  headers.push(...(opts.headers ?? []));
  return { method: e.method, target: opts.target ?? fillPath(e, ctx), headers, ...(body === undefined ? {} : { body }) };
}

/** The endpoint's known-good request, with a body when it takes one. */
function baseRequest(e: Endpoint, ctx: Ctx, opts: { auth?: string | null; headers?: Array<[string, string]> } = {}): RawRequest {
  if (e.bodyKind === 'json') return jsonReq(e, ctx, toJson(baseBody(e, ctx)), opts);
  return jsonReq(e, ctx, undefined, opts);
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

// ------------------------------------------------------------------------------------ generic

function authCases(e: Endpoint): Case[] {
  const k = key(e);
  const protectedRoute = e.access !== 'public';
  const expect: Expectation = protectedRoute ? 'refuse' : 'any';
  const variants: Array<{ name: string; header: (ctx: Ctx) => string | null; core?: boolean; expect?: Expectation }> = [
    { name: 'no Authorization header', header: () => null, core: true },
    { name: 'Basic with a NUL in the login', header: () => `Basic ${b64('fault\u0000admin@example.com:whatever-password')}`, core: true },
    { name: 'Basic email/token with a NUL in the email', header: () => `Basic ${b64(`nul\u0000/token:${'x'.repeat(40)}`)}`, core: true },
    { name: 'Basic wrong password', header: (ctx) => `Basic ${b64(`${ctx.adminEmail}:wrong-password-123`)}` },
    { name: 'Basic not base64', header: () => 'Basic !!!not*base64!!!' },
    { name: 'Basic without colon', header: () => `Basic ${b64('nocolon')}` },
    { name: 'Basic empty login', header: () => `Basic ${b64(':password123')}` },
    { name: 'Basic empty password', header: (ctx) => `Basic ${b64(`${ctx.adminEmail}:`)}` },
    { name: 'Basic invalid UTF-8', header: () => `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28]).toString('base64')}` },
    { name: 'Basic 3 KB login', header: () => `Basic ${b64(`${'a'.repeat(3000)}@example.com:pw`)}` },
    { name: 'Basic email/token wrong token', header: (ctx) => `Basic ${b64(`${ctx.adminEmail}/token:${'y'.repeat(40)}`)}` },
    { name: 'Bearer without token', header: () => 'Bearer' },
    { name: 'Bearer 5 KB token', header: () => `Bearer ${'z'.repeat(5000)}` },
    { name: 'Bearer token with suffix', header: (ctx) => `${ctx.bearer}x` },
    { name: 'Bearer with quotes and unicode', header: () => 'Bearer "tökén"' },
    { name: 'unknown scheme', header: () => 'Digest username="admin", realm="x"' },
    { name: 'scheme only, lots of spaces', header: () => `Basic${' '.repeat(100)}` },
    { name: 'end-user credentials', header: (ctx) => ctx.endUserBasic, expect: e.access === 'any' || !protectedRoute ? 'any' : 'refuse' },
  ];
  if (e.access === 'admin') variants.push({ name: 'agent credentials on an admin route', header: (ctx) => ctx.agentBasic, expect: 'refuse' });
  variants.push({ name: 'lower-case scheme with valid credentials', header: (ctx) => ctx.adminBasic.replace('Basic', 'basic'), expect: 'any' });
  return variants.map((v) => ({
    endpoint: k,
    category: 'auth',
    name: v.name,
    expect: v.expect ?? expect,
    ...(v.core ? { core: true } : {}),
    build: (ctx: Ctx) => baseRequest(e, ctx, { auth: v.header(ctx) }),
  }));
}

function methodCases(e: Endpoint, all: Endpoint[]): Case[] {
  const present = new Set(all.filter((o) => o.path === e.path).map((o) => o.method));
  // One set of method cases per path (the first method listed for it).
  if ([...present].sort()[0] !== e.method) return [];
  const missing = ['PATCH', 'DELETE', 'PUT', 'POST', 'OPTIONS'].filter((m) => !present.has(m)).slice(0, 3);
  return missing.map((m) => ({
    endpoint: key(e),
    category: 'method',
    name: `${m} (not a route)`,
    expect: 'refuse' as const,
    build: (ctx: Ctx) => ({ method: m, target: fillPath(e, ctx), headers: [['Authorization', ctx.bearer], ['Content-Type', 'application/json']] as Array<[string, string]>, body: '{}' }),
  }));
}

const PATH_VALUES: Array<{ label: string; value: string; core?: boolean; lenient?: boolean }> = [
  { label: '36 dashes (UUID-shaped, not a UUID)', value: '------------------------------------', core: true },
  { label: '36 hex digits without dashes', value: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', core: true },
  { label: 'encoded NUL', value: '%00', core: true },
  { label: 'encoded ../ traversal', value: '..%2f..%2fetc%2fpasswd', core: true },
  { label: 'double-dot encoded traversal', value: '%2e%2e%2f%2e%2e%2fetc%2fpasswd' },
  { label: 'giant integer', value: '99999999999999999999999', core: true },
  { label: 'raw ../../etc/passwd', value: '../../etc/passwd' },
  { label: 'bad percent-encoding %ZZ', value: '%ZZ', core: true },
  { label: 'UTF-8 of a lone surrogate', value: '%ED%A0%80' },
  { label: '300 characters', value: 'x'.repeat(300) },
  { label: '-1', value: '-1' },
  { label: '0', value: '0' },
  { label: '1.5', value: '1.5' },
  { label: '2^53', value: '9007199254740992' },
  { label: 'RTL override', value: '%E2%80%AE1' },
  { label: 'zero-width space', value: '%E2%80%8B1' },
  { label: 'emoji', value: '%F0%9F%92%A9' },
  { label: 'unknown UUID', value: '00000000-0000-0000-0000-000000000000' },
  { label: 'CRLF header injection', value: '%0d%0aSet-Cookie:%20x=1' },
  { label: 'encoded ..', value: '%2e%2e' },
  { label: 'null', value: 'null' },
  { label: 'template', value: '{{7*7}}' },
  { label: 'leading space', value: '%201', lenient: true },
  { label: 'hex 0x10', value: '0x10', lenient: true },
];

function pathParamCases(e: Endpoint): Case[] {
  const out: Case[] = [];
  for (const param of e.params) {
    for (const v of PATH_VALUES) {
      const ignored = param === 'file_name';
      out.push({
        endpoint: key(e),
        category: 'path-param',
        name: `${param} = ${v.label}`,
        expect: ignored || v.lenient ? 'any' : 'refuse',
        ...(v.core ? { core: true } : {}),
        build: (ctx) => ({ ...baseRequest(e, ctx), target: fillPath(e, ctx, { [param]: v.value }) }),
      });
    }
    if (param === 'side_conversation_id') {
      out.push({ endpoint: key(e), category: 'path-param', name: `${param} = upper-case UUID`, expect: 'any', build: (ctx) => ({ ...baseRequest(e, ctx), target: fillPath(e, ctx, { [param]: ctx.ids.scEmail.toUpperCase() }) }) });
    }
  }
  return out;
}

function queryCases(e: Endpoint): Case[] {
  const out: Case[] = [];
  for (const q of e.query) {
    const schema = q.schema;
    const isInt = schema['type'] === 'integer';
    const enumLike = Array.isArray(schema['anyOf']) || Array.isArray(schema['enum']);
    const min = typeof schema['minimum'] === 'number' ? (schema['minimum'] as number) : null;
    const max = typeof schema['maximum'] === 'number' ? (schema['maximum'] as number) : null;
    const outOfRange = (n: number) => (min !== null && n < min) || (max !== null && n > max);
    // Ajv coerces query strings; 1e400 becomes Infinity, which it lets through as an integer (harmless where clamped).
    const values: Array<{ label: string; value: string; refuse: boolean }> = isInt
      ? [
          { label: '0', value: '0', refuse: outOfRange(0) },
          { label: '-1', value: '-1', refuse: outOfRange(-1) },
          { label: '1.5', value: '1.5', refuse: true },
          { label: 'abc', value: 'abc', refuse: true },
          { label: 'giant', value: '99999999999999999999', refuse: max !== null },
          { label: '1e400', value: '1e400', refuse: max !== null },
          { label: 'NUL', value: '%00', refuse: true },
          { label: 'NaN', value: 'NaN', refuse: true },
          { label: 'empty', value: '', refuse: false },
          { label: '[]', value: '%5B%5D', refuse: true },
          { label: '2^53+1', value: '9007199254740993', refuse: max !== null },
        ]
      : [
          { label: 'NUL', value: '%00', refuse: enumLike },
          { label: 'lone surrogate bytes', value: '%ED%A0%80', refuse: enumLike },
          { label: '5 KB', value: 'e'.repeat(5000), refuse: enumLike },
          { label: 'RTL', value: '%E2%80%AEevents', refuse: enumLike },
          { label: 'CRLF', value: '%0d%0aX:1', refuse: enumLike },
        ];
    for (const v of values) {
      out.push({
        endpoint: key(e),
        category: 'query',
        name: `${q.name}=${v.label}`,
        expect: v.refuse ? 'refuse' : 'any',
        build: (ctx) => ({ ...baseRequest(e, ctx), target: `${fillPath(e, ctx)}?${q.name}=${v.value}` }),
      });
    }
    out.push({ endpoint: key(e), category: 'query', name: `${q.name} twice`, expect: 'any', build: (ctx) => ({ ...baseRequest(e, ctx), target: `${fillPath(e, ctx)}?${q.name}=1&${q.name}=2` }) });
    out.push({ endpoint: key(e), category: 'query', name: `${q.name}[] bracket form`, expect: 'any', build: (ctx) => ({ ...baseRequest(e, ctx), target: `${fillPath(e, ctx)}?${q.name}[]=1&${q.name}[x]=2` }) });
  }
  if (e.method === 'GET') {
    out.push({ endpoint: key(e), category: 'query', name: 'prototype pollution keys', expect: 'any', build: (ctx) => ({ ...baseRequest(e, ctx), target: `${fillPath(e, ctx)}?__proto__[x]=1&constructor[prototype][y]=2` }) });
    out.push({ endpoint: key(e), category: 'query', name: '1 000 unknown parameters', expect: 'any', build: (ctx) => ({ ...baseRequest(e, ctx), target: `${fillPath(e, ctx)}?${Array.from({ length: 1_000 }, (_, i) => `p${i}=1`).join('&')}` }) });
    out.push({ endpoint: key(e), category: 'query', name: '10 000 parameters (URL over the header limit)', expect: 'refuse', framing: true, build: (ctx) => ({ ...baseRequest(e, ctx), target: `${fillPath(e, ctx)}?${Array.from({ length: 10_000 }, (_, i) => `p${i}=1`).join('&')}` }) });
  }
  return out;
}

const JSON_CONTENT_TYPES: Array<{ label: string; ct: string | null; refuse: boolean; body?: (good: string) => string | Buffer }> = [
  { label: 'text/plain', ct: 'text/plain', refuse: true },
  { label: 'application/xml', ct: 'application/xml', refuse: true, body: () => '<ticket><subject>x</subject></ticket>' },
  { label: 'form-urlencoded', ct: 'application/x-www-form-urlencoded', refuse: true, body: () => 'ticket[subject]=x&message[body]=y' },
  { label: 'multipart without boundary', ct: 'multipart/form-data', refuse: true },
  { label: 'multipart with a JSON body', ct: 'multipart/form-data; boundary=XYZ', refuse: true },
  { label: 'application/octet-stream', ct: 'application/octet-stream', refuse: true },
  { label: 'message/rfc822', ct: 'message/rfc822', refuse: true },
  { label: 'text/json', ct: 'text/json', refuse: true },
  { label: 'no Content-Type', ct: null, refuse: true },
  { label: 'empty Content-Type', ct: '', refuse: true },
  { label: 'APPLICATION/JSON upper case', ct: 'APPLICATION/JSON', refuse: false },
  { label: 'charset=utf-16 with UTF-16 bytes', ct: 'application/json; charset=utf-16', refuse: false, body: (good) => Buffer.from(`\ufeff${good}`, 'utf16le') },
  { label: 'charset=latin1', ct: 'application/json; charset=latin1', refuse: false },
  { label: 'garbage parameters', ct: 'application/json;;;=;charset', refuse: false },
  { label: 'application/vnd.api+json', ct: 'application/vnd.api+json', refuse: true },
];

function contentTypeCases(e: Endpoint): Case[] {
  if (e.bodyKind !== 'json') {
    if (e.method === 'GET') {
      return [
        { endpoint: key(e), category: 'content-type', name: 'GET with a broken JSON body', expect: 'any', build: (ctx) => jsonReq(e, ctx, '{"oops":') },
        { endpoint: key(e), category: 'content-type', name: 'GET with an XML body', expect: 'any', build: (ctx) => jsonReq(e, ctx, '<x/>', { contentType: 'application/xml' }) },
      ];
    }
    if (e.bodyKind === 'none') {
      return [
        { endpoint: key(e), category: 'content-type', name: `${e.method} with a broken JSON body`, expect: 'refuse', build: (ctx) => jsonReq(e, ctx, '{"oops":') },
        { endpoint: key(e), category: 'content-type', name: `${e.method} with a text/plain body`, expect: 'refuse', build: (ctx) => jsonReq(e, ctx, 'hello', { contentType: 'text/plain' }) },
      ];
    }
    return [];
  }
  return JSON_CONTENT_TYPES.map((t) => ({
    endpoint: key(e),
    category: 'content-type',
    name: t.label,
    expect: t.refuse ? 'refuse' : 'any',
    build: (ctx: Ctx) => {
      const good = toJson(baseBody(e, ctx));
      return jsonReq(e, ctx, t.body ? t.body(good) : good, { contentType: t.ct });
    },
  }));
}

const BROKEN_JSON: Array<{ label: string; body: (good: string) => string | Buffer; refuse: boolean; core?: boolean }> = [
  { label: 'unterminated object', body: () => '{', refuse: true, core: true },
  { label: 'truncated good body', body: (g) => g.slice(0, Math.max(1, Math.floor(g.length / 2))), refuse: true },
  { label: 'trailing comma', body: (g) => g.replace(/}$/, ',}'), refuse: true },
  { label: 'single quotes', body: (g) => g.replace(/"/g, "'"), refuse: true },
  { label: 'NaN', body: () => 'NaN', refuse: true },
  { label: 'undefined', body: () => 'undefined', refuse: true },
  { label: 'two documents', body: (g) => `${g}${g}`, refuse: true },
  { label: 'comment', body: (g) => `/* c */ ${g}`, refuse: true },
  { label: '__proto__ key', body: (g) => g.replace(/^\{/, '{"__proto__":{"admin":true},'), refuse: true, core: true },
  { label: 'constructor.prototype', body: (g) => g.replace(/^\{/, '{"constructor":{"prototype":{"admin":true}},'), refuse: true },
  { label: 'null', body: () => 'null', refuse: true },
  { label: 'array', body: () => '[]', refuse: true },
  { label: 'string', body: () => '"hello"', refuse: true },
  { label: 'number', body: () => '42', refuse: true },
  { label: 'empty object', body: () => '{}', refuse: true },
  { label: 'invalid UTF-8 bytes', body: () => Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0xc3, 0x28, 0x7d]), refuse: true },
  { label: 'UTF-8 BOM before a good body', body: (g) => `\ufeff${g}`, refuse: false },
  { label: 'duplicate keys', body: (g) => g.replace(/^\{/, '{"x":1,"x":2,'), refuse: false },
  { label: 'whitespace only', body: () => ' \r\n\t ', refuse: true },
  { label: 'NUL key', body: (g) => g.replace(/^\{/, '{"\\u0000":1,'), refuse: true, core: true },
  { label: 'lone-surrogate key', body: (g) => g.replace(/^\{/, '{"\\ud800":1,'), refuse: true },
  { label: 'raw NUL byte in a string', body: (g) => g.replace(/"([^"]*)"/, '"$1\u0000"'), refuse: true },
  { label: 'raw control characters in a string', body: (g) => g.replace(/"([^"]*)"/, '"$1\u0001\u001f"'), refuse: true },
];

function brokenJsonCases(e: Endpoint): Case[] {
  if (e.bodyKind !== 'json') return [];
  return BROKEN_JSON.map((b) => ({
    endpoint: key(e),
    category: 'broken-json',
    name: b.label,
    expect: b.refuse ? 'refuse' : 'any',
    ...(b.core ? { core: true } : {}),
    build: (ctx: Ctx) => jsonReq(e, ctx, b.body(toJson(baseBody(e, ctx)))),
  }));
}

function fieldCases(e: Endpoint): Case[] {
  if (e.bodyKind !== 'json' || !e.bodySchema) return [];
  const out: Case[] = [];
  const fields = fieldsOf(e.bodySchema);
  const mutate = (path: Path, value: unknown) => (ctx: Ctx) => jsonReq(e, ctx, toJson(setAt(baseBody(e, ctx), path, value)));
  for (const f of fields) {
    const name = pathName(f.path);
    const known = !f.types.has('any');
    // wrong types
    for (const w of WRONG_TYPES) {
      if (admits(f.types, w.kind)) continue;
      out.push({ endpoint: key(e), category: 'wrong-type', name: `${name} = ${w.label}`, expect: known ? 'refuse' : 'any', build: mutate(f.path, w.value) });
    }
    // giant integers everywhere a number may go, and as a wrong type elsewhere
    for (const g of GIANT_INTEGERS) {
      const numeric = admits(f.types, 'integer');
      // Past a declared maximum is refused by the schema; elsewhere (400 digits parse to Infinity) it is the service's call.
      const refuse = !numeric ? known : f.maximum !== null && !g.label.startsWith('-');
      out.push({ endpoint: key(e), category: 'giant-int', name: `${name} = ${g.label}`, expect: refuse ? 'refuse' : 'any', build: mutate(f.path, g.value) });
    }
    if (!f.types.has('string')) continue;
    const enumField = f.enumValues !== null;
    for (const u of UNICODE_EDGES) {
      out.push({ endpoint: key(e), category: 'unicode', name: `${name}: ${u.label}`, expect: u.refuse || enumField ? 'refuse' : 'any', ...(u.refuse && u.label === 'NUL' ? { core: true } : {}), build: mutate(f.path, u.value) });
    }
    const singleLine = isSingleLineField(f.path);
    for (const h of HEADER_INJECTIONS) {
      out.push({ endpoint: key(e), category: 'header-injection', name: `${name}: ${h.label}`, expect: (h.refuse && singleLine) || enumField ? 'refuse' : 'any', build: mutate(f.path, h.value) });
    }
    out.push({ endpoint: key(e), category: 'huge', name: `${name}: 1 MiB string (body over the limit)`, expect: 'refuse', build: mutate(f.path, 'A'.repeat(1024 * 1024)) });
    const under = 900 * 1024;
    out.push({
      endpoint: key(e),
      category: 'huge',
      name: `${name}: 900 KiB string (body under the limit)`,
      expect: (f.maxLength !== null && f.maxLength < under) || enumField ? 'refuse' : 'any',
      build: mutate(f.path, `${'B'.repeat(under - 10)}\u00e9`),
    });
    out.push({ endpoint: key(e), category: 'huge', name: `${name}: 400 000 three-byte characters`, expect: 'refuse', build: mutate(f.path, '€'.repeat(400_000)) });
  }
  return out;
}

function deepCases(e: Endpoint): Case[] {
  if (e.bodyKind !== 'json') return [];
  const out: Case[] = [
    { endpoint: key(e), category: 'deep', name: 'root: object nested 10 000 levels', expect: 'refuse', core: true, build: (ctx) => jsonReq(e, ctx, toJson(deepObject(10_000))) },
    { endpoint: key(e), category: 'deep', name: 'root: array nested 10 000 levels', expect: 'refuse', build: (ctx) => jsonReq(e, ctx, toJson(deepArray(10_000))) },
  ];
  const fields = e.bodySchema ? fieldsOf(e.bodySchema) : [];
  const objects = fields.filter((f) => f.types.has('object')).slice(0, 3);
  for (const f of objects) {
    out.push({ endpoint: key(e), category: 'deep', name: `${pathName(f.path)}: object nested 10 000 levels`, expect: 'refuse', build: (ctx) => jsonReq(e, ctx, toJson(setAt(baseBody(e, ctx), f.path, deepObject(10_000)))) });
    out.push({ endpoint: key(e), category: 'deep', name: `${pathName(f.path)}: nested 60 levels (under the parser's limit)`, expect: 'any', build: (ctx) => jsonReq(e, ctx, toJson(setAt(baseBody(e, ctx), f.path, deepObject(60)))) });
  }
  out.push({ endpoint: key(e), category: 'deep', name: 'root: 100 000 keys', expect: 'any', build: (ctx) => {
    const body = baseBody(e, ctx) as Record<string, unknown>;
    const wide: Record<string, unknown> = { ...body };
    for (let i = 0; i < 100_000; i++) wide[`k${i}`] = i;
    return jsonReq(e, ctx, toJson(wide));
  } });
  return out;
}

function oversizedCases(e: Endpoint): Case[] {
  if (e.method === 'GET') return [];
  const k = key(e);
  return [
    { endpoint: k, category: 'oversized', name: '2 MiB body', expect: 'refuse', core: true, build: (ctx) => jsonReq(e, ctx, toJson({ pad: 'P'.repeat(2 * 1024 * 1024), ...(baseBody(e, ctx) as object) })) },
    { endpoint: k, category: 'oversized', name: 'Content-Length 10^12 with a small body', expect: 'refuse', framing: true, build: (ctx) => ({ ...jsonReq(e, ctx, '{}'), contentLength: '1000000000000' }) },
    {
      endpoint: k,
      category: 'oversized',
      name: '2 MiB chunked body',
      expect: 'refuse',
      framing: true,
      build: (ctx) => {
        const payload = Buffer.from(toJson({ pad: 'C'.repeat(2 * 1024 * 1024) }));
        const chunks: Buffer[] = [];
        for (let at = 0; at < payload.length; at += 65_536) {
          const part = payload.subarray(at, at + 65_536);
          chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'));
        }
        chunks.push(Buffer.from('0\r\n\r\n'));
        return { ...jsonReq(e, ctx, Buffer.concat(chunks), { headers: [['Transfer-Encoding', 'chunked']] }), contentLength: 'none' };
      },
    },
  ];
}

/** HTTP framing abuse: for a few endpoints only (it tests Node's parser more than Sideline). */
export function framingCases(e: Endpoint): Case[] {
  const k = key(e);
  const c = (name: string, build: Case['build']): Case => ({ endpoint: k, category: 'framing', name, expect: 'any', framing: true, build });
  return [
    c('Content-Length and Transfer-Encoding together', (ctx) => ({ ...jsonReq(e, ctx, '5\r\n{"a":\r\n0\r\n\r\n', { headers: [['Transfer-Encoding', 'chunked']] }), contentLength: '3' })),
    c('bad chunk size', (ctx) => ({ ...jsonReq(e, ctx, 'zz\r\n{}\r\n0\r\n\r\n', { headers: [['Transfer-Encoding', 'chunked']] }), contentLength: 'none' })),
    c('Content-Length abc', (ctx) => ({ ...jsonReq(e, ctx, '{}'), contentLength: 'abc' })),
    c('Content-Length -1', (ctx) => ({ ...jsonReq(e, ctx, '{}'), contentLength: '-1' })),
    c('two different Content-Lengths', (ctx) => ({ ...jsonReq(e, ctx, '{}', { headers: [['Content-Length', '5']] }), contentLength: '2' })),
    c('Content-Length shorter than the body (smuggled second request)', (ctx) => ({ ...jsonReq(e, ctx, `{}GET /api/v2/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: ${ctx.bearer}\r\n\r\n`), contentLength: '2' })),
    c('Content-Length longer than the body, then EOF', (ctx) => ({ ...jsonReq(e, ctx, '{"a":1}'), contentLength: '500', endAfterWrite: true })),
    c('CR/LF injected into a header value', (ctx) => jsonReq(e, ctx, '{}', { headers: [['X-Request-Id', 'abc\r\nX-Injected: 1']] })),
    c('bare CR in a header value', (ctx) => jsonReq(e, ctx, '{}', { headers: [['X-Request-Id', 'abc\rdef']] })),
    c('NUL byte in a header value', (ctx) => jsonReq(e, ctx, '{}', { headers: [['X-Note', 'a\u0000b']] })),
    c('header name with a space', (ctx) => jsonReq(e, ctx, '{}', { headers: [['Bad Header', 'x']] })),
    c('32 KiB header', (ctx) => jsonReq(e, ctx, '{}', { headers: [['X-Big', 'h'.repeat(32 * 1024)]] })),
    c('HTTP/1.0 without Host', (ctx) => Buffer.from(`${e.method} ${fillPath(e, ctx)} HTTP/1.0\r\nAuthorization: ${ctx.bearer}\r\n\r\n`, 'latin1')),
    c('HTTP/2.0 request line', (ctx) => Buffer.from(`${e.method} ${fillPath(e, ctx)} HTTP/2.0\r\nHost: x\r\n\r\n`, 'latin1')),
    c('lower-case method', (ctx) => ({ ...jsonReq(e, ctx, '{}'), method: e.method.toLowerCase() })),
    c('absolute-form target to another host', (ctx) => ({ ...jsonReq(e, ctx, '{}'), target: `http://evil.example.com${fillPath(e, ctx)}` })),
    c('LF-only line endings', (ctx) => Buffer.from(`${e.method} ${fillPath(e, ctx)} HTTP/1.1\nHost: x\nAuthorization: ${ctx.bearer}\nConnection: close\n\n`, 'latin1')),
  ];
}

/** Ordinary-looking but odd headers, for a few endpoints. */
export function headerCases(e: Endpoint): Case[] {
  const k = key(e);
  const c = (name: string, headers: (ctx: Ctx) => Array<[string, string]>): Case => ({
    endpoint: k,
    category: 'headers',
    name,
    expect: 'any',
    build: (ctx) => {
      const base = baseRequest(e, ctx);
      return { ...base, headers: [...(base.headers ?? []).filter(([n]) => !headers(ctx).some(([m]) => m.toLowerCase() === n.toLowerCase())), ...headers(ctx)] };
    },
  });
  return [
    c('Host of another domain', () => [['Host', 'evil.example.com']]),
    c('Host with a path and CR-free junk', () => [['Host', '../../etc/passwd:99999']]),
    c('10 KiB Host', () => [['Host', `${'h'.repeat(10_000)}.example.com`]]),
    c('X-Forwarded-Host and -Proto', () => [['X-Forwarded-Host', 'evil.example.com'], ['X-Forwarded-Proto', 'gopher']]),
    c('Accept: text/html', () => [['Accept', 'text/html']]),
    c('Expect: 100-continue', () => [['Expect', '100-continue']]),
    c('Content-Encoding: gzip on a plain body', () => [['Content-Encoding', 'gzip']]),
    c('two Authorization headers', (ctx) => [['Authorization', 'Bearer wrong'], ['Authorization', ctx.bearer]]),
    c('X-Request-Id of 8 KiB', () => [['X-Request-Id', 'r'.repeat(8192)]]),
  ];
}

/** The generic corpus of one endpoint. */
export function genericCases(e: Endpoint, all: Endpoint[]): Case[] {
  const cases: Case[] = [];
  if (e.bodyKind === 'json' || e.bodyKind === 'none') {
    cases.push(...authCases(e), ...methodCases(e, all), ...pathParamCases(e), ...queryCases(e), ...contentTypeCases(e), ...brokenJsonCases(e), ...fieldCases(e), ...deepCases(e), ...oversizedCases(e));
  } else {
    cases.push(...methodCases(e, all), ...oversizedCases(e));
  }
  return cases;
}

export { raw };
