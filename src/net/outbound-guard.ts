/**
 * Outbound address guard: the service makes requests to URLs that come from outside (a Teams
 * activity's serviceUrl, a webhook endpoint), so a caller could aim it at the cloud metadata
 * address, a database on the private network or the process itself. The guard refuses those
 * targets twice: before the request (the URL's host, resolved) and at connect time (a lookup
 * function for the HTTP agent), because a name may resolve differently the second time (DNS
 * rebinding). The operator opts out with OUTBOUND_ALLOW_PRIVATE=true (loopback fakes in tests,
 * an on-premises Bot Framework proxy).
 */
import dns from 'node:dns';
import net from 'node:net';

export class OutboundAddressRefused extends Error {
  readonly code = 'EOUTBOUNDREFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'OutboundAddressRefused';
  }
}

type Range = readonly [base: bigint, prefix: number];

function parseIpv4(ip: string): bigint | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(input: string): bigint | undefined {
  let ip = input;
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  // A trailing dotted quad (::ffff:10.0.0.1) stands for the last two groups.
  const lastColon = ip.lastIndexOf(':');
  const tail = ip.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIpv4(tail);
    if (v4 === undefined) return undefined;
    ip = `${ip.slice(0, lastColon + 1)}${((v4 >> 16n) & 0xffffn).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

function v4(cidr: string): Range {
  const [base, prefix] = cidr.split('/') as [string, string];
  return [parseIpv4(base)!, Number(prefix)];
}

function v6(cidr: string): Range {
  const [base, prefix] = cidr.split('/') as [string, string];
  return [parseIpv6(base)!, Number(prefix)];
}

/** Not public unicast: nothing an outside URL may make us connect to. */
const PRIVATE_V4: readonly Range[] = [
  v4('0.0.0.0/8'), // "this network"
  v4('10.0.0.0/8'),
  v4('100.64.0.0/10'), // carrier-grade NAT
  v4('127.0.0.0/8'),
  v4('169.254.0.0/16'), // link-local, incl. 169.254.169.254 (cloud metadata)
  v4('172.16.0.0/12'),
  v4('192.0.0.0/24'), // IETF protocol assignments
  v4('192.0.2.0/24'), // documentation
  v4('192.88.99.0/24'), // 6to4 relay anycast
  v4('192.168.0.0/16'),
  v4('198.18.0.0/15'), // benchmarking
  v4('198.51.100.0/24'),
  v4('203.0.113.0/24'),
  v4('224.0.0.0/4'), // multicast
  v4('240.0.0.0/4'), // reserved, incl. 255.255.255.255
];

const PRIVATE_V6: readonly Range[] = [
  v6('::/128'), // unspecified
  v6('::1/128'), // loopback
  v6('100::/64'), // discard
  v6('2001:db8::/32'), // documentation
  v6('fc00::/7'), // unique local
  v6('fe80::/10'), // link-local
  v6('fec0::/10'), // old site-local
  v6('ff00::/8'), // multicast
];

function inRange(value: bigint, bits: number, [base, prefix]: Range): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === base >> shift;
}

function isPrivateV4(value: bigint): boolean {
  return PRIVATE_V4.some((range) => inRange(value, 32, range));
}

/** IPv6 forms that carry an IPv4 address inside: judged by the address they carry. */
function embeddedV4(value: bigint): bigint | undefined {
  const high96 = value >> 32n;
  if (high96 === 0xffffn) return value & 0xffffffffn; // ::ffff:a.b.c.d (mapped)
  if (high96 === 0n) return value & 0xffffffffn; // ::a.b.c.d (deprecated compatible)
  if (high96 === 0x0064ff9b0000000000000000n) return value & 0xffffffffn; // 64:ff9b::/96 NAT64
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn; // 2002:AABB:CCDD::/48 6to4
  return undefined;
}

/**
 * True for every address an outside URL must not reach: loopback, RFC 1918, CGNAT, link-local,
 * unique-local, multicast, reserved, and IPv6 forms embedding one of those. Not an IP at all: true
 * (refusing what we cannot judge).
 */
export function isPrivateAddress(ip: string): boolean {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = net.isIP(address.split('%')[0] ?? '');
  if (family === 4) return isPrivateV4(parseIpv4(address)!);
  if (family === 6) {
    const value = parseIpv6(address);
    if (value === undefined) return true;
    if (PRIVATE_V6.some((range) => inRange(value, 128, range))) return true;
    const inner = embeddedV4(value);
    return inner !== undefined && isPrivateV4(inner);
  }
  return true;
}

export interface OutboundUrlOptions {
  allowPrivate: boolean;
  requireHttps?: boolean;
  /** The setting that allows private targets, named in refusals (default OUTBOUND_ALLOW_PRIVATE). */
  allowSetting?: string;
}

/**
 * Throws OutboundAddressRefused unless the URL is http(s) (https when required), carries no
 * credentials and, unless private targets are allowed, its host neither is nor resolves to a
 * private address. A host that does not resolve at all passes (the connect-time lookup decides).
 */
export async function checkOutboundUrl(url: string, options: OutboundUrlOptions): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundAddressRefused(`"${url}" is not an absolute URL.`);
  }
  if (parsed.protocol !== 'https:' && (options.requireHttps || parsed.protocol !== 'http:')) {
    throw new OutboundAddressRefused(`${parsed.origin === 'null' ? url : parsed.origin} must use ${options.requireHttps ? 'https' : 'http or https'}.`);
  }
  if (parsed.username || parsed.password) throw new OutboundAddressRefused('The URL must not carry a user name or password.');
  if (options.allowPrivate) return;
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (net.isIP(host)) {
    if (isPrivateAddress(host)) throw refusal(parsed.hostname, host, options.allowSetting);
    return;
  }
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true, verbatim: true });
  } catch {
    // A name that does not resolve reaches nothing now; if it resolves later, guardedLookup judges
    // it at connect time. Refusing it here would only make configuration depend on today's DNS.
    return;
  }
  const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
  if (blocked) throw refusal(parsed.hostname, blocked.address, options.allowSetting);
}

function refusal(hostname: string, address: string, allowSetting = 'OUTBOUND_ALLOW_PRIVATE'): OutboundAddressRefused {
  const resolved = hostname === address || `[${address}]` === hostname ? '' : ` (resolves to ${address})`;
  return new OutboundAddressRefused(
    `The host ${hostname}${resolved} is a private, loopback or link-local address; outbound requests there are refused (set ${allowSetting}=true to allow them).`,
  );
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
export type GuardedLookup = (hostname: string, options: dns.LookupOptions | number | LookupCallback, callback?: LookupCallback) => void;

/**
 * A dns.lookup-compatible function for http(s).Agent({ lookup }) or undici's connect options: it
 * resolves as dns.lookup does and fails the connection when any answer is a private address.
 * (Node connects to IP literals without a lookup: checkOutboundUrl judges those first.)
 */
export function guardedLookup(allowPrivate: boolean, allowSetting?: string): GuardedLookup {
  return (hostname, optionsOrCallback, maybeCallback) => {
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as LookupCallback;
    const options: dns.LookupOptions =
      typeof optionsOrCallback === 'number' ? { family: optionsOrCallback } : typeof optionsOrCallback === 'object' ? optionsOrCallback : {};
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, options.all ? [] : '', undefined);
      if (!allowPrivate) {
        const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
        if (blocked) return callback(refusal(hostname, blocked.address, allowSetting), options.all ? [] : '', undefined);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', undefined);
      callback(null, first.address, first.family);
    });
  };
}
