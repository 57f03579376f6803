/**
 * Corpora of the endpoints that do not take a JSON body of ours: attachment uploads (multipart),
 * inbound email (raw RFC 822), Slack's Events API (signed raw JSON) and Teams activities (JWT).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { RawRequest } from '../lib/http.js';
import type { Endpoint } from './endpoints.js';
import { key } from './endpoints.js';
import type { Case, Ctx, Expectation } from './corpus.js';
import { deepObject, toJson } from './values.js';

// ------------------------------------------------------------------------------------ multipart

interface Part {
  name?: string;
  filename?: string;
  /** Raw `filename*=` value. */
  filenameStar?: string;
  contentType?: string;
  data: Buffer | string;
  rawHeaders?: string;
}

function multipartBody(boundary: string, parts: Part[], options: { closing?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let header = p.rawHeaders;
    if (header === undefined) {
      let disposition = `Content-Disposition: form-data; name="${p.name ?? 'file'}"`;
      if (p.filename !== undefined) disposition += `; filename="${p.filename}"`;
      if (p.filenameStar !== undefined) disposition += `; filename*=${p.filenameStar}`;
      header = `${disposition}\r\n${p.contentType ? `Content-Type: ${p.contentType}\r\n` : ''}`;
    }
    chunks.push(Buffer.from(`--${boundary}\r\n${header}\r\n`, 'utf8'), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data, 'utf8'), Buffer.from('\r\n'));
  }
  if (options.closing !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

export function multipartCases(e: Endpoint): Case[] {
  const k = key(e);
  const boundary = '----faults-boundary-7MA4YWxkTrZu0gW';
  const req = (ctx: Ctx, body: Buffer, opts: { ct?: string | null; auth?: string | null } = {}): RawRequest => {
    const headers: Array<[string, string]> = [];
    const auth = opts.auth === undefined ? ctx.bearer : opts.auth;
    if (auth) headers.push(['Authorization', auth]);
    const ct = opts.ct === undefined ? `multipart/form-data; boundary=${boundary}` : opts.ct;
    if (ct !== null) headers.push(['Content-Type', ct]);
    return { method: 'POST', target: e.path, headers, body };
  };
  const file = (parts: Part[], expect: Expectation, name: string, extra: Partial<Case> = {}): Case => ({
    endpoint: k,
    category: 'multipart',
    name,
    expect,
    inspect: 'upload',
    build: (ctx) => req(ctx, multipartBody(boundary, parts)),
    ...extra,
  });
  const text = 'hello from the fault harness\n';
  return [
    file([{ filename: 'fault.txt', data: text }], 'any', 'a plain text file (baseline)', { core: true }),
    file([{ filename: '../../etc/passwd', data: text }], 'any', 'file name ../../etc/passwd', { core: true }),
    file([{ filename: '..\\..\\windows\\win.ini', data: text }], 'any', 'file name ..\\..\\windows\\win.ini'),
    file([{ filename: '/etc/passwd', data: text }], 'any', 'absolute file name /etc/passwd'),
    file([{ filename: '%2e%2e%2f%2e%2e%2fetc%2fpasswd', data: text }], 'any', 'percent-encoded traversal in the file name'),
    file([{ filename: 'x.txt', filenameStar: "UTF-8''..%2F..%2F..%2Fetc%2Fshadow", data: text }], 'any', "filename*=UTF-8''..%2F..%2Fetc%2Fshadow"),
    file([{ filename: 'x.txt', filenameStar: "UTF-8''a%00b%0d%0aX-Injected%3a1.txt", data: text }], 'any', 'NUL and CR/LF in filename*'),
    file([{ filename: 'invoice\u202etxt.exe', data: text }], 'any', 'RTL override in the file name'),
    file([{ filename: 'z\u200bero\ufeff.txt', data: text }], 'any', 'zero-width characters in the file name'),
    file([{ filename: `${'n'.repeat(10_000)}.txt`, data: text }], 'any', '10 000-character file name'),
    file([{ filename: '', data: text }], 'any', 'empty file name'),
    file([{ filename: '...', data: text }], 'any', 'file name of dots'),
    file([{ filename: 'x.txt', filenameStar: "UTF-8''%ED%A0%80.txt", data: text }], 'any', 'UTF-8 of a lone surrogate in filename*'),
    file([{ filename: 'photo.png', contentType: 'text/html', data: PNG_1x1 }], 'any', 'PNG bytes claimed as text/html'),
    file([{ filename: 'page.png', contentType: 'image/png', data: '<html><script>alert(1)</script></html>' }], 'any', 'HTML bytes claimed as image/png'),
    file([{ filename: 'empty.bin', data: Buffer.alloc(0) }], 'any', 'zero-byte file'),
    file([{ name: 'upload', filename: 'fault.txt', data: text }], 'refuse', 'wrong field name', { inspect: undefined }),
    file([{ name: 'file', data: text }], 'refuse', 'field without a file name (not a file)', { inspect: undefined }),
    file([{ filename: 'one.txt', data: 'one' }, { filename: 'two.txt', data: 'two' }], 'any', 'two files in the field'),
    file(Array.from({ length: 11 }, (_, i) => ({ filename: `f${i}.txt`, data: 'x' })), 'refuse', '11 files (over the files limit)', { inspect: undefined }),
    file(Array.from({ length: 25 }, (_, i) => ({ name: `f${i}`, data: 'x' })), 'refuse', '25 parts (over the parts limit)', { inspect: undefined }),
    file([{ name: 'note', data: 'v'.repeat(200 * 1024) }], 'refuse', '200 KiB form field and no file', { inspect: undefined }),
    file([{ filename: 'x.txt', rawHeaders: `Content-Disposition: form-data; name="file"; filename="x.txt"\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n`, data: text }], 'any', '3000 part headers'),
    {
      endpoint: k, category: 'multipart', name: 'file over ATTACHMENT_MAX_BYTES (2 MiB + 1 KiB, streamed)', expect: 'refuse', core: true,
      build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'big.bin', data: randomBytes(2 * 1024 * 1024 + 1024) }])),
    },
    {
      endpoint: k, category: 'multipart', name: 'declared 3 MiB (refused before reading)', expect: 'refuse', framing: true,
      build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'big.bin', data: randomBytes(3 * 1024 * 1024) }])),
    },
    { endpoint: k, category: 'multipart', name: 'no boundary parameter', expect: 'refuse', build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'a.txt', data: text }]), { ct: 'multipart/form-data' }) },
    { endpoint: k, category: 'multipart', name: 'boundary that never occurs', expect: 'refuse', build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'a.txt', data: text }]), { ct: 'multipart/form-data; boundary=nothere' }) },
    { endpoint: k, category: 'multipart', name: 'truncated (no closing boundary)', expect: 'refuse', build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'a.txt', data: text }], { closing: false })) },
    { endpoint: k, category: 'multipart', name: 'part without a blank line after its headers', expect: 'refuse', build: (ctx) => req(ctx, Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nhello\r\n--${boundary}--\r\n`)) },
    { endpoint: k, category: 'multipart', name: 'garbage body', expect: 'refuse', build: (ctx) => req(ctx, randomBytes(4096)) },
    { endpoint: k, category: 'multipart', name: 'empty body', expect: 'refuse', build: (ctx) => req(ctx, Buffer.alloc(0)) },
    { endpoint: k, category: 'multipart', name: 'JSON instead of multipart', expect: 'refuse', build: (ctx) => req(ctx, Buffer.from('{"file":"aGVsbG8="}'), { ct: 'application/json' }) },
    { endpoint: k, category: 'multipart', name: 'text/plain instead of multipart', expect: 'refuse', build: (ctx) => req(ctx, Buffer.from(text), { ct: 'text/plain' }) },
    { endpoint: k, category: 'multipart', name: 'no Content-Type', expect: 'refuse', build: (ctx) => req(ctx, Buffer.from(text), { ct: null }) },
    { endpoint: k, category: 'multipart', name: 'no credentials', expect: 'refuse', core: true, build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'a.txt', data: text }]), { auth: null }) },
    { endpoint: k, category: 'multipart', name: 'end-user credentials', expect: 'refuse', build: (ctx) => req(ctx, multipartBody(boundary, [{ filename: 'a.txt', data: text }]), { auth: ctx.endUserBasic }) },
    {
      endpoint: k, category: 'multipart', name: 'Content-Length longer than the body, then EOF', expect: 'refuse', framing: true,
      build: (ctx) => ({ ...req(ctx, multipartBody(boundary, [{ filename: 'a.txt', data: text }])), contentLength: '100000', endAfterWrite: true }),
    },
  ];
}

// ------------------------------------------------------------------------------------ inbound email

interface Mail {
  from?: string;
  to?: string;
  subject?: string;
  messageId?: string;
  headers?: string[];
  contentType?: string;
  transferEncoding?: string;
  body?: string | Buffer;
}

function mail(m: Mail): Buffer {
  const lines: string[] = [];
  if (m.from !== undefined) lines.push(`From: ${m.from}`);
  if (m.to !== undefined) lines.push(`To: ${m.to}`);
  lines.push(`Subject: ${m.subject ?? 'Re: fault'}`);
  lines.push(`Message-ID: ${m.messageId ?? `<fault-${randomBytes(8).toString('hex')}@example.com>`}`);
  lines.push('Date: Thu, 26 Nov 2026 10:00:00 +0000', 'MIME-Version: 1.0');
  lines.push(...(m.headers ?? []));
  lines.push(`Content-Type: ${m.contentType ?? 'text/plain; charset=utf-8'}`);
  if (m.transferEncoding) lines.push(`Content-Transfer-Encoding: ${m.transferEncoding}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  const body = m.body === undefined ? Buffer.from('Thanks, it is out now.\r\n') : Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body, 'utf8');
  return Buffer.concat([head, body]);
}

function nestedMultipart(depth: number): Buffer {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(`Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`);
    close.unshift(`\r\n--b${i}--\r\n`);
  }
  return Buffer.from(`${open.join('')}Content-Type: text/plain\r\n\r\ndeep\r\n${close.join('')}`);
}

export function inboundCases(e: Endpoint): Case[] {
  const k = key(e);
  const to = (ctx: Ctx) => (ctx.replyToken ? `reply+${ctx.replyToken}@sideline.localhost` : 'reply+00000000000000000000000000000000@sideline.localhost');
  const from = (ctx: Ctx) => `"Fault Recipient" <${ctx.recipientEmail}>`;
  const req = (ctx: Ctx, body: Buffer, opts: { auth?: string | null; ct?: string | null } = {}): RawRequest => {
    const headers: Array<[string, string]> = [];
    const auth = opts.auth === undefined ? `Bearer ${ctx.inboundSecret}` : opts.auth;
    if (auth) headers.push(['Authorization', auth]);
    const ct = opts.ct === undefined ? 'message/rfc822' : opts.ct;
    if (ct !== null) headers.push(['Content-Type', ct]);
    return { method: 'POST', target: e.path, headers, body };
  };
  const c = (name: string, expect: Expectation, build: (ctx: Ctx) => Buffer, extra: Partial<Case> = {}): Case => ({
    endpoint: k, category: 'inbound-email', name, expect, build: (ctx) => req(ctx, build(ctx)), ...extra,
  });
  const fixedId = `<fault-fixed-${randomBytes(6).toString('hex')}@example.com>`;
  return [
    { endpoint: k, category: 'inbound-email', name: 'no credentials', expect: 'refuse', core: true, build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { auth: null }) },
    { endpoint: k, category: 'inbound-email', name: 'wrong secret', expect: 'refuse', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { auth: 'Bearer not-the-secret-at-all' }) },
    { endpoint: k, category: 'inbound-email', name: 'secret plus a suffix', expect: 'refuse', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { auth: `Bearer ${ctx.inboundSecret}x` }) },
    { endpoint: k, category: 'inbound-email', name: 'Bearer of 10 KiB', expect: 'refuse', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { auth: `Bearer ${'s'.repeat(10_240)}` }) },
    { endpoint: k, category: 'inbound-email', name: 'Basic with the secret as password', expect: 'any', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { auth: `Basic ${Buffer.from(`mailer:${ctx.inboundSecret}`).toString('base64')}` }) },
    { endpoint: k, category: 'inbound-email', name: 'Basic not base64', expect: 'refuse', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { auth: 'Basic ***' }) },
    { endpoint: k, category: 'inbound-email', name: 'JSON instead of a message', expect: 'refuse', build: (ctx) => req(ctx, Buffer.from('{"from":"x@example.com"}'), { ct: 'application/json' }) },
    { endpoint: k, category: 'inbound-email', name: 'text/plain content type', expect: 'refuse', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { ct: 'text/plain' }) },
    { endpoint: k, category: 'inbound-email', name: 'multipart/form-data content type', expect: 'refuse', build: (ctx) => req(ctx, mail({ from: from(ctx), to: to(ctx) }), { ct: 'multipart/form-data; boundary=x' }) },
    { endpoint: k, category: 'inbound-email', name: 'empty body', expect: 'refuse', build: (ctx) => req(ctx, Buffer.alloc(0)) },
    c('random bytes', 'refuse', () => randomBytes(4096)),
    c('a well-formed reply by token (baseline)', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), messageId: fixedId }), { core: true }),
    c('the same Message-ID again', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), messageId: fixedId })),
    c('unknown reply token', 'refuse', (ctx) => mail({ from: from(ctx), to: 'reply+ffffffffffffffffffffffffffffffff@sideline.localhost' })),
    c('no From', 'refuse', (ctx) => mail({ to: to(ctx) })),
    c('From is not an address', 'refuse', (ctx) => mail({ from: 'not an address', to: to(ctx) })),
    c('From with CR/LF folded into the name', 'any', (ctx) => mail({ from: `"Evil\r\n Name" <${ctx.recipientEmail}>`, to: to(ctx) })),
    c('From name is a lone surrogate (UTF-16 encoded-word)', 'any', (ctx) => mail({ from: `=?UTF-16BE?B?${Buffer.from([0xd8, 0x00, 0x00, 0x41]).toString('base64')}?= <stranger-${ctx.uniq()}@example.com>`, to: to(ctx) }), { core: true }),
    c('From name is a NUL (encoded-word)', 'any', (ctx) => mail({ from: `=?UTF-8?B?AEV2aWwA?= <nul-${ctx.uniq()}@example.com>`, to: to(ctx) })),
    c('From name with RTL override', 'any', (ctx) => mail({ from: `=?UTF-8?B?${Buffer.from('Mallory\u202egnp.exe').toString('base64')}?= <rtl-${ctx.uniq()}@example.com>`, to: to(ctx) })),
    c('body with raw NUL bytes', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), body: Buffer.from('before\u0000after\r\n\u0000\r\n') })),
    c('body with quoted-printable =00', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), transferEncoding: 'quoted-printable', body: 'a=00b=00c\r\n' })),
    c('UTF-16 body with a lone surrogate', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), contentType: 'text/plain; charset=utf-16be', transferEncoding: 'base64', body: Buffer.from([0x00, 0x41, 0xd8, 0x00, 0x00, 0x42]).toString('base64') })),
    c('unknown charset', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), contentType: 'text/plain; charset=x-no-such-charset', body: Buffer.from([0xff, 0xfe, 0x41]) })),
    c('UTF-7 body', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), contentType: 'text/plain; charset=utf-7', body: '+ADw-script+AD4-alert(1)+ADw-/script+AD4-' })),
    c('HTML-only body with script', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), contentType: 'text/html; charset=utf-8', body: '<p>hi</p><script>alert(1)</script><img src=x onerror=alert(2)>' })),
    c('broken base64 body', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), transferEncoding: 'base64', body: '!!!!not base64@@@@\r\n====' })),
    c('broken quoted-printable', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), transferEncoding: 'quoted-printable', body: '=ZZ=\r\n=4' })),
    c('multipart without a boundary', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), contentType: 'multipart/mixed', body: '--x\r\nhello\r\n--x--' })),
    c('Subject with an encoded CR/LF', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), subject: '=?UTF-8?Q?Hi=0D=0ABcc:_victim@example.com?=' })),
    c('one header line of 1 MiB', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), headers: [`X-Long: ${'L'.repeat(1024 * 1024)}`] })),
    c('Message-ID of 5000 characters', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), messageId: `<${'m'.repeat(5000)}@example.com>` })),
    c('To with 5000 addresses and no token', 'refuse', (ctx) => mail({ from: from(ctx), to: Array.from({ length: 5000 }, (_, i) => `r${i}@example.com`).join(', ') })),
    c('References with 1000 unknown ids', 'refuse', (ctx) => mail({ from: from(ctx), to: 'someone@example.com', headers: [`References: ${Array.from({ length: 1000 }, (_, i) => `<ref${i}@example.com>`).join(' ')}`] })),
    c('References with 70 000 ids', 'any', (ctx) => mail({ from: from(ctx), to: 'someone@example.com', headers: [`References: ${Array.from({ length: 70_000 }, (_, i) => `<r${i}@x>`).join(' ')}`] }), { core: true }),
    c('In-Reply-To of our message from a stranger', 'refuse', (ctx) => mail({ from: 'stranger@example.org', to: 'support@sideline.localhost', headers: [`In-Reply-To: <${ctx.ids.scEmailCreateEvent}@sideline.localhost>`] })),
    c('attachments with traversal and NUL names', 'any', (ctx) => {
      const b = 'att-boundary';
      const part = (filenameHeader: string) => `--${b}\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; ${filenameHeader}\r\n\r\nattached\r\n`;
      const body = `--${b}\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n${part('filename="../../etc/passwd"')}${part('filename="..\\\\..\\\\boot.ini"')}${part('filename="=?UTF-8?B?YQBi?="')}${part(`filename*=UTF-8''%2e%2e%2f%2e%2e%2froot%2f.ssh`)}${part('filename="/etc/shadow"')}--${b}--\r\n`;
      return mail({ from: from(ctx), to: to(ctx), contentType: `multipart/mixed; boundary="${b}"`, body });
    }, { inspect: 'upload' }),
    c('300 attachments', 'any', (ctx) => {
      const b = 'many';
      const parts = Array.from({ length: 300 }, (_, i) => `--${b}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="f${i}.bin"\r\n\r\n${i}\r\n`).join('');
      return mail({ from: from(ctx), to: to(ctx), contentType: `multipart/mixed; boundary="${b}"`, body: `--${b}\r\nContent-Type: text/plain\r\n\r\nmany\r\n${parts}--${b}--\r\n` });
    }),
    c('multipart nested 10 000 levels', 'any', (ctx) => mail({ from: from(ctx), to: to(ctx), contentType: 'multipart/mixed; boundary="top"', body: Buffer.concat([Buffer.from('--top\r\n'), nestedMultipart(10_000), Buffer.from('\r\n--top--\r\n')]) }), { timeoutMs: 60_000 }),
    c(`message over INBOUND_MAX_BYTES`, 'refuse', (ctx) => mail({ from: from(ctx), to: to(ctx), body: 'o'.repeat(5 * 1024 * 1024) }), { framing: true, core: true }),
  ];
}

// ------------------------------------------------------------------------------------ Slack

function slackSign(secret: string, ts: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
}

export function slackCases(e: Endpoint): Case[] {
  const k = key(e);
  const now = () => String(Math.floor(Date.now() / 1000));
  const signed = (ctx: Ctx, body: string, opts: { ts?: string; sig?: string; ct?: string } = {}): RawRequest => {
    const ts = opts.ts ?? now();
    return {
      method: 'POST',
      target: e.path,
      headers: [
        ['Content-Type', opts.ct ?? 'application/json'],
        ['X-Slack-Request-Timestamp', ts],
        ['X-Slack-Signature', opts.sig ?? slackSign(ctx.slack.secret, ts, body)],
      ],
      body,
    };
  };
  const envelope = (ctx: Ctx, event: unknown, extra: Record<string, unknown> = {}) =>
    toJson({ type: 'event_callback', team_id: ctx.slack.teamId, event_id: `Ev${ctx.uniq()}`, event, ...extra });
  const inThread = (ctx: Ctx, text: unknown) => ({ type: 'message', user: 'U0FAULT', channel: ctx.slack.channel, ts: `${Date.now() / 1000}`, thread_ts: ctx.slack.threadTs ?? '1.000', text });
  const c = (name: string, expect: Expectation, build: (ctx: Ctx) => RawRequest, extra: Partial<Case> = {}): Case => ({ endpoint: k, category: 'slack', name, expect, build, ...extra });
  return [
    c('unsigned', 'refuse', (ctx) => ({ method: 'POST', target: e.path, headers: [['Content-Type', 'application/json']], body: envelope(ctx, inThread(ctx, 'hi')) }), { core: true }),
    c('forged signature', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { sig: `v0=${'0'.repeat(64)}` })),
    c('signature of another body', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { sig: slackSign(ctx.slack.secret, now(), '{}') })),
    c('stale timestamp (1 h)', 'refuse', (ctx) => {
      const ts = String(Math.floor(Date.now() / 1000) - 3600);
      const body = envelope(ctx, inThread(ctx, 'hi'));
      return signed(ctx, body, { ts, sig: slackSign(ctx.slack.secret, ts, body) });
    }),
    c('timestamp abc', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { ts: 'abc' })),
    c('giant timestamp', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { ts: '99999999999999999999' })),
    c('v1= signature', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { sig: `v1=${'a'.repeat(64)}` })),
    c('signature of 10 KiB', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { sig: 'v0='.padEnd(10_240, 'f') })),
    c('signed broken JSON', 'refuse', (ctx) => signed(ctx, '{"type":')),
    c('signed null', 'refuse', (ctx) => signed(ctx, 'null')),
    c('signed, unknown team', 'refuse', (ctx) => signed(ctx, toJson({ type: 'event_callback', team_id: 'T0NOBODY', event: inThread(ctx, 'hi') }))),
    c('signed, team_id is an object', 'refuse', (ctx) => signed(ctx, toJson({ type: 'event_callback', team_id: { $ne: null }, event: inThread(ctx, 'hi') }))),
    c('signed url_verification', 'any', (ctx) => signed(ctx, toJson({ type: 'url_verification', challenge: 'faults' }))),
    c('signed url_verification, challenge is an object', 'any', (ctx) => signed(ctx, toJson({ type: 'url_verification', challenge: { a: [1, 2] } }))),
    c('signed, text is a number', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 123))), { core: true }),
    c('signed, text is an array', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, ['a', 'b'])))),
    c('signed, text is an object', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, { toString: 'x' })))),
    c('signed, text is true', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, true)))),
    c('signed, event is a string', 'any', (ctx) => signed(ctx, envelope(ctx, 'message'))),
    c('signed, event is null', 'any', (ctx) => signed(ctx, envelope(ctx, null))),
    c('signed, event is an array', 'any', (ctx) => signed(ctx, envelope(ctx, [inThread(ctx, 'hi')]))),
    c('signed, user/channel/thread_ts are objects', 'any', (ctx) => signed(ctx, envelope(ctx, { type: 'message', user: {}, channel: { id: 1 }, thread_ts: { $gt: '' }, ts: '1', text: 'hi' }))),
    c('signed, event_id is an object', 'any', (ctx) => signed(ctx, toJson({ type: 'event_callback', team_id: ctx.slack.teamId, event_id: { a: 1 }, event: inThread(ctx, 'object id') }))),
    c('signed, event_id is 100 KiB', 'any', (ctx) => signed(ctx, toJson({ type: 'event_callback', team_id: ctx.slack.teamId, event_id: 'E'.repeat(100 * 1024), event: inThread(ctx, 'long id') }))),
    c('signed reply in our thread (baseline)', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'Slack says hi')))),
    c('signed reply with NUL', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'a\u0000b')))),
    c('signed reply with lone surrogates', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'a\ud800b\udc00')))),
    c('signed reply with RTL and CR/LF', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'x\u202eyz\r\nBcc: victim@example.com')))),
    c('signed reply of 70 000 characters', 'any', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 't'.repeat(70_000))))),
    c('signed, nested 10 000 levels', 'any', (ctx) => signed(ctx, toJson({ type: 'event_callback', team_id: ctx.slack.teamId, event: deepObject(10_000) }))),
    c('signed body over 1 MiB', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'b'.repeat(1100 * 1024)))), { framing: true }),
    c('signed, text/plain content type', 'refuse', (ctx) => signed(ctx, envelope(ctx, inThread(ctx, 'hi')), { ct: 'text/plain' })),
    c('signed, form-urlencoded payload', 'refuse', (ctx) => signed(ctx, `payload=${encodeURIComponent(envelope(ctx, inThread(ctx, 'hi')))}`, { ct: 'application/x-www-form-urlencoded' })),
  ];
}

// ------------------------------------------------------------------------------------ Teams

export function teamsCases(e: Endpoint): Case[] {
  const k = key(e);
  const activity = (ctx: Ctx, over: Record<string, unknown> = {}) => ({
    type: 'message',
    id: `act-${ctx.uniq()}`,
    text: 'Teams says hi',
    from: { id: '29:fault-user', name: 'Fault Teams User' },
    conversation: { id: ctx.teams.conversationId ?? '19:nowhere@thread.tacv2;messageid=1' },
    ...over,
  });
  const req = async (ctx: Ctx, body: string, token: string | null | Promise<string>, ct = 'application/json'): Promise<RawRequest> => {
    const headers: Array<[string, string]> = [['Content-Type', ct]];
    const t = await token;
    if (t !== null) headers.push(['Authorization', t.startsWith('Bearer') ? t : `Bearer ${t}`]);
    return { method: 'POST', target: e.path, headers, body };
  };
  const c = (name: string, expect: Expectation, build: (ctx: Ctx) => Promise<RawRequest>, extra: Partial<Case> = {}): Case => ({ endpoint: k, category: 'teams', name, expect, build, ...extra });
  const valid = (ctx: Ctx, over: Record<string, unknown>) => req(ctx, toJson(activity(ctx, over)), ctx.teams.token());
  return [
    c('no Authorization', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), null), { core: true }),
    c('Bearer without token', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), 'Bearer')),
    c('Bearer garbage', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), 'Bearer garbage')),
    c('Bearer a.b.c', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), 'Bearer a.b.c')),
    c('alg none', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token({ alg: 'none' }))),
    c('signed by a foreign key', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token({ foreignKey: true }))),
    c('expired an hour ago', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token({ exp: Math.floor(Date.now() / 1000) - 3600 }))),
    c('not valid for another hour', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token({ nbf: Math.floor(Date.now() / 1000) + 3600 }))),
    c('wrong issuer', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token({ iss: 'https://evil.example.com' }))),
    c('wrong audience', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token({ aud: 'someone-else' }))),
    c('valid token, reply in our conversation (baseline)', 'any', (ctx) => valid(ctx, {})),
    c('valid token, text is a number', 'any', (ctx) => valid(ctx, { text: 123 }), { core: true }),
    c('valid token, text is an object', 'any', (ctx) => valid(ctx, { text: { html: '<b>x</b>' } })),
    c('valid token, text is an array', 'any', (ctx) => valid(ctx, { text: ['a'] })),
    c('valid token, from.name is a number', 'any', (ctx) => valid(ctx, { from: { id: '29:x', name: 42 } }), { core: true }),
    c('valid token, from is a string', 'any', (ctx) => valid(ctx, { from: 'someone' })),
    c('valid token, id is an object', 'any', (ctx) => valid(ctx, { id: { $ne: 1 } })),
    c('valid token, id is an array', 'any', (ctx) => valid(ctx, { id: ['a', 'b'] })),
    c('valid token, conversation.id is an object', 'any', (ctx) => valid(ctx, { conversation: { id: { $gt: '' } } })),
    c('valid token, conversation is a string', 'any', (ctx) => valid(ctx, { conversation: 'c' })),
    c('valid token, type is an object', 'any', (ctx) => valid(ctx, { type: { a: 1 } })),
    c('valid token, text of 70 000 characters', 'any', (ctx) => valid(ctx, { text: 'w'.repeat(70_000) })),
    c('valid token, text with script and RTL', 'any', (ctx) => valid(ctx, { text: '<script>alert(1)</script>\u202eevil' })),
    c('valid token, text with NUL', 'refuse', (ctx) => valid(ctx, { text: 'a\u0000b' })),
    c('valid token, text with a lone surrogate', 'refuse', (ctx) => valid(ctx, { text: 'a\ud800b' })),
    c('valid token, body null', 'any', (ctx) => req(ctx, 'null', ctx.teams.token())),
    c('valid token, body is an array', 'any', (ctx) => req(ctx, '[1,2]', ctx.teams.token())),
    c('valid token, body is a string', 'any', (ctx) => req(ctx, '"message"', ctx.teams.token())),
    c('valid token, nested 10 000 levels', 'refuse', (ctx) => req(ctx, toJson(deepObject(10_000)), ctx.teams.token())),
    c('valid token, broken JSON', 'refuse', (ctx) => req(ctx, '{"type":', ctx.teams.token())),
    c('valid token, text/plain', 'refuse', (ctx) => req(ctx, toJson(activity(ctx)), ctx.teams.token(), 'text/plain')),
  ];
}
