/**
 * composeMail (src/channels/email/mime.ts): each message is composed, checked line by line (CRLF
 * only, no line over 998 octets), read back with mailparser (what our inbound side and most
 * tests use) and compared with what went in. One test sends the raw bytes through nodemailer's
 * SMTP transport to a loopback server, as the relay will.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { composeMail, type OutboundMail } from '../../../src/channels/email/mime.js';
import { smtpSink } from '../../../src/channels/email/deliver.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';

function mailWith(overrides: Partial<OutboundMail> = {}): OutboundMail {
  return {
    messageId: '<0f3c2a9d8e7b6a5c@support.test>',
    from: { name: 'Zoe Agent', address: 'help@support.test' },
    to: [{ name: 'Vendor Person', address: 'vendor@example.com' }, 'orders@example.com'],
    replyTo: 'reply+0123456789abcdef0123456789abcdef@inbound.test',
    subject: 'Replacement fuser for the 4th floor printer',
    text: 'Can you ship two fuser units by Friday?\n\nThanks,\nZoe\n',
    html: '<p>Can you ship two fuser units by <b>Friday</b>?</p>\n<p>Thanks,<br>Zoe</p>\n',
    attachments: [],
    date: '2026-12-01T10:00:00.000Z',
    headers: { 'X-Sideline-Side-Conversation': '01J9Z8Y7X6W5V4T3S2R1Q0P9N8', 'Auto-Submitted': 'no' },
    ...overrides,
  };
}

/** Every line ends in CRLF (no bare CR or LF anywhere) and holds at most 998 octets. */
function assertLines(raw: Buffer): void {
  assert.ok(raw.length >= 2 && raw[raw.length - 2] === 0x0d && raw[raw.length - 1] === 0x0a, 'the message ends in CRLF');
  let lineStart = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0d) assert.equal(raw[i + 1], 0x0a, `a CR without LF at byte ${i}`);
    if (raw[i] !== 0x0a) continue;
    assert.equal(raw[i - 1], 0x0d, `a LF without CR at byte ${i}`);
    const octets = i - 1 - lineStart;
    assert.ok(octets <= 998, `a line of ${octets} octets at byte ${lineStart}: ${raw.toString('utf8', lineStart, lineStart + 60)}…`);
    lineStart = i + 1;
  }
}

async function roundTrip(mail: OutboundMail): Promise<{ raw: Buffer; lines: string[]; head: string[]; parsed: ParsedMail; envelope: { from: string; to: string[] } }> {
  const { raw, envelope } = composeMail(mail);
  assertLines(raw);
  const lines = raw.toString('utf8').split('\r\n');
  return { raw, lines, head: lines.slice(0, lines.indexOf('')), parsed: await simpleParser(raw), envelope };
}

function mailboxes(field: AddressObject | AddressObject[] | undefined): Array<{ name: string; address: string | undefined }> {
  return [field ?? []].flat().flatMap((group) => group.value.map((m) => ({ name: m.name, address: m.address })));
}

/** A header's lines as written (its first line and the folded ones after it). */
function headerLines(head: string[], name: string): string[] {
  const start = head.findIndex((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  assert.notEqual(start, -1, `no ${name} header`);
  let end = start + 1;
  while (end < head.length && /^[ \t]/.test(head[end]!)) end++;
  return head.slice(start, end);
}

/** Every header line is at most 76 chars: the folding we promise, stricter than the 998 limit. */
function assertFoldedAt76(head: string[]): void {
  for (const line of head) assert.ok(line.length <= 76, `a header line of ${line.length} chars: ${line}`);
}

const toLf = (text: string) => text.replace(/\r\n/g, '\n');

describe('composeMail', () => {
  it('a plain message: headers, text and html come back as given, and the envelope holds the bare addresses', async () => {
    const mail = mailWith({ inReplyTo: '<earlier@example.com>', references: ['<first@support.test>', '<earlier@example.com>'] });
    const { lines, head, parsed, envelope } = await roundTrip(mail);

    assert.deepEqual(envelope, { from: 'help@support.test', to: ['vendor@example.com', 'orders@example.com'] });
    assert.ok(head.includes('Date: Tue, 01 Dec 2026 10:00:00 +0000'), head.join('\n'));
    assert.ok(head.includes('MIME-Version: 1.0'));
    assert.equal(parsed.date?.toISOString(), '2026-12-01T10:00:00.000Z');
    assert.deepEqual(mailboxes(parsed.from), [{ name: 'Zoe Agent', address: 'help@support.test' }]);
    assert.deepEqual(mailboxes(parsed.to), [
      { name: 'Vendor Person', address: 'vendor@example.com' },
      { name: '', address: 'orders@example.com' },
    ]);
    assert.deepEqual(mailboxes(parsed.replyTo), [{ name: '', address: mail.replyTo }]);
    assert.equal(parsed.subject, mail.subject);
    assert.equal(parsed.messageId, mail.messageId);
    assert.equal(parsed.inReplyTo, '<earlier@example.com>');
    assert.deepEqual(parsed.references, ['<first@support.test>', '<earlier@example.com>']);
    assert.equal(parsed.headers.get('x-sideline-side-conversation'), '01J9Z8Y7X6W5V4T3S2R1Q0P9N8');
    assert.equal(parsed.headers.get('auto-submitted'), 'no');
    assert.equal((parsed.headers.get('content-type') as { value: string }).value, 'multipart/alternative');
    assert.equal(parsed.text, mail.text);
    assert.equal(parsed.html, mail.html);
    assert.equal(lines.filter((line) => line === 'Content-Transfer-Encoding: 7bit').length, 2, 'ASCII in short lines needs no encoding');
    assertFoldedAt76(head);
  });

  it('without html: one text/plain part; a Date object gives the same Date header as its ISO string', async () => {
    for (const html of [undefined, null, '']) {
      const mail = mailWith({ html, date: new Date('2026-12-01T10:00:00.000Z') });
      const { head, parsed } = await roundTrip(mail);
      assert.ok(head.includes('Date: Tue, 01 Dec 2026 10:00:00 +0000'), head.join('\n'));
      assert.ok(head.includes('Content-Type: text/plain; charset=utf-8'), head.join('\n'));
      assert.ok(head.includes('Content-Transfer-Encoding: 7bit'), head.join('\n'));
      assert.equal(parsed.html, false);
      assert.equal(parsed.text, mail.text);
    }
    assert.throws(() => composeMail(mailWith({ date: 'not a date' })), RangeError);
  });

  it('non-ASCII subject, names, text and html (emoji, CJK, accented) come back as given; the message itself is ASCII', async () => {
    const mail = mailWith({
      from: { name: 'Zoë Agent 😀', address: 'help@support.test' },
      to: [{ name: 'Jörg Müller', address: 'joerg@example.com' }, { name: '山田太郎', address: 'yamada@example.jp' }, { name: '🧑‍🔧 Ops', address: 'ops@example.com' }],
      subject: 'Überweisung für 注文 #4471 — 5 € fehlen 😀',
      text: 'Grüße aus München 🥨\n注文番号は4471です。\nÇa va très bien, merci.\n',
      html: '<p>Grüße aus München 🥨</p><p>注文番号は4471です。</p>',
    });
    const { raw, lines, head, parsed } = await roundTrip(mail);
    assert.equal(parsed.subject, mail.subject);
    assert.deepEqual(mailboxes(parsed.from), [mail.from]);
    assert.deepEqual(mailboxes(parsed.to), mail.to);
    assert.equal(parsed.text, mail.text);
    assert.equal(parsed.html, mail.html);
    assert.ok(raw.every((byte) => byte < 0x80), 'every non-ASCII character was encoded');
    for (const word of raw.toString('latin1').match(/=\?[^?]*\?[BbQq]\?[^?]*\?=/g) ?? []) assert.ok(word.length <= 75, `an encoded word of ${word.length} chars`);
    assert.equal(lines.filter((line) => line === 'Content-Transfer-Encoding: quoted-printable').length, 2, 'non-ASCII text and html go quoted-printable');
    assertFoldedAt76(head);
  });

  it('encoded words are cut between characters, never inside a UTF-8 sequence or a surrogate pair', async () => {
    // Different offsets put 2-, 3- and 4-byte characters across every possible cut.
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const subject = `${prefix}${'😀é日'.repeat(30)}`;
      const name = `${prefix}${'🧑‍🔧ß'.repeat(12)}`;
      const { raw, parsed } = await roundTrip(mailWith({ subject, to: [{ name, address: 'v@example.com' }] }));
      assert.equal(parsed.subject, subject);
      assert.deepEqual(mailboxes(parsed.to), [{ name, address: 'v@example.com' }]);
      const words = [...raw.toString('latin1').matchAll(/=\?UTF-8\?B\?([^?]*)\?=/g)];
      assert.ok(words.length > 5, 'the subject and the name take several encoded words');
      for (const [, base64] of words) {
        // A word that ends or starts inside a sequence is not UTF-8 on its own.
        assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(base64!, 'base64')), base64);
      }
    }
  });

  it('a long subject is folded at spaces near 76 chars and comes back unfolded', async () => {
    const subject = `Re: ${'Replacement fuser units for the printer on the 4th floor, '.repeat(6)}and toner`;
    const { head, parsed } = await roundTrip(mailWith({ subject }));
    const lines = headerLines(head, 'Subject');
    assert.ok(lines.length >= 5, `folded on ${lines.length} lines`);
    assert.ok(lines.slice(1).every((line) => /^ \S/.test(line)), 'each fold is a single space before a word');
    assert.equal(parsed.subject, subject);
    assertFoldedAt76(head);

    const accented = `Überweisung für die Bestellung ${'der Ersatzteile für den Drucker im 4. Stock, '.repeat(5)}danke`;
    const second = await roundTrip(mailWith({ subject: accented }));
    assert.ok(headerLines(second.head, 'Subject').length >= 5);
    assert.equal(second.parsed.subject, accented);
    assertFoldedAt76(second.head);
  });

  it('whitespace in subjects and names survives: runs of spaces, tabs, spaces at either end, long lines of them', async () => {
    // The long ones are folded: never at a run of whitespace, which a reader would shrink.
    const runs = Array.from({ length: 12 }, (_, i) => `word${i}${' '.repeat(1 + (i % 3))}and\t`).join('').trim();
    for (const text of ['two  spaces', 'a\ttab', ' leading', 'trailing ', '  both  ', runs, `${runs.replace(/\t/g, ' ')} é`]) {
      const { head, parsed } = await roundTrip(mailWith({ subject: text, to: [{ name: text, address: 'v@example.com' }] }));
      assert.equal(parsed.subject, text);
      assert.deepEqual(mailboxes(parsed.to), [{ name: text, address: 'v@example.com' }]);
      for (const line of [...headerLines(head, 'Subject'), ...headerLines(head, 'To')]) {
        assert.doesNotMatch(line, /[ \t]$/, 'no header line ends in whitespace (mail systems may strip it)');
        assert.match(line, /^(?:Subject|To): \S|^ \S/, 'a folded line starts with one space, then a word');
      }
    }
  });

  it('text that looks like an encoded word comes back as written, not decoded', async () => {
    const subject = 'About =?UTF-8?B?w6k=?= in headers';
    const { parsed } = await roundTrip(mailWith({ subject, from: { name: '=?UTF-8?B?w6k=?=', address: 'help@support.test' } }));
    assert.equal(parsed.subject, subject);
    assert.deepEqual(mailboxes(parsed.from), [{ name: '=?UTF-8?B?w6k=?=', address: 'help@support.test' }]);
  });

  it('a display name with `"`, `\\` and `,` is quoted with escapes and comes back as given', async () => {
    const tricky = 'Acme, Inc. "Support" \\ Team';
    const mail = mailWith({
      from: { name: tricky, address: 'help@support.test' },
      to: [{ name: 'Müller, Jörg', address: 'joerg@example.com' }, { name: 'Doe, Jane', address: 'jane@example.com' }, 'bare@example.com'],
    });
    const { head, parsed } = await roundTrip(mail);
    assert.ok(head.includes('From: "Acme, Inc. \\"Support\\" \\\\ Team" <help@support.test>'), headerLines(head, 'From').join('\n'));
    assert.deepEqual(mailboxes(parsed.from), [mail.from]);
    assert.deepEqual(mailboxes(parsed.to), [
      { name: 'Müller, Jörg', address: 'joerg@example.com' },
      { name: 'Doe, Jane', address: 'jane@example.com' },
      { name: '', address: 'bare@example.com' },
    ]);
  });

  it('20 References are space separated, folded, and come back in order', async () => {
    const references = Array.from({ length: 20 }, (_, i) => `<${i}.${'0123456789abcdef'.repeat(2)}@support.test>`);
    const { head, parsed } = await roundTrip(mailWith({ inReplyTo: references[19], references }));
    const lines = headerLines(head, 'References');
    assert.ok(lines.length >= 10, `folded on ${lines.length} lines`);
    assert.equal(lines.join('').replace(/^References: /, ''), references.join(' '), 'unfolded, the ids are separated by single spaces');
    assert.deepEqual(parsed.references, references);
    assert.equal(parsed.inReplyTo, references[19]);
    assertFoldedAt76(head);
  });

  it('a line of 2,000 characters goes quoted-printable in lines of at most 76 and comes back whole', async () => {
    const long = `${'word '.repeat(399)}ends.`; // 2,000 chars
    const mail = mailWith({ text: `Before\n${long}\nAfter\n`, html: `<p>${'x'.repeat(2000)}</p>` });
    const { lines, parsed } = await roundTrip(mail);
    assert.equal(parsed.text, mail.text);
    assert.equal(parsed.html, mail.html);
    const body = lines.slice(lines.indexOf(''));
    assert.equal(body.filter((line) => line === 'Content-Transfer-Encoding: quoted-printable').length, 2, 'both parts');
    for (const line of body) assert.ok(line.length <= 76, `a body line of ${line.length} chars`);
  });

  it('unbroken words too long for a line (subject, name, extra header) are encoded and cut, not left over 998', async () => {
    const word = 'x'.repeat(2000);
    const mail = mailWith({ subject: word, to: [{ name: word, address: 'v@example.com' }], headers: { 'X-Long': word } });
    const { head, parsed } = await roundTrip(mail);
    assert.equal(parsed.subject, word);
    assert.deepEqual(mailboxes(parsed.to), [{ name: word, address: 'v@example.com' }]);
    // mailparser decodes the headers it knows only; this one we decode word by word.
    const xLong = headerLines(head, 'X-Long').join('').replace(/^X-Long: /, '');
    assert.equal(xLong.replace(/=\?UTF-8\?B\?([^?]*)\?=( |$)/g, (_, base64: string) => Buffer.from(base64, 'base64').toString('utf8')), word);
    assertFoldedAt76(head);
  });

  it('lines starting with "." and "From " come back as given', async () => {
    const text = '.\n.leading dot\n..two dots\nFrom the desk of Zoe\n>From quoted\n.';
    for (const html of [null, `<pre>\n${text}\n</pre>`]) {
      const { parsed } = await roundTrip(mailWith({ text, html }));
      assert.equal(parsed.text, text);
      if (html) assert.equal(parsed.html, html);
    }
  });

  it('CRLF and LF in the text both go out as CRLF and come back as LF (as mailparser gives line breaks); a lone CR survives', async () => {
    const text = 'one\r\ntwo\nthree\r\n\r\nfour\n';
    for (const html of [null, '<p>one</p>\r\n<p>two</p>\n']) {
      const { parsed } = await roundTrip(mailWith({ text, html }));
      assert.equal(parsed.text, 'one\ntwo\nthree\n\nfour\n');
      if (html) assert.equal(parsed.html, '<p>one</p>\n<p>two</p>\n');
    }
    const { head, parsed } = await roundTrip(mailWith({ text: 'carriage\rreturn\n', html: null }));
    assert.equal(parsed.text, 'carriage\rreturn\n');
    assert.ok(head.includes('Content-Transfer-Encoding: quoted-printable'), 'a lone CR has no 7bit form');
  });

  it('a final newline is kept or left out as given, single-part or multipart, 7bit or quoted-printable', async () => {
    for (const text of ['no final newline', 'one final newline\n', 'two final newlines\n\n', 'trailing space \n', 'trailing space ', 'é trailing space \nnext', 'é trailing tab\t', 'é no final newline', 'é final newline\n', '']) {
      for (const html of [null, '<p>x</p>']) {
        const { parsed } = await roundTrip(mailWith({ text, html }));
        // mailparser leaves `text` out when the text part is empty.
        assert.equal(parsed.text ?? '', text, `${JSON.stringify(text)} with${html ? '' : 'out'} html`);
      }
    }
  });

  it('attachments: bytes, content types and file names (non-ASCII, long) come back; multipart/mixed around the alternative', async () => {
    const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(10_000)]);
    const longName = `${'Überweisungsbestätigung für Bestellung '.repeat(5)}4471.pdf`;
    const attachments = [
      { filename: 'parts-list.bin', content: binary, contentType: 'application/octet-stream' },
      { filename: 'résumé 履歴書 😀.pdf', content: Buffer.from('%PDF-1.4 fake'), contentType: 'application/pdf' },
      { filename: 'café.txt', content: Buffer.from('crème brûlée'), contentType: 'text/plain' },
      { filename: longName, content: Buffer.from([0x89, 0x50, 0x4e, 0x47]), contentType: 'image/png' },
      { filename: 'empty.txt', content: Buffer.alloc(0), contentType: 'text/plain' },
      { filename: 'odd type', content: Buffer.from('x'), contentType: 'not a type\r\nX-Evil: 1' },
    ];
    const mail = mailWith({ attachments });
    const { raw, lines, parsed } = await roundTrip(mail);

    assert.equal((parsed.headers.get('content-type') as { value: string }).value, 'multipart/mixed');
    assert.equal(parsed.text, mail.text);
    assert.equal(parsed.html, mail.html);
    assert.equal(parsed.attachments.length, attachments.length);
    parsed.attachments.forEach((got, i) => {
      const sent = attachments[i]!;
      assert.equal(got.filename, sent.filename);
      assert.equal(got.contentType, sent.filename === 'odd type' ? 'application/octet-stream' : sent.contentType);
      assert.equal(got.contentDisposition, 'attachment');
      assert.ok(got.content.equals(sent.content), `${sent.filename}: the bytes arrive as they were`);
    });
    const text = raw.toString('latin1');
    assert.ok(text.includes(`; filename*=utf-8''caf%C3%A9.txt\r\n`), 'a non-ASCII name is an RFC 2231 parameter');
    assert.ok(text.includes(`; name*=utf-8''caf%C3%A9.txt\r\n`), 'in Content-Type too');
    assert.ok(text.includes(`filename*0*=utf-8''r%C3%A9sum%C3%A9%20`) && text.includes('filename*1*='), 'a long name is cut into RFC 2231 continuations');
    assert.ok(text.includes('; filename="parts-list.bin"\r\n'), 'a plain name is quoted as it is');
    // Some readers decode each continuation on its own: each must hold whole characters.
    for (const [, piece] of text.matchAll(/filename\*\d+\*=(?:utf-8'')?([^;\r]*)/g)) {
      const bytes = Buffer.from(piece!.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes), piece);
    }
    assert.ok(!lines.some((line) => line.startsWith('X-Evil')), 'a content type cannot add a header');
    const base64 = lines.filter((line) => /^[A-Za-z0-9+/]+=*$/.test(line) && line.length > 40);
    assert.ok(base64.length > 100, 'the binary goes base64');
    for (const line of base64) assert.ok(line.length <= 76, `a base64 line of ${line.length} chars`);
  });

  it('boundaries are random, differ between messages, and appear only on their own lines', async () => {
    const boundariesOf = (raw: Buffer) => [...raw.toString('latin1').matchAll(/boundary="([^"]+)"/g)].map((m) => m[1]!);
    const mail = mailWith({ attachments: [{ filename: 'a.bin', content: randomBytes(3000), contentType: 'application/octet-stream' }] });
    const first = await roundTrip(mail);
    const second = await roundTrip(mail);
    const [mixed, alternative] = boundariesOf(first.raw);
    assert.ok(mixed && alternative && mixed !== alternative);
    assert.match(mixed, /[0-9a-f]{24}/, '96 random bits');
    assert.equal(new Set([...boundariesOf(first.raw), ...boundariesOf(second.raw)]).size, 4);
    for (const boundary of [mixed, alternative]) {
      const holding = first.lines.filter((line) => line.includes(boundary));
      assert.deepEqual(
        holding.filter((line) => line !== `--${boundary}` && line !== `--${boundary}--` && line !== ` boundary="${boundary}"`),
        [],
        'the boundary is only in delimiter lines and its Content-Type',
      );
    }
    assert.equal(first.lines.filter((line) => line === `--${alternative}`).length, 2);
    assert.equal(first.lines.filter((line) => line === `--${mixed}`).length, 2);
  });

  it('CR and LF in header values become spaces and never start a header of their own', async () => {
    const mail = mailWith({
      subject: 'Hello\r\nBcc: evil@example.com',
      from: { name: 'Zoe\nBcc: evil@example.com', address: 'help@support.test' },
      headers: { 'X-Sideline-Side-Conversation': 'sc\r\nBcc: evil@example.com' },
      attachments: [{ filename: 'a\r\nb.txt', content: Buffer.from('x'), contentType: 'text/plain' }],
    });
    const { lines, parsed } = await roundTrip(mail);
    assert.ok(!lines.some((line) => /^bcc:/i.test(line)), 'no Bcc line');
    assert.equal(parsed.bcc, undefined);
    assert.equal(parsed.subject, 'Hello Bcc: evil@example.com');
    assert.deepEqual(mailboxes(parsed.from), [{ name: 'Zoe Bcc: evil@example.com', address: 'help@support.test' }]);
    assert.equal(parsed.headers.get('x-sideline-side-conversation'), 'sc Bcc: evil@example.com');
    assert.equal(parsed.attachments[0]?.filename, 'a b.txt');
  });

  it('extra headers that composeMail writes itself, or that are not header names, are refused', () => {
    for (const name of ['Content-Type', 'subject', 'Bcc', 'Bad Name', 'Colon:', '']) {
      assert.throws(() => composeMail(mailWith({ headers: { [name]: 'x' } })), RangeError, name);
    }
  });

  it('the raw message goes through nodemailer SMTP ({ envelope, raw }) byte for byte, dot-stuffing and all', async () => {
    const server = await startSmtpSink();
    const sink = smtpSink(server.url);
    try {
      const mail = mailWith({
        text: '.\n.leading dot\nFrom the desk of Zoe\n',
        attachments: [{ filename: 'parts.bin', content: randomBytes(2000), contentType: 'application/octet-stream' }],
      });
      const { envelope, raw } = composeMail(mail);
      const result = await sink.send({ messageId: mail.messageId, envelope, raw });
      assert.deepEqual(result.accepted, ['vendor@example.com', 'orders@example.com']);
      await server.waitForMessages(1);
      const received = server.messages[0]!;
      assert.equal(received.mailFrom, envelope.from);
      assert.deepEqual(received.rcptTo, envelope.to);
      assert.ok(received.raw.equals(raw), 'the bytes received are the bytes composed');
      assert.equal((await simpleParser(received.raw)).text, mail.text);
    } finally {
      sink.close();
      await server.close();
    }
  });
});
