/**
 * Who an inbound message is from, as far as we can tell. A From: header is whatever the sender
 * typed, so it names one of our users only when the receiving MX vouches for it: the topmost
 * Authentication-Results header from the configured authserv-id (INBOUND_TRUSTED_AUTHSERV_ID; an
 * MX prepends its own, RFC 8601) shows dmarc=pass, or dkim=pass for a domain aligned with the
 * From domain, and no dmarc failure. Anything else is recorded by name and address only.
 */

export interface HeaderLine {
  key: string;
  line: string;
}

export interface SenderIdentityInput {
  /** The message's header lines in order (mailparser's headerLines). */
  headerLines: readonly HeaderLine[];
  fromAddress: string;
  trustedAuthservId: string | undefined;
}

interface AuthResult {
  method: string;
  result: string;
  properties: Map<string, string>;
}

/** Drops (possibly nested) comments, which may contain anything, including ';' and '='. */
function withoutComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      if (depth === 0) out += c + value[i + 1]!;
      i += 1;
      continue;
    }
    if (c === '"' && depth === 0) quoted = !quoted;
    if (!quoted && c === '(') depth += 1;
    else if (!quoted && c === ')' && depth > 0) depth -= 1;
    else if (depth === 0) out += c;
  }
  return out;
}

export function parseAuthenticationResults(headerValue: string): { authservId: string; results: AuthResult[] } {
  const [head = '', ...resinfos] = withoutComments(headerValue.replace(/\r?\n[ \t]+/g, ' ')).split(';');
  const authservId = (head.trim().split(/\s+/)[0] ?? '').toLowerCase();
  const results: AuthResult[] = [];
  for (const resinfo of resinfos) {
    const tokens = resinfo.trim().split(/\s+/).filter(Boolean);
    const first = /^([a-z0-9_-]+)(?:\/[^=]*)?=([a-z0-9_-]+)$/i.exec(tokens[0] ?? '');
    if (!first) continue;
    const properties = new Map<string, string>();
    for (const token of tokens.slice(1)) {
      const at = token.indexOf('=');
      if (at > 0) properties.set(token.slice(0, at).toLowerCase(), token.slice(at + 1).replace(/^"|"$/g, '').toLowerCase());
    }
    results.push({ method: first[1]!.toLowerCase(), result: first[2]!.toLowerCase(), properties });
  }
  return { authservId, results };
}

/** Relaxed DMARC alignment: the same domain, or the From domain under the signing one. */
function aligned(fromDomain: string, domain: string | undefined): boolean {
  if (!domain) return false;
  const d = domain.replace(/^@/, '').replace(/.*@/, '');
  return fromDomain === d || fromDomain.endsWith(`.${d}`);
}

/** True when the trusted MX vouches that the From address's domain sent this message. */
export function senderIsVouchedFor(input: SenderIdentityInput): boolean {
  const trusted = input.trustedAuthservId?.trim().toLowerCase();
  if (!trusted) return false;
  const fromDomain = input.fromAddress.split('@').pop()!.toLowerCase();
  const header = input.headerLines
    .filter((h) => h.key.toLowerCase() === 'authentication-results')
    .map((h) => parseAuthenticationResults(h.line.replace(/^[^:]*:/, '')))
    .find((parsed) => parsed.authservId === trusted);
  if (!header) return false;
  const dmarc = header.results.filter((r) => r.method === 'dmarc');
  if (dmarc.some((r) => r.result === 'fail')) return false;
  if (dmarc.some((r) => r.result === 'pass' && (!r.properties.has('header.from') || r.properties.get('header.from') === fromDomain))) return true;
  return header.results.some((r) => r.method === 'dkim' && r.result === 'pass' && aligned(fromDomain, r.properties.get('header.d') ?? r.properties.get('header.i')));
}
