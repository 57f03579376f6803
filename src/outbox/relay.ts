import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { groupBy } from '../db/paging.js';
import type { Database, OutboxChannel, OutboxRow } from '../db/types.js';
import {
  claimDue,
  lockClaimedRow,
  markDelivered,
  markDeliveredIfHeld,
  markFailed,
  recordRecipient,
  releaseAllClaims,
  releaseClaims,
  postpone,
  renewLeases,
  scheduleRetry,
} from './repo.js';

import type { DeliveryOutcome } from './delivery-outcome.js';
import { DEFAULT_RELAY_BATCH, DEFAULT_RELAY_CONCURRENCY } from './defaults.js';
import { deliveryResult, type RelayObserver } from './relay-observer.js';

export type { DeliveryOutcome } from './delivery-outcome.js';

export interface Channel {
  deliver(row: OutboxRow): Promise<DeliveryOutcome>;
  /**
   * Optional: reads what a batch of this channel's rows needs in a few queries, once per pass, and
   * returns the deliverer for those rows (a backlog then costs a handful of reads per batch, not
   * several per message). What it read may be a pass old when a row is sent: only what a row's
   * delivery does not change may be read this way.
   */
  forBatch?(rows: OutboxRow[]): Promise<Pick<Channel, 'deliver'>>;
}

/** An outcome waiting for the next group of recordings (see Relay#recordGrouped). */
interface QueuedRecord {
  row: OutboxRow;
  outcome: DeliveryOutcome;
  settle(error?: unknown): void;
}

export interface RelayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RelayOptions {
  db: Kysely<Database>;
  channels: Partial<Record<OutboxChannel, Channel>>;
  logger: RelayLogger;
  batchSize?: number;
  /** How long a claim is ours; longer than any delivery can take (SMTP timeouts are 60 s). */
  leaseMs?: number;
  pollMs?: number;
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  relayId?: string;
  random?: () => number;
  /** Deliveries in flight at once within a pass (different conversations only). */
  concurrency?: number;
  /** Told each recorded outcome and each failed pass (metrics). */
  observer?: RelayObserver;
}

/** Exponential backoff with full jitter in its upper half: base·2^(attempt-1), capped, × [0.5, 1). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/**
 * Delivers outbox rows. Any number of relays may run against one PostgreSQL: a row is claimed
 * with FOR UPDATE SKIP LOCKED and leased (claimed_until), so two relays never hold it at once and
 * a relay that dies gives its rows back when the lease ends. Delivery happens outside any
 * transaction; the outcome is recorded only if the lease is still ours.
 */
export class Relay {
  readonly id: string;
  readonly #db: Kysely<Database>;
  readonly #channels: RelayOptions['channels'];
  readonly #log: RelayLogger;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxAttempts: number;
  readonly #baseBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #random: () => number;
  readonly #concurrency: number;
  readonly #observer: RelayObserver | undefined;
  #running = false;
  #stopping = false;
  #timer: NodeJS.Timeout | null = null;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** The pass running now (or the last one): passes of one relay run one after the other. */
  #pass: Promise<void> = Promise.resolve();
  /** Outcomes of deliveries made whose recording failed, by outbox id (see #recordOrKeep). */
  readonly #unrecorded = new Map<number, { row: OutboxRow; outcome: DeliveryOutcome }>();
  /** Outcomes waiting while a group is being recorded; the next group takes them all. */
  #recordQueue: QueuedRecord[] = [];
  #recording = false;

  constructor(options: RelayOptions) {
    this.#db = options.db;
    this.#channels = options.channels;
    this.#log = options.logger;
    this.#batchSize = options.batchSize ?? DEFAULT_RELAY_BATCH;
    this.#leaseMs = options.leaseMs ?? 5 * 60_000;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#maxAttempts = options.maxAttempts ?? 12;
    this.#baseBackoffMs = options.baseBackoffMs ?? 5_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 60 * 60_000;
    this.#random = options.random ?? Math.random;
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_RELAY_CONCURRENCY);
    this.#observer = options.observer;
    this.id = options.relayId ?? `relay-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /**
   * Gives back every claim. Only for a store no other relay can reach (the embedded one, locked to
   * this process): whatever is claimed there was claimed by a process that has since died.
   */
  async releaseAllClaims(): Promise<number> {
    return releaseAllClaims(this.#db);
  }

  /** Claims due rows, leases them to this relay, and returns them. */
  async claim(): Promise<OutboxRow[]> {
    return claimDue(this.#db, this.id, this.#batchSize, this.#leaseMs);
  }

  /**
   * One pass: claim a batch and deliver it row by row. Passes of one relay never overlap (a call
   * while one runs waits for it), so a claim never takes back a row still in hand. Returns how
   * many rows were handled.
   */
  runOnce(): Promise<number> {
    const pass = this.#pass.then(() => this.#runPass());
    this.#pass = pass.then(
      () => undefined,
      () => undefined,
    );
    return pass;
  }

  /**
   * The leases of the rows in hand (waiting in the batch, or being delivered) are renewed together
   * before a delivery once a quarter of the lease has gone by since the claim or the last renewal
   * (a slow batch must not let another relay take rows still waiting here; renewing before every
   * delivery cost a round trip per message). Every claimed row ends the pass delivered, recorded
   * for a retry, or given back: when the pass fails (the database went away) or is stopped, the
   * rows not yet handled are released; if even that fails, the next pass of this relay claims
   * them again at once.
   */
  async #runPass(): Promise<number> {
    await this.#recordKept();
    let leasedAt = performance.now();
    const rows = await this.claim();
    const waiting = new Set(rows.map((row) => row.id));
    /** Rows being delivered now: their leases are renewed with the waiting ones, so a slow delivery keeps its row. */
    const inFlight = new Set<number>();
    // Rows of one conversation stay in order (a Slack reply needs its thread started); different
    // conversations are delivered side by side, so one slow server does not hold up the batch.
    const byConversation = [...groupBy(rows, (row) => row.side_conversation_id).values()];
    let handled = 0;
    let failure: unknown = null;
    let renewal: Promise<Set<number>> | null = null;
    const lost = new Set<number>();
    const renewIfDue = async () => {
      if (renewal === null && performance.now() - leasedAt < this.#leaseMs / 4) return;
      if (renewal === null) {
        const startedAt = performance.now();
        renewal = renewLeases(this.#db, this.id, [...waiting, ...inFlight], this.#leaseMs).then(
          (renewed) => {
            leasedAt = startedAt;
            for (const id of waiting) if (!renewed.has(id)) lost.add(id);
            return renewed;
          },
        ).finally(() => {
          renewal = null;
        });
      }
      await renewal;
    };
    let deliverers: Map<OutboxChannel, Pick<Channel, 'deliver'>>;
    try {
      deliverers = await this.#deliverersFor(rows);
    } catch (error) {
      failure = error;
      deliverers = new Map();
    }
    const worker = async () => {
      for (let group = byConversation.shift(); group; group = byConversation.shift()) {
        for (const row of group) {
          if (this.#stopping || failure !== null) return;
          try {
            await renewIfDue();
            waiting.delete(row.id);
            if (lost.has(row.id)) continue;
            inFlight.add(row.id);
            try {
              await this.#deliver(row, deliverers.get(row.channel));
            } finally {
              inFlight.delete(row.id);
            }
            handled += 1;
          } catch (error) {
            failure ??= error;
            return;
          }
        }
      }
    };
    if (failure === null) await Promise.all(Array.from({ length: Math.min(this.#concurrency, byConversation.length) }, worker));
    if (waiting.size > 0) {
      try {
        await releaseClaims(this.#db, this.id, [...waiting]);
      } catch (error) {
        this.#log.warn({ err: error, relay: this.id, rows: waiting.size }, 'could not give back unhandled claims; the next pass takes them again');
      }
    }
    if (failure !== null) throw failure;
    return handled;
  }

  /** Each channel's deliverer for its rows of this batch: its forBatch reads, or the channel itself. */
  async #deliverersFor(rows: OutboxRow[]): Promise<Map<OutboxChannel, Pick<Channel, 'deliver'>>> {
    const deliverers = new Map<OutboxChannel, Pick<Channel, 'deliver'>>();
    await Promise.all(
      [...groupBy(rows, (row) => row.channel)].map(async ([name, ofChannel]) => {
        const channel = this.#channels[name];
        if (channel) deliverers.set(name, channel.forBatch ? await channel.forBatch(ofChannel) : channel);
      }),
    );
    return deliverers;
  }

  /** Gives back the rows this relay claimed and has not delivered (on stop). */
  async releaseMyClaims(): Promise<void> {
    await releaseClaims(this.#db, this.id);
  }

  async #deliver(row: OutboxRow, channel: Pick<Channel, 'deliver'> | undefined): Promise<void> {
    let outcome: DeliveryOutcome;
    try {
      outcome = channel ? await channel.deliver(row) : { kind: 'retry', reason: `no ${row.channel} channel is configured on this relay` };
    } catch (error) {
      outcome = { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
    }
    await this.#recordOrKeep(row, outcome);
    this.#observer?.deliveryRecorded(row.channel, deliveryResult(outcome, row.attempts, this.#maxAttempts));
  }

  /**
   * The message has left: its outcome must be recorded, or it is sent again once the lease ends.
   * When recording fails (the database went away, the transaction was a deadlock victim), the
   * outcome is kept here and recorded at the start of this relay's next pass, before it claims
   * anything; the row stays leased to this relay meanwhile, so no other relay sends it again.
   */
  async #recordOrKeep(row: OutboxRow, outcome: DeliveryOutcome): Promise<void> {
    try {
      await this.#recordGrouped(row, outcome);
    } catch (error) {
      this.#unrecorded.set(row.id, { row, outcome });
      throw error;
    }
  }

  /**
   * Group commit: an outcome is recorded with the others that arrived while the group before it
   * was being recorded (the first goes at once, alone). The rows handed over to every recipient,
   * nearly all of them, are recorded in one statement; the rest one by one (#record). Each
   * outcome's own error is its caller's alone.
   */
  #recordGrouped(row: OutboxRow, outcome: DeliveryOutcome): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#recordQueue.push({ row, outcome, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!this.#recording) void this.#recordQueued();
    });
  }

  async #recordQueued(): Promise<void> {
    this.#recording = true;
    try {
      while (this.#recordQueue.length > 0) {
        const group = this.#recordQueue;
        this.#recordQueue = [];
        const allSent = group.filter(({ outcome }) => outcome.kind === 'delivered' && outcome.recipients.every((r) => r.status === 'sent'));
        const others = group.filter((item) => !allSent.includes(item));
        const recordOne = (item: QueuedRecord) =>
          this.#record(item.row, item.outcome).then(
            () => item.settle(),
            (error: unknown) => item.settle(error ?? new Error('recording the outcome failed')),
          );
        await Promise.all([this.#recordAllSent(allSent), ...others.map(recordOne)]);
      }
    } finally {
      this.#recording = false;
    }
  }

  async #recordAllSent(items: QueuedRecord[]): Promise<void> {
    if (items.length === 0) return;
    let recorded: Set<number>;
    try {
      recorded = await markDeliveredIfHeld(this.#db, this.id, items.map((item) => item.row.id));
    } catch (error) {
      for (const item of items) item.settle(error ?? new Error('recording the outcomes failed'));
      return;
    }
    for (const { row, settle } of items) {
      if (recorded.has(row.id)) this.#log.info({ outbox_id: row.id, channel: row.channel, attempts: row.attempts }, 'delivered');
      else this.#log.warn({ outbox_id: row.id, relay: this.id }, 'lease lost before the outcome was recorded');
      settle();
    }
  }

  /** Records the outcomes a failed pass could not; throws (ending the pass) while that still fails. */
  async #recordKept(): Promise<void> {
    for (const [id, { row, outcome }] of this.#unrecorded) {
      await this.#record(row, outcome);
      this.#unrecorded.delete(id);
    }
  }

  async #record(row: OutboxRow, outcome: DeliveryOutcome): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      if (!(await lockClaimedRow(trx, row.id, this.id))) {
        this.#log.warn({ outbox_id: row.id, relay: this.id }, 'lease lost before the outcome was recorded');
        return;
      }
      if (outcome.kind === 'delivered') {
        for (const r of outcome.recipients) {
          if (r.status !== 'deferred') await recordRecipient(trx, row.id, r.recipient, r.status, r.reason ?? null);
        }
        const deferred = outcome.recipients.filter((r) => r.status === 'deferred');
        if (deferred.length > 0) {
          // The others are done; the row comes back for the deferred recipients only.
          await this.#retryOrGiveUp(trx, row, { kind: 'retry', reason: deferred.map((r) => `${r.recipient}: ${r.reason ?? 'deferred'}`).join('; ') });
          return;
        }
        // Recipients the channel did not name were handed over with the rest.
        await markDelivered(trx, row.id);
        this.#log.info({ outbox_id: row.id, channel: row.channel, attempts: row.attempts }, 'delivered');
        return;
      }
      await this.#retryOrGiveUp(trx, row, outcome);
    });
  }

  async #retryOrGiveUp(trx: Kysely<Database>, row: OutboxRow, outcome: Exclude<DeliveryOutcome, { kind: 'delivered' }>): Promise<void> {
    if (outcome.kind === 'retry' && outcome.attempted === false) {
      const delay = outcome.retryAfterMs ?? this.#baseBackoffMs;
      await postpone(trx, row.id, outcome.reason, delay);
      this.#log.info({ outbox_id: row.id, channel: row.channel, retry_in_ms: delay, reason: outcome.reason }, 'delivery postponed without an attempt');
      return;
    }
    const giveUp = outcome.kind === 'failed' || row.attempts >= this.#maxAttempts;
    if (giveUp) {
      const reason = outcome.kind === 'failed' ? outcome.reason : `gave up after ${row.attempts} attempts: ${outcome.reason}`;
      await markFailed(trx, row.id, reason);
      this.#log.warn({ outbox_id: row.id, channel: row.channel, reason }, 'delivery failed for good');
      return;
    }
    const delay = outcome.retryAfterMs ?? backoffMs(row.attempts, this.#baseBackoffMs, this.#maxBackoffMs, this.#random);
    await scheduleRetry(trx, row.id, outcome.reason, delay);
    this.#log.warn({ outbox_id: row.id, channel: row.channel, attempt: row.attempts, retry_in_ms: delay, reason: outcome.reason }, 'delivery will be retried');
  }

  /** Runs until stop(): a pass, then a pause unless the pass was full. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        let handled = 0;
        try {
          handled = await this.runOnce();
        } catch (error) {
          this.#log.error({ err: error, relay: this.id }, 'relay pass failed');
          this.#observer?.passFailed();
        }
        if (!this.#running) break;
        if (handled < this.#batchSize) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            this.#timer = setTimeout(resolve, this.#pollMs);
          });
          this.#wake = null;
        }
      }
    })();
  }

  /** Ask for a pass now (after a write that queued something). */
  poke(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
  }

  /** Finishes the delivery in hand, then stops. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    this.poke();
    await this.#loop;
    if (this.#unrecorded.size > 0) {
      await this.#recordKept().catch((error: unknown) =>
        this.#log.error({ err: error, relay: this.id, rows: this.#unrecorded.size }, 'stopping with delivery outcomes not recorded; those rows are sent again after their lease'),
      );
    }
  }
}
