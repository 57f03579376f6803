import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import type { RelayLogger } from '../../outbox/relay.js';
import { InboundRefusal, receiveEmail, type InboundDeps } from './receive.js';
import { tokenFromAddress } from './threading.js';

export interface SmtpListenerOptions extends InboundDeps {
  db: Kysely<Database>;
  maxBytes: number;
  logger: RelayLogger;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * Our inbound mail door. Recipients are checked at RCPT: a reply+TOKEN address must name a live
 * conversation, other addresses must be in INBOUND_DOMAIN (threaded by headers after DATA), and
 * nothing else is taken (we are not a relay). Every failure is an SMTP answer, never a crash.
 */
export function createSmtpListener(options: SmtpListenerOptions): SMTPServer {
  const { db, inboundDomain, maxBytes, logger } = options;
  const server = new SMTPServer({
    name: inboundDomain,
    banner: 'Sideline inbound mail',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: maxBytes,
    maxClients: 50,
    socketTimeout: 60_000,
    logger: false,
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      void (async () => {
        if (session.envelope.rcptTo.length >= 50) return callback(smtpError(452, 'Too many recipients'));
        const recipient = address.address;
        const domain = recipient.split('@').pop()?.toLowerCase();
        if (domain !== inboundDomain.toLowerCase()) return callback(smtpError(550, `${recipient}: relay not permitted`));
        if (/^reply\+/i.test(recipient)) {
          const token = tokenFromAddress(recipient, inboundDomain);
          const known = token ? await db.selectFrom('side_conversations').select('id').where('reply_token', '=', token).executeTakeFirst() : undefined;
          if (!known) {
            logger.warn({ recipient: recipient.replace(/\+[^@]*/, '+…') }, 'inbound mail to an unknown reply address refused');
            return callback(smtpError(550, `${recipient}: no such side conversation`));
          }
        }
        callback();
      })().catch((error: unknown) => {
        logger.error({ err: error }, 'inbound RCPT check failed');
        callback(smtpError(451, 'Temporary failure, try again later'));
      });
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBytes) chunks.push(chunk);
      });
      stream.on('error', (error) => {
        logger.warn({ err: error }, 'inbound mail stream failed');
      });
      stream.on('end', () => {
        if (stream.sizeExceeded || size > maxBytes) {
          return callback(smtpError(552, `Message exceeds the size limit of ${maxBytes} bytes`));
        }
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        receiveEmail(options, Buffer.concat(chunks), { rcptTo })
          .then((result) => {
            logger.info({ side_conversation_id: result.sideConversationId, event_id: result.eventId, duplicate: result.duplicate }, 'inbound mail recorded');
            callback(null, result.duplicate ? 'Already received' : 'Recorded');
          })
          .catch((error: unknown) => {
            if (error instanceof InboundRefusal) {
              logger.warn({ reason: error.message }, 'inbound mail refused');
              return callback(smtpError(error.smtpCode, error.message));
            }
            logger.error({ err: error }, 'inbound mail failed');
            callback(smtpError(451, 'Temporary failure, try again later'));
          });
      });
    },
  });
  server.on('error', (error) => logger.warn({ err: error }, 'SMTP listener error'));
  return server;
}
