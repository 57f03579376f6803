import type { ServerResponse } from 'node:http';
import type { FeedEntry } from '../db/types.js';
import type { EventHub, FeedBatch, FeedSubscriber } from './hub.js';
import { presentFeed, sseMessage, type PresentedFeedEntry } from './presenter.js';
import { feedAfter } from './repo.js';

export interface StreamLimits {
  /** Interval of the `: ping` comment. */
  heartbeatMs: number;
  /** Bytes written but not yet taken by the client beyond which it is cut off (it resumes by cursor). */
  maxBufferedBytes: number;
  /** How long a replay waits for the client to take a page before cutting it off. */
  stallMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024, stallMs: 30_000 };

declare module 'fastify' {
  interface FastifyInstance {
    /** The open live streams of this app (their count, for operations and tests). */
    eventStreams: EventStreams;
  }
}

const CATCH_UP_PAGE = 200;

/** The SSE text of a presented row, made once however many streams send it. */
const sseTexts = new WeakMap<PresentedFeedEntry, string>();
function sseText(item: PresentedFeedEntry): string {
  let text = sseTexts.get(item);
  if (text === undefined) {
    text = sseMessage(item.entry, item.message);
    sseTexts.set(item, text);
  }
  return text;
}
/** Batches queued for presenting before the connection stops taking them from memory and re-reads the store. */
const MAX_QUEUED_BATCHES = 50;

/**
 * One open `GET /api/v2/sideline/stream`. It starts by catching up from the store after its cursor,
 * then takes the hub's batches as they come. Whenever it falls behind (a catch-up page, too many
 * batches queued) it reads the store again: the store, not memory, is where missed events come from,
 * so a reconnecting or slow client gets everything after its cursor, once, in order.
 */
export class StreamConnection implements FeedSubscriber {
  readonly accountId: number;
  readonly #ticketId: number | undefined;
  readonly #hub: EventHub;
  readonly #raw: ServerResponse;
  readonly #base: string;
  readonly #limits: StreamLimits;
  readonly #onClosed: (connection: StreamConnection) => void;
  #cursor: number;
  #catchingUp = true;
  #queued = 0;
  #work: Promise<void> = Promise.resolve();
  #heartbeat: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(input: {
    accountId: number;
    ticketId: number | undefined;
    cursor: number | null;
    hub: EventHub;
    raw: ServerResponse;
    base: string;
    limits: StreamLimits;
    onClosed: (connection: StreamConnection) => void;
  }) {
    this.accountId = input.accountId;
    this.#ticketId = input.ticketId;
    this.#hub = input.hub;
    this.#raw = input.raw;
    this.#base = input.base;
    this.#limits = input.limits;
    this.#onClosed = input.onClosed;
    this.#cursor = input.cursor ?? -1;
  }

  /** Subscribes, then replays what the store holds after the cursor (none when no cursor was given). */
  async open(): Promise<void> {
    this.#raw.on('close', () => this.close());
    await this.#hub.subscribe(this);
    if (this.#closed) {
      this.#hub.unsubscribe(this);
      return;
    }
    if (this.#cursor < 0) this.#cursor = this.#hub.lastPosition(this.accountId);
    // A ping is only needed on a quiet line; one behind unsent data would only add to the backlog.
    this.#heartbeat = setInterval(() => {
      if (!this.#closed && this.#raw.writableLength === 0) this.#raw.write(': ping\n\n');
    }, this.#limits.heartbeatMs);
    this.#heartbeat.unref();
    this.#enqueue(() => this.#catchUp());
  }

  onBatch(batch: FeedBatch): void {
    if (this.#closed || this.#catchingUp) return;
    if (this.#queued >= MAX_QUEUED_BATCHES) {
      // Presenting cannot keep up: drop what is queued in memory and read it back from the store.
      this.#catchingUp = true;
      this.#enqueue(() => this.#catchUp());
      return;
    }
    this.#queued += 1;
    this.#enqueue(async () => {
      this.#queued -= 1;
      if (this.#catchingUp) return;
      await this.#send(batch.entries.filter((e) => e.position! > this.#cursor), batch);
    });
  }

  #enqueue(work: () => Promise<void>): void {
    this.#work = this.#work.then(async () => {
      if (this.#closed) return;
      try {
        await work();
      } catch {
        // The store failed under us: end the stream; the client reconnects with its cursor.
        this.close();
      }
    });
  }

  async #catchUp(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const rows = await feedAfter(this.#hub.db, this.accountId, this.#cursor, CATCH_UP_PAGE);
      await this.#send(rows);
      // A replay goes at the client's pace: one page in memory at most.
      if (!(await this.#drained())) return this.#cutOff();
      if (rows.length < CATCH_UP_PAGE && this.#cursor >= this.#hub.lastPosition(this.accountId)) {
        // Caught up with the hub: from here on every new row comes in a batch.
        this.#catchingUp = false;
        return;
      }
    }
  }

  /** Writes the rows this stream shows and moves the cursor past all of them. */
  /** Sends `rows`, presented by the batch they came in (shared with the other streams) or, catching up, here. */
  async #send(rows: FeedEntry[], batch?: FeedBatch): Promise<void> {
    if (rows.length === 0) return;
    const shown = this.#ticketId === undefined ? rows : rows.filter((r) => r.ticket_id === this.#ticketId);
    let presented: PresentedFeedEntry[];
    if (batch) {
      const wanted = new Set(shown);
      presented = shown.length === 0 ? [] : (await batch.presented(this.#base)).filter((p) => wanted.has(p.entry));
    } else {
      presented = await presentFeed(this.#hub.db, this.accountId, shown, this.#base);
    }
    let text = '';
    for (const item of presented) text += sseText(item);
    if (text) this.#write(text);
    this.#cursor = Math.max(this.#cursor, rows[rows.length - 1]!.position!);
  }

  #write(text: string): void {
    if (this.#closed) return;
    // What we wrote before is still not taken: a consumer that does not read must not hold our
    // memory. It is cut off and resumes by cursor.
    if (this.#raw.writableLength > this.#limits.maxBufferedBytes) return this.#cutOff();
    this.#raw.write(text);
  }

  /** True once the client has taken what was written (at once when little is buffered); false if it stalls. */
  #drained(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#raw.writableLength <= this.#limits.maxBufferedBytes) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#raw.off('drain', onDrain);
        this.#raw.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), this.#limits.stallMs);
      this.#raw.on('drain', onDrain);
      this.#raw.on('close', onClose);
    });
  }

  #cutOff(): void {
    this.#raw.destroy();
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#hub.unsubscribe(this);
    if (!this.#raw.destroyed && !this.#raw.writableEnded) this.#raw.end();
    this.#onClosed(this);
  }
}

/** Every open stream of this process, so a shutdown can end them (they would hold the server open). */
export class EventStreams {
  readonly #hub: EventHub;
  readonly #limits: StreamLimits;
  readonly #open = new Set<StreamConnection>();

  constructor(hub: EventHub, limits: StreamLimits = DEFAULT_STREAM_LIMITS) {
    this.#hub = hub;
    this.#limits = limits;
  }

  get hub(): EventHub {
    return this.#hub;
  }

  /** Starts an SSE response on `raw` and streams the account's events after `cursor` (from now when null). */
  async open(input: { accountId: number; ticketId: number | undefined; cursor: number | null; raw: ServerResponse; base: string }): Promise<void> {
    input.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) must pass messages on as they come.
      'x-accel-buffering': 'no',
    });
    // Tells the client how soon to reconnect, and flushes the headers at once.
    input.raw.write('retry: 2000\n\n');
    const connection = new StreamConnection({ ...input, hub: this.#hub, limits: this.#limits, onClosed: (c) => this.#open.delete(c) });
    this.#open.add(connection);
    try {
      await connection.open();
    } catch {
      connection.close();
    }
  }

  /** Ends every stream and the hub (before the server closes). */
  async close(): Promise<void> {
    for (const connection of [...this.#open]) connection.close();
    await this.#hub.close();
  }
}
