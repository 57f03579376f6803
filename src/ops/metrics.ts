import { sql, type Kysely } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database, OutboxChannel } from '../db/types.js';
import type { PoolStats } from '../db/pglite-pool.js';
import type { DeliveryResult, RelayObserver } from '../outbox/relay-observer.js';

/** Channels whose messages go through the outbox; each gets a series even while its queue is empty. */
const OUTBOX_CHANNELS: OutboxChannel[] = ['email', 'slack', 'msteams', 'webhook'];

/** A scrape waits this long for the store; after it, the outbox gauges are left out of that scrape. */
const STORE_QUERY_TIMEOUT_MS = 2_000;

interface QueueRow {
  channel: string;
  queued: number | string;
  oldest_age_seconds: number | string | null;
}

export interface MetricsSources {
  db: Kysely<Database>;
  poolStats: () => PoolStats;
}

/**
 * The Prometheus metrics of one process, in a registry of its own: HTTP requests by route pattern,
 * the outbox queue (read at scrape time), the relay's outcomes (through its observer) and the
 * database pool. A scrape never fails because the store does: the gauges that need it are skipped.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status_code'>;
  readonly #duration: Histogram<'method' | 'route' | 'status_code'>;
  readonly #deliveries: Counter<'channel' | 'result'>;
  readonly #retries: Counter<'channel'>;
  readonly #passErrors: Counter;
  readonly #sources: MetricsSources;
  #queueSnapshot: Promise<QueueRow[] | null> | null = null;
  #poolSnapshot: PoolStats | null = null;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const labelNames = ['method', 'route', 'status_code'] as const;
    this.#requests = new Counter({ name: 'sideline_http_requests_total', help: 'HTTP requests answered, by route pattern and status', labelNames, registers });
    this.#duration = new Histogram({
      name: 'sideline_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern and status',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#deliveries = new Counter({
      name: 'sideline_outbox_deliveries_total',
      help: 'Outbox messages handed over (sent) or given up on (failed), by channel',
      labelNames: ['channel', 'result'],
      registers,
    });
    this.#retries = new Counter({ name: 'sideline_outbox_retries_total', help: 'Delivery attempts that failed for now and were scheduled again, by channel', labelNames: ['channel'], registers });
    this.#passErrors = new Counter({ name: 'sideline_relay_errors_total', help: 'Relay passes that failed as a whole (e.g. the store was unreachable)', registers });

    const metrics = this;
    const queueGauge = (name: string, help: string, read: (row: QueueRow) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['channel'],
        registers,
        async collect() {
          this.reset();
          const rows = await metrics.#queue();
          if (!rows) return;
          for (const channel of OUTBOX_CHANNELS) this.set({ channel }, 0);
          for (const row of rows) this.set({ channel: row.channel }, read(row));
        },
      });
    queueGauge('sideline_outbox_queued', 'Outbox messages waiting for delivery (due or backing off), by channel', (row) => Number(row.queued));
    queueGauge(
      'sideline_outbox_oldest_queued_age_seconds',
      'Age of the oldest outbox message still waiting for delivery, by channel (0 when none waits)',
      (row) => Math.max(0, Number(row.oldest_age_seconds ?? 0)),
    );
    const poolGauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(metrics.#poolSnapshot ?? metrics.#sources.poolStats()));
        },
      });
    poolGauge('sideline_db_pool_connections', 'Database connections open (the embedded store is one session)', (s) => s.total);
    poolGauge('sideline_db_pool_in_use', 'Database connections checked out', (s) => s.total - s.idle);
    poolGauge('sideline_db_pool_waiting', 'Queries waiting for a database connection (embedded store: for the session)', (s) => s.waiting);
  }

  /** One request answered; `route` is the route pattern (never the raw URL), or null when none matched. */
  observeRequest(method: string, route: string | null, statusCode: number, seconds: number): void {
    const labels = { method, route: route ?? 'unmatched', status_code: String(statusCode) };
    this.#requests.inc(labels);
    this.#duration.observe(labels, seconds);
  }

  readonly relayObserver: RelayObserver = {
    deliveryRecorded: (channel: OutboxChannel, result: DeliveryResult) => {
      if (result === 'retry') this.#retries.inc({ channel });
      else this.#deliveries.inc({ channel, result });
    },
    passFailed: () => this.#passErrors.inc(),
  };

  /** The Prometheus text of every metric. */
  async scrape(): Promise<string> {
    // Read before the scrape's own outbox query checks a connection out, so it does not count itself.
    this.#poolSnapshot = this.#sources.poolStats();
    try {
      return await this.registry.metrics();
    } finally {
      this.#queueSnapshot = null;
      this.#poolSnapshot = null;
    }
  }

  /**
   * The queue by channel, across accounts, read once per scrape (both outbox gauges use it). It
   * reads only pending rows, which the partial index outbox_due covers. Null when the store fails
   * or is slower than STORE_QUERY_TIMEOUT_MS.
   */
  #queue(): Promise<QueueRow[] | null> {
    this.#queueSnapshot ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), STORE_QUERY_TIMEOUT_MS);
        timer.unref();
      });
      const query = sql<QueueRow>`
        select channel, count(*) as queued, extract(epoch from now() - min(created_at))::float8 as oldest_age_seconds
        from outbox where status = 'pending' group by channel`
        .execute(this.#sources.db)
        .then((result) => result.rows)
        .catch(() => null);
      try {
        return await Promise.race([query, timeout]);
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.#queueSnapshot;
  }
}
