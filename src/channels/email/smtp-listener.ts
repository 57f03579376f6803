import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { DomainError, Invalid, NotFound, TooLarge } from '../../errors.js';
import type { RelayLogger } from '../../outbox/relay.js';
import { InboundRefusal, receiveEmail, type InboundDeps, type InboundRefusalReason } from './receive.js';
import { tokenFromAddress } from './threading.js';

export interface SmtpListenerOptions extends InboundDeps {
  db: Kysely<Database>;
  maxBytes: number;
  logger: RelayLogger;
  /** INBOUND_SMTP_MAX_CLIENTS: sessions open at once; the next one is answered 421 at connect. */
  maxClients?: number;
  /** Where a message is written while it arrives (the OS temp directory unless given). */
  spoolDir?: string;
}

export const DEFAULT_INBOUND_SMTP_MAX_CLIENTS = 20;

/** Per session: recipients of one message, messages, and refused recipients before we hang up. */
const MAX_RECIPIENTS = 50;
const MAX_MESSAGES_PER_SESSION = 100;
const MAX_REFUSED_RECIPIENTS = 10;

/** The SMTP answer to each refusal: 552 too big, 554 unreadable, 550 not for us (RFC 5321 §4.2.3). */
const SMTP_CODE: Record<InboundRefusalReason, number> = {
  'header-too-large': 552,
  malformed: 554,
  'unknown-reply-address': 550,
  unthreaded: 550,
  'no-sender': 550,
  'not-participant': 550,
  empty: 550,
};

/**
 * The SMTP answer to the commands' domain errors: a message the rules refuse (a body over the
 * limit) bounces, 550 (552 when it is too large); a conversation gone is 550; anything passing
 * (RateLimited, Conflict) is 451, try again later.
 */
function smtpCodeFor(error: DomainError): number {
  if (error instanceof TooLarge) return 552;
  if (error instanceof Invalid || error instanceof NotFound) return 550;
  return 451;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

type SmtpCallback = (err?: Error | null, message?: string) => void;

/**
 * Our inbound mail door. Every recipient is checked at RCPT, before any message is sent: a
 * reply+TOKEN address must name a live conversation, any other address must be the support address
 * of an account (mail to it is threaded by its headers after DATA), and nothing else is taken (we
 * are no relay, and an address that names nothing of ours is not worth the bytes). A message is
 * written to a spool file as it arrives, never held in memory, and parsed from there. Refusals
 * (InboundRefusal, and the commands' domain errors) become SMTP answers here and only here;
 * nothing is a crash.
 */
export function createSmtpListener(options: SmtpListenerOptions): SMTPServer {
  const { db, inboundDomain, maxBytes, logger } = options;
  const spoolDir = options.spoolDir ?? tmpdir();
  const refusedRecipients = new WeakMap<SMTPServerSession, number>();

  async function recipientIsOurs(recipient: string): Promise<'ours' | 'unknown-token' | 'unknown-mailbox' | 'elsewhere'> {
    const token = tokenFromAddress(recipient, inboundDomain);
    if (token) {
      const known = await db.selectFrom('side_conversations').select('id').where('reply_token', '=', token).executeTakeFirst();
      return known ? 'ours' : 'unknown-token';
    }
    const account = await db
      .selectFrom('accounts')
      .select('id')
      .where(sql<string>`lower(support_address)`, '=', recipient.toLowerCase())
      .executeTakeFirst();
    if (account) return 'ours';
    const domain = recipient.split('@').pop()?.toLowerCase();
    if (domain !== inboundDomain.toLowerCase()) return 'elsewhere';
    return /^reply\+/i.test(recipient) ? 'unknown-token' : 'unknown-mailbox';
  }

  /** Refuses one recipient; a session that keeps guessing is hung up on. */
  function refuse(session: SMTPServerSession, callback: SmtpCallback, message: string): void {
    const refused = (refusedRecipients.get(session) ?? 0) + 1;
    refusedRecipients.set(session, refused);
    if (refused > MAX_REFUSED_RECIPIENTS) return callback(smtpError(421, 'Too many unknown recipients in this session, closing'));
    callback(smtpError(550, message));
  }

  /** Streams DATA to a spool file (at most maxBytes of it), then records it from there. */
  function receive(stream: SMTPServerDataStream, session: SMTPServerSession, callback: SmtpCallback): void {
    const spool = join(spoolDir, `sideline-inbound-${randomUUID()}.eml`);
    const file = createWriteStream(spool, { flags: 'wx', mode: 0o600 });
    let size = 0;
    let writeError: Error | null = null;
    let settled = false;
    const finish = (answer: () => Promise<[Error | null, string?]>) => {
      if (settled) return;
      settled = true;
      void answer()
        .catch((error: unknown): [Error | null] => {
          logger.error({ err: error }, 'inbound mail failed');
          return [smtpError(451, 'Temporary failure, try again later')];
        })
        .then(async ([err, message]) => {
          await rm(spool, { force: true }).catch(() => undefined);
          callback(err, message);
        });
    };

    file.on('error', (error) => {
      writeError = error;
      // Keep reading the client's bytes (to their end) so the session can still be answered.
      stream.resume();
    });
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes || writeError) return;
      if (!file.write(chunk)) {
        stream.pause();
        file.once('drain', () => stream.resume());
      }
    });
    stream.on('error', (error) => {
      logger.warn({ err: error }, 'inbound mail stream failed');
      file.destroy();
      // The client is gone: nobody reads this answer, the spool file is removed.
      finish(async () => [smtpError(451, 'The message did not arrive in full')]);
    });
    stream.on('end', () => {
      finish(async () => {
        if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()).end());
        if (stream.sizeExceeded || size > maxBytes) return [smtpError(552, `Message exceeds the size limit of ${maxBytes} bytes`)];
        if (writeError) {
          logger.error({ err: writeError }, 'inbound mail could not be spooled');
          return [smtpError(451, 'Temporary failure, try again later')];
        }
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        try {
          const result = await receiveEmail(options, { path: spool }, { rcptTo });
          logger.info({ side_conversation_id: result.sideConversationId, event_id: result.eventId, duplicate: result.duplicate }, 'inbound mail recorded');
          return [null, result.duplicate ? 'Already received' : 'Recorded'];
        } catch (error) {
          if (error instanceof DomainError) {
            logger.warn({ reason: error.constructor.name, detail: error.message }, 'inbound mail refused');
            return [smtpError(smtpCodeFor(error), error.message)];
          }
          if (!(error instanceof InboundRefusal)) throw error;
          logger.warn({ reason: error.reason, detail: error.message }, 'inbound mail refused');
          return [smtpError(SMTP_CODE[error.reason], error.message)];
        }
      });
    });
  }

  const server = new SMTPServer({
    name: inboundDomain,
    banner: 'Sideline inbound mail',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    // Nothing reads the client's host name; a lookup per connection only costs time.
    disableReverseLookup: true,
    size: maxBytes,
    maxClients: options.maxClients ?? DEFAULT_INBOUND_SMTP_MAX_CLIENTS,
    socketTimeout: 60_000,
    logger: false,
    onMailFrom(_address: SMTPServerAddress, session: SMTPServerSession, callback: SmtpCallback) {
      if (session.transaction > MAX_MESSAGES_PER_SESSION) return callback(smtpError(421, `At most ${MAX_MESSAGES_PER_SESSION} messages per session, closing`));
      callback();
    },
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: SmtpCallback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(smtpError(452, 'Too many recipients'));
      const recipient = address.address;
      recipientIsOurs(recipient)
        .then((verdict) => {
          if (verdict === 'ours') return callback();
          if (verdict === 'elsewhere') return refuse(session, callback, `${recipient}: relay not permitted`);
          logger.warn({ recipient: recipient.replace(/\+[^@]*/, '+…') }, 'inbound mail to an unknown address refused');
          refuse(session, callback, verdict === 'unknown-token' ? `${recipient}: no such side conversation` : `${recipient}: no such mailbox`);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'inbound RCPT check failed');
          callback(smtpError(451, 'Temporary failure, try again later'));
        });
    },
    onData: receive,
  });
  server.on('error', (error) => logger.warn({ err: error }, 'SMTP listener error'));
  return server;
}
