import type { OutboxChannel } from '../db/types.js';
import type { DeliveryOutcome } from './delivery-outcome.js';

/** What became of one outbox message's delivery attempt: handed over, stopped for good, or due again later. */
export type DeliveryResult = 'sent' | 'failed' | 'retry';

/** Told what the relay did (for metrics); every method must be cheap and must not throw. */
export interface RelayObserver {
  deliveryRecorded(channel: OutboxChannel, result: DeliveryResult): void;
  /** A whole pass failed (the store unreachable, a claim refused). */
  passFailed(): void;
}

/**
 * How the relay records an outcome (see Relay#record): a permanent failure, or anything temporary
 * (a retry, deferred recipients) on the last allowed attempt, ends the row.
 */
export function deliveryResult(outcome: DeliveryOutcome, attempts: number, maxAttempts: number): DeliveryResult {
  if (outcome.kind === 'failed') return 'failed';
  // Postponed without trying: the row's attempts are untouched, it cannot have run out.
  if (outcome.kind === 'retry' && outcome.attempted === false) return 'retry';
  // Handed over, yet every named recipient refused it for good: nobody got it.
  if (outcome.kind === 'delivered' && outcome.recipients.length > 0 && outcome.recipients.every((r) => r.status === 'failed')) return 'failed';
  const temporary = outcome.kind === 'retry' || outcome.recipients.some((r) => r.status === 'deferred');
  if (!temporary) return 'sent';
  return attempts >= maxAttempts ? 'failed' : 'retry';
}
