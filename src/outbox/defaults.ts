// Apart from relay.ts so that config.ts can name them without loading the relay.

/**
 * Deliveries one relay has in flight at once. Each waits on the other side most of its time (an
 * SMTP exchange is four round trips), so a relay needs many to keep its core busy: a backlog of
 * 2,000 emails on PostgreSQL into a loopback sink drained at 297–336 emails/s with 4 (and batches
 * of 20), and about 600 with 32 (and batches of 200).
 */
export const DEFAULT_RELAY_CONCURRENCY = 32;

/** Rows one pass claims: a pass waits for its slowest delivery, so a batch is several times the concurrency. */
export const DEFAULT_RELAY_BATCH = 200;
