import type { Executor } from '../db/executor.js';
import type { Notifications } from '../db/notifications.js';
import type { FeedEntry } from '../db/types.js';
import { presentFeed, type PresentedFeedEntry } from './presenter.js';
import { feedAfter, sequenceFeed } from './repo.js';

/** The channel the feed triggers notify on (migration 0007); the payload is the account id. */
export const FEED_CHANNEL = 'sideline_feed';

const PAGE = 500;

/**
 * New feed rows, and their presentation read from the store once for every subscriber that shows
 * them with the same base URL (a hundred open streams cost one read per batch, not a hundred).
 */
export class FeedBatch {
  readonly #db: Executor;
  readonly #accountId: number;
  readonly #presented = new Map<string, Promise<PresentedFeedEntry[]>>();
  constructor(
    db: Executor,
    accountId: number,
    readonly entries: FeedEntry[],
  ) {
    this.#db = db;
    this.#accountId = accountId;
  }

  presented(base: string): Promise<PresentedFeedEntry[]> {
    let presented = this.#presented.get(base);
    if (!presented) {
      presented = presentFeed(this.#db, this.#accountId, this.entries, base);
      this.#presented.set(base, presented);
    }
    return presented;
  }
}

/** Something told about new feed rows: a stream connection. */
export interface FeedSubscriber {
  readonly accountId: number;
  /** Called synchronously with each new batch, in position order, no batch twice. */
  onBatch(batch: FeedBatch): void;
}

interface AccountState {
  subscribers: Set<FeedSubscriber>;
  /** Highest position handed to subscribers. */
  last: number;
  running: boolean;
  again: boolean;
  ready: Promise<void>;
}

export interface EventHubOptions {
  db: Executor;
  /** Null: no LISTEN, only the poll (a store without notifications). */
  notifications: Notifications | null;
  /** How often accounts with subscribers look at the store anyway (a safety net for lost notifications). */
  pollMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Publishes committed feed rows to the subscribers of this process. A notification (or the poll)
 * makes the hub number the account's new rows (sequenceFeed) and read them back from the store
 * once for all its subscribers. One account is pumped by one run at a time; notifications arriving
 * meanwhile fold into one more run. Accounts nobody in this process listens to cost nothing.
 */
export class EventHub {
  readonly #db: Executor;
  readonly #notifications: Notifications | null;
  readonly #pollMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #accounts = new Map<number, AccountState>();
  #unlisten: Promise<() => Promise<void>> | null = null;
  #poll: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: EventHubOptions) {
    this.#db = options.db;
    this.#notifications = options.notifications;
    this.#pollMs = options.pollMs ?? 5000;
    this.#onError = options.onError ?? (() => undefined);
  }

  get db(): Executor {
    return this.#db;
  }

  /** How many subscribers this process holds (all accounts). */
  get subscriberCount(): number {
    let n = 0;
    for (const state of this.#accounts.values()) n += state.subscribers.size;
    return n;
  }

  /** The highest position this hub has handed out for the account (0 before its first subscriber). */
  lastPosition(accountId: number): number {
    return this.#accounts.get(accountId)?.last ?? 0;
  }

  /** Adds a subscriber; resolves once the account's current position is known (lastPosition). */
  async subscribe(subscriber: FeedSubscriber): Promise<void> {
    if (this.#closed) throw new Error('the event hub is closed');
    await this.#start();
    let state = this.#accounts.get(subscriber.accountId);
    if (!state) {
      const fresh: AccountState = { subscribers: new Set(), last: 0, running: false, again: false, ready: Promise.resolve() };
      fresh.ready = sequenceFeed(this.#db, subscriber.accountId).then((top) => {
        fresh.last = Math.max(fresh.last, top);
      });
      state = fresh;
      this.#accounts.set(subscriber.accountId, state);
    }
    state.subscribers.add(subscriber);
    try {
      await state.ready;
    } catch (error) {
      this.unsubscribe(subscriber);
      throw error;
    }
  }

  unsubscribe(subscriber: FeedSubscriber): void {
    const state = this.#accounts.get(subscriber.accountId);
    if (!state) return;
    state.subscribers.delete(subscriber);
    if (state.subscribers.size === 0) this.#accounts.delete(subscriber.accountId);
  }

  /** Looks at the store for the account now (what a notification does). */
  wake(accountId: number): void {
    const state = this.#accounts.get(accountId);
    if (!state) return;
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    void (async () => {
      try {
        await state.ready;
        do {
          state.again = false;
          await this.#drain(accountId, state);
        } while (state.again && !this.#closed);
      } catch (error) {
        this.#onError(error);
      } finally {
        state.running = false;
      }
    })();
  }

  async #drain(accountId: number, state: AccountState): Promise<void> {
    await sequenceFeed(this.#db, accountId);
    for (;;) {
      const rows = await feedAfter(this.#db, accountId, state.last, PAGE);
      if (rows.length === 0) return;
      state.last = rows[rows.length - 1]!.position!;
      const batch = new FeedBatch(this.#db, accountId, rows);
      for (const subscriber of [...state.subscribers]) subscriber.onBatch(batch);
      if (rows.length < PAGE) return;
    }
  }

  #wakeAll(): void {
    for (const accountId of this.#accounts.keys()) this.wake(accountId);
  }

  async #start(): Promise<void> {
    if (!this.#unlisten && this.#notifications) {
      this.#unlisten = this.#notifications.listen(
        FEED_CHANNEL,
        (payload) => {
          const accountId = Number(payload);
          if (Number.isSafeInteger(accountId)) this.wake(accountId);
        },
        () => this.#wakeAll(),
      );
      this.#unlisten.catch(() => {
        // Listening failed (the store is unreachable): the poll still serves, and the next subscriber retries.
        this.#unlisten = null;
      });
    }
    if (!this.#poll && this.#pollMs > 0) {
      this.#poll = setInterval(() => this.#wakeAll(), this.#pollMs);
      this.#poll.unref();
    }
    if (this.#unlisten) await this.#unlisten.catch((error: unknown) => this.#onError(error));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = null;
    this.#accounts.clear();
    const unlisten = this.#unlisten;
    this.#unlisten = null;
    if (unlisten) await (await unlisten.catch(() => async () => undefined))();
  }
}
