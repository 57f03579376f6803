/** Hostile values, JSON with raw (non-JSON.stringify-able) pieces, and a walk over request schemas. */

/** A piece of JSON text embedded as is (giant integers, 1e400, 10k-level nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}
export const raw = (text: string) => new RawJson(text);

/** JSON.stringify that writes RawJson pieces verbatim. */
export function toJson(value: unknown): string {
  const pieces: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      pieces.push(v.text);
      return `__FAULTS_RAW_${pieces.length - 1}__`;
    }
    return v;
  });
  return pieces.reduce((out, piece, i) => out.replace(`"__FAULTS_RAW_${i}__"`, () => piece), text ?? 'null');
}

export type Path = Array<string | number>;

/** A copy of `value` with `path` set (objects and arrays created on the way). */
export function setAt(value: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (typeof head === 'number') {
    const array = Array.isArray(value) ? [...(value as unknown[])] : [];
    array[head] = setAt(array[head], rest, replacement);
    return array;
  }
  const object = value && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
  object[head!] = setAt(object[head!], rest, replacement);
  return object;
}

export const pathName = (path: Path) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');

// ----------------------------------------------------------------------------- schemas

type Schema = Record<string, unknown>;

export interface Field {
  path: Path;
  /** JSON types the schema admits: string, integer, number, boolean, object, array, null; 'any' when unconstrained. */
  types: Set<string>;
  enumValues: unknown[] | null;
  maxLength: number | null;
  maximum: number | null;
}

function leafMembers(schema: Schema): Schema[] {
  const subs = [...((schema['anyOf'] as Schema[] | undefined) ?? []), ...((schema['allOf'] as Schema[] | undefined) ?? [])];
  if (subs.length === 0) return [schema];
  const out = subs.flatMap(leafMembers);
  return schema['type'] ? [{ ...schema, anyOf: undefined, allOf: undefined }, ...out] : out;
}

function typesOf(schema: Schema): { types: Set<string>; enumValues: unknown[] | null } {
  const types = new Set<string>();
  const enumValues: unknown[] = [];
  let allEnum = true;
  for (const m of leafMembers(schema)) {
    const e = m['enum'];
    if (Array.isArray(e) && e.length > 0 && e.every((v) => v === null)) {
      types.add('null');
      continue;
    }
    const t = m['type'];
    for (const type of Array.isArray(t) ? t : t ? [t] : []) types.add(String(type));
    if (m['nullable'] === true) types.add('null');
    if (Array.isArray(e)) enumValues.push(...(e as unknown[]));
    else if ('const' in m) enumValues.push(m['const']);
    else allEnum = false;
  }
  if (types.size === 0) types.add('any');
  return { types, enumValues: allEnum && enumValues.length > 0 ? enumValues : null };
}

function members(schema: Schema): Schema[] {
  const out = [schema];
  for (const sub of (schema['anyOf'] as Schema[] | undefined) ?? []) out.push(...members(sub));
  for (const sub of (schema['allOf'] as Schema[] | undefined) ?? []) out.push(...members(sub));
  return out;
}

/** Every field a request body schema declares, depth first (array items at index 0). */
export function fieldsOf(schema: Schema | null, path: Path = [], out: Field[] = []): Field[] {
  if (!schema) return out;
  if (path.length > 0) {
    const { types, enumValues } = typesOf(schema);
    const ml = members(schema).map((s) => s['maxLength']).find((v) => typeof v === 'number') as number | undefined;
    const max = members(schema).map((s) => s['maximum']).find((v) => typeof v === 'number') as number | undefined;
    out.push({ path, types, enumValues, maxLength: ml ?? null, maximum: max ?? null });
  }
  for (const s of members(schema)) {
    const properties = s['properties'] as Record<string, Schema> | undefined;
    if (properties) for (const [name, sub] of Object.entries(properties)) fieldsOf(sub, [...path, name], out);
    if (s['type'] === 'array' && s['items']) fieldsOf(s['items'] as Schema, [...path, 0], out);
  }
  return out;
}

/** Does a JSON value of kind `kind` satisfy types `types` (type-wise only)? */
export function admits(types: Set<string>, kind: string): boolean {
  if (types.has('any')) return true;
  if (types.has(kind)) return true;
  if (kind === 'integer' && types.has('number')) return true;
  return false;
}

// ----------------------------------------------------------------------------- values

/** Values of every JSON type, to put where another type belongs. */
export const WRONG_TYPES: Array<{ label: string; kind: string; value: unknown }> = [
  { label: 'null', kind: 'null', value: null },
  { label: 'true', kind: 'boolean', value: true },
  { label: '0', kind: 'integer', value: 0 },
  { label: '-1', kind: 'integer', value: -1 },
  { label: '1.5', kind: 'number', value: 1.5 },
  { label: '"1"', kind: 'string', value: '1' },
  { label: '""', kind: 'string', value: '' },
  { label: '[]', kind: 'array', value: [] },
  { label: '[null]', kind: 'array', value: [null] },
  { label: '{}', kind: 'object', value: {} },
  { label: '{"$gt":""}', kind: 'object', value: { $gt: '' } },
  // JSON.parse gives Infinity; Ajv lets it through an integer inside a union (anyOf), so it is judged with the giant integers.
  { label: '1e400 (Infinity)', kind: 'integer', value: raw('1e400') },
];

/** Integers past every limit, as JSON text. */
export const GIANT_INTEGERS: Array<{ label: string; value: RawJson }> = [
  { label: '2^53+1', value: raw('9007199254740993') },
  { label: '30 digits', value: raw('123456789012345678901234567890') },
  { label: '-2^63-1', value: raw('-9223372036854775809') },
  { label: '2^63', value: raw('9223372036854775808') },
  { label: '1e308', value: raw('1e308') },
  { label: '-0', value: raw('-0') },
  { label: '400 digits', value: raw('9'.repeat(400)) },
];

export interface HostileString {
  label: string;
  value: string;
  /** Every JSON route must refuse it (NUL and unpaired surrogates are not storable text). */
  refuse: boolean;
}

export const UNICODE_EDGES: HostileString[] = [
  { label: 'NUL', value: 'a\u0000b', refuse: true },
  { label: 'lone high surrogate', value: 'a\ud800b', refuse: true },
  { label: 'lone low surrogate', value: '\udc00', refuse: true },
  { label: 'reversed surrogate pair', value: '\udc00\ud800', refuse: true },
  { label: 'RTL override', value: 'invoice\u202etxt.exe', refuse: false },
  { label: 'zero-width characters', value: 'z\u200bw\u200c\u200dj\u2060\ufeff', refuse: false },
  { label: 'BOM only', value: '\ufeff', refuse: false },
  { label: 'noncharacters U+FFFE/U+FFFF', value: '\ufffe\uffff', refuse: false },
  { label: 'emoji ZWJ sequence', value: '👩‍👩‍👧‍👦🏳️‍🌈', refuse: false },
  { label: '500 combining marks', value: `a${'\u0301'.repeat(500)}`, refuse: false },
  { label: 'U+2028/U+2029 separators', value: 'one\u2028two\u2029three', refuse: false },
  { label: 'C1 controls (NEL, CSI)', value: 'a\u0085b\u009bc', refuse: false },
  { label: 'DEL and ESC', value: 'a\u007fb\u001b[31mc', refuse: false },
  { label: 'Cyrillic homoglyphs', value: 'аdmin@exаmple.com', refuse: false },
  { label: 'private use', value: '\ue000\udb80\udc00', refuse: false },
];

export const HEADER_INJECTIONS: HostileString[] = [
  { label: 'CRLF Bcc', value: 'Hello\r\nBcc: victim@example.com', refuse: true },
  { label: 'LF header', value: 'Hello\nX-Injected: 1', refuse: true },
  { label: 'CR only', value: 'Hello\rX-Injected: 1', refuse: true },
  { label: 'CRLFCRLF body', value: 'Hello\r\n\r\n<html>injected</html>', refuse: true },
  { label: 'percent-encoded CRLF', value: 'Hello%0d%0aBcc:%20x@example.com', refuse: false },
  { label: 'encoded-word CRLF', value: '=?utf-8?q?Hello=0D=0ABcc:_x@example.com?=', refuse: false },
  { label: 'tab', value: 'Hello\tthere', refuse: true },
];

/** Fields that end up in mail headers or must be single lines by the service's own rules. */
export function isSingleLineField(path: Path): boolean {
  const last = String(path[path.length - 1]);
  const joined = pathName(path);
  // `message.from` is only compared with the caller (user_id, email); its other properties are ignored.
  if (joined.startsWith('message.from.') && last !== 'email') return false;
  if (/^message\.(subject)$|^side_conversation\.subject$/.test(joined)) return true;
  if (/(^|\.)to\[0\]\.name$/.test(joined)) return true;
  if (['email', 'team_id', 'bot_token', 'signing_secret', 'app_id', 'app_password', 'tenant_id', 'slack_workspace_id', 'slack_channel_id', 'msteams_channel_id'].includes(last)) return true;
  if (/^(user|group|slack_workspace)\.name$/.test(joined)) return true;
  return false;
}

/** `{"a":{"a":…}}` n levels deep. */
export const deepObject = (n: number) => raw(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
/** `[[[…]]]` n levels deep. */
export const deepArray = (n: number) => raw(`${'['.repeat(n)}${']'.repeat(n)}`);
