/**
 * Outbound mail as finished bytes. The relay gives nodemailer `{ envelope, raw }` rather than a
 * message to build: nodemailer's MIME tree cost about 0.57 ms of CPU per message, more than the
 * rest of a delivery. What is written here is what mail clients and our own tests read back
 * (through mailparser), so the rules below are the ones those readers hold us to:
 *
 * - every line ends in CRLF and none passes 998 octets; headers fold at a space near 76 chars;
 * - header text that is not plain printable ASCII becomes RFC 2047 encoded words (base64, cut on
 *   character boundaries); attachment names that are not go as RFC 2231 parameters;
 * - text parts go 7bit when they can, quoted-printable otherwise; line breaks go out as CRLF
 *   whatever the input used (a reader gives them back as LF).
 *
 * Dot-stuffing is not done here: nodemailer's SMTP connection does it for raw messages too.
 */
import { randomBytes } from 'node:crypto';

export interface OutboundMail {
  messageId: string;
  from: { name: string; address: string };
  to: Array<string | { name: string; address: string }>;
  /** A bare address. */
  replyTo: string;
  subject: string;
  text: string;
  /** When present (not null or ''): multipart/alternative, the text first. */
  html?: string | null;
  /** When present: multipart/mixed around the body. */
  attachments: Array<{ filename: string; content: Buffer; contentType: string }>;
  /** A string is an ISO timestamp from the database. */
  date: Date | string;
  /** Extra headers, e.g. X-Sideline-Side-Conversation, Auto-Submitted. */
  headers: Record<string, string>;
  inReplyTo?: string;
  references?: string[];
}

const CRLF = '\r\n';
/** RFC 2047 limits lines holding encoded words to 76 chars; every header folds there. */
const FOLD_AT = 76;
/** A plain header word longer than this is encoded instead (encoded words can be cut; plain ones cannot), so no line passes 998. */
const LONGEST_PLAIN_WORD = 900;
/** Longest extra header name: with LONGEST_PLAIN_WORD, keeps every header line under 998. */
const LONGEST_HEADER_NAME = 76;
/** A text line longer than this (octets, without its CRLF) cannot go 7bit. */
const LONGEST_7BIT_LINE = 998;

/** Headers composeMail writes itself; an extra header of the same name would contradict them. */
const OWN_HEADERS = new Set([
  'date', 'from', 'sender', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'message-id', 'in-reply-to', 'references',
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition',
]);

export function composeMail(mail: OutboundMail): { envelope: { from: string; to: string[] }; raw: Buffer } {
  const html = mail.html ? mail.html : null;
  const attachments = mail.attachments;
  const textIsWholeBody = html === null && attachments.length === 0;

  const text = textPart('text/plain', mail.text, textIsWholeBody);
  const htmlPart = html === null ? null : textPart('text/html', html, false);

  // The body, innermost first: text, or text and html as alternatives, then the attachments around it.
  let body: Entity = text;
  if (!textIsWholeBody) {
    const boundary = boundaryAbsentFrom([text.body, htmlPart?.body ?? '']);
    if (htmlPart) body = multipart('alternative', `${boundary}_alt`, [text, htmlPart]);
    if (attachments.length > 0) body = multipart('mixed', `${boundary}_mix`, [body, ...attachments.map(attachmentPart)]);
  }

  let head =
    header('Date', [rfc5322Date(mail.date)]) +
    header('From', mailboxList([mail.from], 'From')) +
    (mail.to.length > 0 ? header('To', mailboxList(mail.to, 'To')) : '') +
    header('Reply-To', [oneLine(mail.replyTo)]) +
    header('Subject', unstructured(mail.subject, roomAfter('Subject'))) +
    header('Message-ID', [oneLine(mail.messageId)]);
  if (mail.inReplyTo) head += header('In-Reply-To', [oneLine(mail.inReplyTo)]);
  if (mail.references && mail.references.length > 0) head += header('References', mail.references.map(oneLine));
  head += 'MIME-Version: 1.0' + CRLF;
  for (const [name, value] of Object.entries(mail.headers)) head += extraHeader(name, value);

  // A multipart body ends with its closing delimiter, which still needs its line end; a text body
  // already ends in one (textPart sees to it).
  const raw = head + body.headers + CRLF + body.body + (body.body === '' || body.body.endsWith(CRLF) ? '' : CRLF);
  return {
    envelope: { from: mail.from.address, to: mail.to.map((recipient) => (typeof recipient === 'string' ? recipient : recipient.address)) },
    raw: Buffer.from(raw, 'utf8'),
  };
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

/**
 * One header, its words laid out on lines of up to FOLD_AT chars. A fold replaces the space
 * between two words by CRLF + space, so unfolding gives the value back. Words must not be empty
 * nor start or end with whitespace: a reader collapses the whitespace around a fold.
 */
function header(name: string, words: string[]): string {
  let out = `${name}:`;
  let lineLength = out.length;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (i > 0 && lineLength + 1 + word.length > FOLD_AT) {
      out += CRLF;
      lineLength = 0;
    }
    out += ' ' + word;
    lineLength += 1 + word.length;
  }
  return out + CRLF;
}

/** Chars left on a header's first line after `Name: `. */
function roomAfter(name: string): number {
  return FOLD_AT - name.length - 2;
}

/** A second fence: the API refuses line breaks in anything that reaches a header. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

/** Fold points: single spaces between non-whitespace (a fold at a run of whitespace would shrink it). */
const FOLDABLE_SPACE = /(?<![ \t]) (?![ \t])/;
/**
 * Printable ASCII a reader gives back as written: no leading or trailing whitespace (trimmed) and
 * no `=?` (it would be taken for the start of an encoded word).
 */
const PLAIN_TEXT = /^(?:[\x21-\x7e]|[\x21-\x7e][\x20-\x7e\t]*[\x21-\x7e])?$/;

/** Words of a plain value, or null when it must be encoded. */
function plainWords(value: string): string[] | null {
  if (!PLAIN_TEXT.test(value) || value.includes('=?')) return null;
  if (value === '') return [];
  const words = value.split(FOLDABLE_SPACE);
  return words.some((word) => word.length > LONGEST_PLAIN_WORD) ? null : words;
}

/** Free text (Subject, extra headers): plain words, or encoded words. */
function unstructured(value: string, firstRoom: number): string[] {
  const clean = oneLine(value);
  return plainWords(clean) ?? encodedWords(clean, firstRoom);
}

/**
 * RFC 2047 `=?UTF-8?B?...?=` words of at most 75 chars (the first fitted into `firstRoom`, what
 * is left of the header's first line), each holding whole characters: readers decode words one
 * by one, and a sequence cut in two would come back as replacement characters.
 */
function encodedWords(value: string, firstRoom: number): string[] {
  const words: string[] = [];
  let chunk = '';
  let chunkBytes = 0;
  let maxBytes = payloadBytesFitting(firstRoom);
  for (const char of value) {
    const codePoint = char.codePointAt(0)!;
    // A lone surrogate is one UTF-16 unit below 0x10000 and goes out as U+FFFD, 3 bytes as counted.
    const bytes = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    if (chunkBytes + bytes > maxBytes && chunk !== '') {
      words.push(encodedWord(chunk));
      chunk = '';
      chunkBytes = 0;
      maxBytes = payloadBytesFitting(FOLD_AT - 1);
    }
    chunk += char;
    chunkBytes += bytes;
  }
  if (chunk !== '') words.push(encodedWord(chunk));
  return words;
}

/** Bytes whose base64 fits an encoded word of `room` chars (12 of them are `=?UTF-8?B?` and `?=`). */
function payloadBytesFitting(room: number): number {
  // Too little room (a long header name) for even one 4-byte character: a full word, on a long line.
  return room >= 20 ? Math.floor((room - 12) / 4) * 3 : 45;
}

function encodedWord(text: string): string {
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

/** RFC 5322 `atext` words separated by single spaces: a display name that needs no quotes. */
const ATOMS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * A display name's words: as they are, quoted (for specials such as `,` or `"`), or encoded (not
 * plain text, or whitespace at an end, which a reader trims from a quoted name).
 */
function displayName(name: string, firstRoom: number): string[] {
  const clean = oneLine(name);
  let words: string[] | null = null;
  if (ATOMS.test(clean)) words = plainWords(clean);
  else if (PLAIN_TEXT.test(clean) && !clean.includes('\t')) words = plainWords(`"${clean.replace(/[\\"]/g, '\\$&')}"`);
  return words ?? encodedWords(clean, firstRoom);
}

/** `Name <address>, address, ...` as header words, commas ending all but the last mailbox. */
function mailboxList(mailboxes: Array<string | { name: string; address: string }>, headerName: string): string[] {
  const words: string[] = [];
  for (let i = 0; i < mailboxes.length; i++) {
    const mailbox = mailboxes[i]!;
    const comma = i < mailboxes.length - 1 ? ',' : '';
    if (typeof mailbox === 'string' || mailbox.name === '') {
      words.push(oneLine(typeof mailbox === 'string' ? mailbox : mailbox.address) + comma);
      continue;
    }
    words.push(...displayName(mailbox.name, words.length === 0 ? roomAfter(headerName) : FOLD_AT - 1));
    words.push(`<${oneLine(mailbox.address)}>${comma}`);
  }
  return words;
}

function rfc5322Date(value: Date | string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new RangeError(`composeMail: not a date: ${String(value)}`);
  // toUTCString is specified as `Tue, 01 Dec 2026 10:00:00 GMT`; RFC 5322 prefers a numeric zone.
  return date.toUTCString().replace('GMT', '+0000');
}

const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

function extraHeader(name: string, value: string): string {
  if (!HEADER_NAME.test(name) || name.length > LONGEST_HEADER_NAME) throw new RangeError(`composeMail: not a header name: ${JSON.stringify(name)}`);
  if (OWN_HEADERS.has(name.toLowerCase())) throw new RangeError(`composeMail: ${name} is written by composeMail itself`);
  return header(name, unstructured(value, roomAfter(name)));
}

// ---------------------------------------------------------------------------------------------
// Body
// ---------------------------------------------------------------------------------------------

/** A MIME entity: its headers (each ending in CRLF) and its encoded body. */
interface Entity {
  headers: string;
  body: string;
}

/**
 * A text part. Line breaks go out as CRLF (the canonical form; mailparser hands them back as LF).
 * When the part is the whole body, its last line is the message's last, so it must end in a line
 * break: a text without one goes quoted-printable, ending in a soft break that adds nothing.
 */
function textPart(type: 'text/plain' | 'text/html', content: string, wholeBody: boolean): Entity {
  // Text from the API mostly has bare LFs and no CR: replaceAll is then twice as fast as the regex.
  const hasCr = content.includes('\r');
  const canonical = hasCr ? content.replace(/\r?\n/g, CRLF) : content.replaceAll('\n', CRLF);
  const endsInLineBreak = canonical === '' || canonical.endsWith(CRLF);
  // A CR that is not part of a line break has no 7bit form (quoted-printable writes it =0D).
  const hasLoneCr = hasCr && /\r(?!\n)/.test(content);
  const sevenBit = !hasLoneCr && fitsSevenBit(canonical) && (endsInLineBreak || !wholeBody);
  return {
    headers: `Content-Type: ${type}; charset=utf-8${CRLF}Content-Transfer-Encoding: ${sevenBit ? '7bit' : 'quoted-printable'}${CRLF}`,
    body: sevenBit ? canonical : quotedPrintable(canonical) + (wholeBody && !endsInLineBreak ? `=${CRLF}` : ''),
  };
}

/** ASCII without NUL, in lines of at most 998 octets. */
function fitsSevenBit(canonical: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[^\x01-\x7f]/.test(canonical)) return false;
  let lineStart = 0;
  for (;;) {
    const lineEnd = canonical.indexOf(CRLF, lineStart);
    if ((lineEnd === -1 ? canonical.length : lineEnd) - lineStart > LONGEST_7BIT_LINE) return false;
    if (lineEnd === -1) return true;
    lineStart = lineEnd + 2;
  }
}

const HEX_DIGITS = Buffer.from('0123456789ABCDEF', 'latin1');

/**
 * RFC 2045 quoted-printable of canonical text: CRLF stays a line break, everything else outside
 * printable ASCII becomes `=XX`, lines are cut with a soft break (`=`) at 76 chars. Whitespace
 * ending a line is encoded too, since readers drop it as transport padding.
 */
function quotedPrintable(canonical: string): string {
  const bytes = Buffer.from(canonical, 'utf8');
  // Worst case: every byte as =XX, and a 3-byte soft break for every 25 of them.
  const out = Buffer.allocUnsafe(bytes.length * 3 + Math.ceil(bytes.length / 25) * 3);
  let at = 0;
  let lineLength = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x0d && bytes[i + 1] === 0x0a) {
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      lineLength = 0;
      i++;
      continue;
    }
    const endsLine = i + 1 === bytes.length || (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a);
    const literal = (byte >= 0x21 && byte <= 0x7e && byte !== 0x3d) || ((byte === 0x20 || byte === 0x09) && !endsLine);
    const width = literal ? 1 : 3;
    if (lineLength + width > FOLD_AT - 1) {
      out[at++] = 0x3d;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
      lineLength = 0;
    }
    if (literal) {
      out[at++] = byte;
    } else {
      out[at++] = 0x3d;
      out[at++] = HEX_DIGITS[byte >> 4]!;
      out[at++] = HEX_DIGITS[byte & 0x0f]!;
    }
    lineLength += width;
  }
  return out.toString('latin1', 0, at);
}

/** Base64 in lines of 76, without a final line end. */
function base64Lines(content: Buffer): string {
  const encoded = content.toString('base64');
  if (encoded.length <= FOLD_AT) return encoded;
  const lines: string[] = [];
  for (let i = 0; i < encoded.length; i += FOLD_AT) lines.push(encoded.slice(i, i + FOLD_AT));
  return lines.join(CRLF);
}

/** `type/subtype` as RFC 6838 allows it; anything else (it comes from sniffing uploads) is sent as octets. */
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,127}\/[A-Za-z0-9!#$&^_.+-]{1,127}$/;

function attachmentPart(attachment: { filename: string; content: Buffer; contentType: string }): Entity {
  const type = MEDIA_TYPE.test(attachment.contentType) ? attachment.contentType : 'application/octet-stream';
  return {
    headers:
      header('Content-Type', [`${type};`, ...parameter('name', attachment.filename)]) +
      `Content-Transfer-Encoding: base64${CRLF}` +
      header('Content-Disposition', ['attachment;', ...parameter('filename', attachment.filename)]),
    body: base64Lines(attachment.content),
  };
}

/** Printable ASCII that needs no escaping inside quotes, short enough for one line. */
const PLAIN_PARAMETER = /^[\x20\x21\x23-\x5b\x5d-\x7e]{0,60}$/;
/** RFC 2231 attribute-char: what goes unescaped in an extended parameter value. */
const ATTRIBUTE_CHAR = /[A-Za-z0-9!#$&+.^_`|~-]/;
const PERCENT_ENCODED = Array.from({ length: 256 }, (_, byte) => {
  const char = String.fromCharCode(byte);
  return byte < 0x80 && ATTRIBUTE_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
});
/** Chars of one RFC 2231 continuation, so `filename*NN*=utf-8''` + piece fits a folded line. */
const PARAMETER_PIECE = 42;

/**
 * A parameter as header words: `name="value"` when plain, else RFC 2231 `name*=utf-8''%XX...`,
 * cut into continuations (`name*0*=`, `name*1*=`, ...) on character boundaries when long.
 */
function parameter(name: string, value: string): string[] {
  const clean = oneLine(value);
  if (PLAIN_PARAMETER.test(clean)) return [`${name}="${clean}"`];
  const pieces: string[] = [];
  let piece = '';
  for (const byte of Buffer.from(clean, 'utf8')) {
    const startsCharacter = (byte & 0xc0) !== 0x80;
    if (startsCharacter && piece.length >= PARAMETER_PIECE) {
      pieces.push(piece);
      piece = '';
    }
    piece += PERCENT_ENCODED[byte]!;
  }
  pieces.push(piece);
  if (pieces.length === 1) return [`${name}*=utf-8''${piece}`];
  return pieces.map((text, i) => `${name}*${i}*=${i === 0 ? "utf-8''" : ''}${text}${i < pieces.length - 1 ? ';' : ''}`);
}

/**
 * A multipart entity. Boundaries contain `=_`, which quoted-printable and base64 never produce;
 * 7bit parts can hold anything, so they were searched for the boundary (boundaryAbsentFrom).
 */
function multipart(subtype: 'alternative' | 'mixed', boundary: string, parts: Entity[]): Entity {
  const delimiter = `--${boundary}`;
  return {
    headers: `Content-Type: multipart/${subtype};${CRLF} boundary="${boundary}"${CRLF}`,
    // The CRLF before each delimiter belongs to the delimiter, not to the part before it. So an
    // empty part is its headers alone: a blank line after them would be read as a line break.
    body:
      `${delimiter}${CRLF}` +
      parts.map((part) => (part.body === '' ? part.headers : part.headers + CRLF + part.body)).join(`${CRLF}${delimiter}${CRLF}`) +
      `${CRLF}${delimiter}--`,
  };
}

/** A random boundary stem (96 bits) that none of the given bodies contains (only a 7bit one could). */
function boundaryAbsentFrom(bodies: string[]): string {
  for (;;) {
    const boundary = `=_sideline_${randomHex(12)}`;
    if (!bodies.some((body) => body.includes(boundary))) return boundary;
  }
}

/**
 * A call of randomBytes costs several µs whatever its size (with one call per message, a fifth of
 * composeMail's time), so boundaries are cut from a pool it refills every 256 of them. No byte
 * is used twice.
 */
let randomPool = Buffer.alloc(0);
let randomPoolAt = 0;

function randomHex(bytes: number): string {
  if (randomPoolAt + bytes > randomPool.length) {
    randomPool = randomBytes(bytes * 256);
    randomPoolAt = 0;
  }
  randomPoolAt += bytes;
  return randomPool.toString('hex', randomPoolAt - bytes, randomPoolAt);
}
