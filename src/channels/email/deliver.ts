import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Transporter, TransportOptions } from 'nodemailer';
import type { BlobStore } from '../../attachments/storage.js';
import type { Database, OutboxRow } from '../../db/types.js';
import type { Channel, DeliveryOutcome } from '../../outbox/relay.js';
import type { Attachment } from '../../db/types.js';
import { attachmentsOfEvents } from '../../attachments/repo.js';
import { groupBy } from '../../db/paging.js';
import { queuedRecipientsOf } from '../../outbox/deliveries.js';
import { findEventsToDeliver, type EventToDeliver } from '../../side-conversations/repo.js';
import { findSender, threadAt, threadsOf, type ThreadMessage } from './repo.js';
import { composeMail, type OutboundMail } from './mime.js';
import { cachedMessageIdKey, outboundMessageId, replyAddress } from './threading.js';

/** A message as it goes out: composed (composeMail), with its envelope and its Message-ID. */
export interface OutgoingMail {
  messageId: string;
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

/** Where outbound mail goes: an SMTP server, or .eml files when no server is configured. */
export interface MailSink {
  /** `temporary`: the server refused the recipient with a 4xx, so it is tried again later. */
  send(message: OutgoingMail): Promise<{ accepted: string[]; rejected: Array<{ recipient: string; reason: string; temporary: boolean }> }>;
  close(): void;
}

/**
 * A nodemailer transport made on first use: nodemailer is a quarter of the server's code, loaded
 * only once mail is sent, not before the port opens. It carries the message as composed
 * (composeMail: nodemailer's own MIME building cost half the relay's time per message).
 */
function lazyTransport(options: () => TransportOptions): { get(): Promise<Transporter>; close(): void } {
  let made: Promise<Transporter> | undefined;
  let closed = false;
  return {
    get() {
      made ??= import('nodemailer').then((nodemailer) => nodemailer.default.createTransport(options()));
      return made;
    },
    close() {
      if (closed) return;
      closed = true;
      void made?.then((transporter) => transporter.close(), () => undefined);
    },
  };
}

/**
 * SMTP connections one relay keeps open at most: enough for its deliveries in flight to rarely
 * wait for one (DEFAULT_RELAY_CONCURRENCY), few enough for a provider's per-client limit.
 */
const SMTP_CONNECTIONS = 16;

export function smtpSink(smtpUrl: string): MailSink {
  // The URL goes inside the options object: given as a string, nodemailer would take the second
  // argument as message defaults and open a new connection for every message.
  const transport = lazyTransport(() => ({
    url: smtpUrl,
    pool: true,
    maxConnections: SMTP_CONNECTIONS,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  }) as TransportOptions);
  return {
    async send({ envelope, raw }) {
      const info = (await (await transport.get()).sendMail({ envelope, raw })) as {
        accepted?: Array<string | { address: string }>;
        rejected?: Array<string | { address: string }>;
        rejectedErrors?: Array<{ recipient?: string; response?: string; responseCode?: number; message: string }>;
      };
      const address = (a: string | { address: string }) => (typeof a === 'string' ? a : a.address).toLowerCase();
      const errors = new Map((info.rejectedErrors ?? []).map((e) => [String(e.recipient ?? '').toLowerCase(), e]));
      return {
        accepted: (info.accepted ?? []).map(address),
        rejected: (info.rejected ?? []).map((r) => {
          const error = errors.get(address(r));
          const code = error?.responseCode ?? Number(/^(\d{3})/.exec(error?.response ?? '')?.[1] ?? 550);
          return { recipient: address(r), reason: error?.response ?? error?.message ?? 'rejected by the server', temporary: code >= 400 && code < 500 };
        }),
      };
    },
    close: () => transport.close(),
  };
}

/**
 * Without SMTP_URL: each message is an .eml file named by its Message-ID (fixed by its event), so
 * a retry rewrites the same file. Lines end in LF, as files on this system do (grep and a shell
 * read them as text; the README's walk-through does).
 */
export function fileSink(directory: string): MailSink {
  return {
    async send({ messageId, envelope, raw }) {
      await mkdir(directory, { recursive: true });
      const name = messageId.replace(/[^A-Za-z0-9.@-]/g, '') || 'message';
      const path = join(directory, `${name}.eml`);
      await writeFile(`${path}.tmp`, Buffer.from(raw.toString('latin1').replaceAll('\r\n', '\n'), 'latin1'), { mode: 0o600 });
      await rename(`${path}.tmp`, path);
      return { accepted: envelope.to.map((address) => address.toLowerCase()), rejected: [] };
    },
    close: () => undefined,
  };
}

/** SMTP says whether to try again: 4xx and broken connections are temporary, 5xx is final. */
export function classifySmtpError(error: unknown): DeliveryOutcome {
  const e = error as { responseCode?: number; code?: string; response?: string; message?: string };
  const reason = e.response ?? e.message ?? String(error);
  if (typeof e.responseCode === 'number' && e.responseCode >= 500) return { kind: 'failed', reason };
  return { kind: 'retry', reason: e.code ? `${e.code}: ${reason}` : reason };
}

/** What the messages of one account's rows in a batch are made of, read in one go. */
interface AccountBatch {
  sender: { name: string; support_address: string } | undefined;
  events: Map<string, EventToDeliver>;
  queued: Map<number, Set<string>>;
  threads: Map<string, ThreadMessage[]>;
  attachments: Map<string, Attachment[]>;
}

async function readAccountBatch(db: Kysely<Database>, accountId: number, rows: OutboxRow[]): Promise<AccountBatch> {
  const eventIds = [...new Set(rows.map((row) => row.event_id))];
  const [sender, events, queued, threads, attachments] = await Promise.all([
    findSender(db, accountId),
    findEventsToDeliver(db, accountId, rows),
    queuedRecipientsOf(db, accountId, rows.map((row) => row.id)),
    threadsOf(db, accountId, [...new Set(rows.map((row) => row.side_conversation_id))]),
    attachmentsOfEvents(db, accountId, eventIds),
  ]);
  return { sender, events, queued, threads, attachments };
}

export function createEmailChannel(deps: { db: Kysely<Database>; blobs: BlobStore; sink: MailSink; inboundDomain: string }): Channel {
  const { db, blobs, sink, inboundDomain } = deps;
  const readKey = cachedMessageIdKey();

  async function deliverFrom(batch: AccountBatch | undefined, row: OutboxRow): Promise<DeliveryOutcome> {
    const found = batch?.events.get(row.event_id);
    const account = batch?.sender;
    if (!batch || !found || !account || !found.event.message) return { kind: 'failed', reason: 'the message no longer exists' };
    const { event, sideConversation: sc } = found;
    const eventMessage = found.event.message;
    const wanted = batch.queued.get(row.id) ?? new Set<string>();
    const to = eventMessage.to
      .filter((p) => p.email && wanted.has(p.email.toLowerCase()))
      .map((p) => (p.name ? { name: p.name, address: p.email! } : p.email!));
    if (to.length === 0) return { kind: 'delivered', recipients: [] };

    const { earlier, own } = threadAt(batch.threads.get(sc.id) ?? [], event.id);
    const messageId = own ?? (await outboundMessageId(db, account.support_address, event.id, readKey));
    const files: OutboundMail['attachments'] = [];
    for (const a of batch.attachments.get(event.id) ?? []) {
      const bytes = await blobs.get(a.storage_key);
      if (bytes) files.push({ filename: a.file_name, content: bytes, contentType: a.content_type });
    }
    const mail: OutboundMail = {
      messageId,
      from: { name: event.actor_name ?? account.name, address: account.support_address },
      to,
      replyTo: sc.reply_token ? replyAddress(sc.reply_token, inboundDomain) : account.support_address,
      subject: event.type === 'create' ? sc.subject : `Re: ${sc.subject}`,
      text: eventMessage.body,
      html: eventMessage.html_body ?? null,
      attachments: files,
      date: event.created_at,
      headers: { 'X-Sideline-Side-Conversation': sc.id, 'Auto-Submitted': 'no' },
      ...(earlier.length ? { inReplyTo: earlier[earlier.length - 1], references: earlier.slice(-20) } : {}),
    };
    let outgoing: OutgoingMail;
    try {
      outgoing = { messageId, ...composeMail(mail) };
    } catch (error) {
      // Nothing a later attempt would change (a header the composer refuses): stop, and say why.
      return { kind: 'failed', reason: `the message could not be composed: ${error instanceof Error ? error.message : String(error)}` };
    }
    try {
      const result = await sink.send(outgoing);
      return {
        kind: 'delivered',
        recipients: [
          ...result.accepted.map((recipient) => ({ recipient, status: 'sent' as const })),
          ...result.rejected.map((r) => ({ recipient: r.recipient, status: r.temporary ? ('deferred' as const) : ('failed' as const), reason: r.reason })),
        ],
      };
    } catch (error) {
      return classifySmtpError(error);
    }
  }

  // A batch's rows need nothing their own delivery changes: the queued recipients of a row are
  // changed only by recording that row's outcome, after its delivery.
  async function forBatch(rows: OutboxRow[]): Promise<Pick<Channel, 'deliver'>> {
    const batches = new Map<number, AccountBatch>();
    await Promise.all(
      [...groupBy(rows, (row) => row.account_id)].map(async ([accountId, ofAccount]) => {
        batches.set(accountId, await readAccountBatch(db, accountId, ofAccount));
      }),
    );
    return { deliver: (row) => deliverFrom(batches.get(row.account_id), row) };
  }

  return { forBatch, deliver: async (row) => (await forBatch([row])).deliver(row) };
}
