// Apart from relay.ts so that the relay's observer (relay-observer.ts) can read it without a cycle.

/** What a channel says of one delivery attempt. */
export type DeliveryOutcome =
  /**
   * Handed over. Per recipient: sent, refused for good with the server's reason, or deferred (a
   * temporary refusal of that recipient alone: the row is retried for the deferred ones only).
   */
  | { kind: 'delivered'; recipients: Array<{ recipient: string; status: 'sent' | 'failed' | 'deferred'; reason?: string }> }
  /**
   * Try again later (4xx, connection refused, rate limited); `retryAfterMs` when the other side said
   * when. `attempted: false` when the channel did not even try (a webhook endpoint paused by its
   * circuit breaker): the claim's attempt is given back, so waiting never uses up the row's attempts.
   */
  | { kind: 'retry'; reason: string; retryAfterMs?: number; attempted?: false }
  /** Never going to work (5xx, a channel that is not set up): stop and record why. */
  | { kind: 'failed'; reason: string };
