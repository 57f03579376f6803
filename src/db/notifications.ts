import type pg from 'pg';

/** Store-level `LISTEN`: how a process hears that another transaction (maybe in another process) committed. */
export interface Notifications {
  /**
   * Calls `onPayload` with the payload of every `NOTIFY channel` committed from now on, and `onResync`
   * whenever notifications may have been missed (after the listening connection came back), so the
   * caller can look at the store again. Resolves once listening; the function it returns stops.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResync: () => void): Promise<() => Promise<void>>;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 10_000;

/**
 * PostgreSQL: one dedicated connection per listened channel (a pooled connection would be handed to
 * queries and lose its LISTEN). It reconnects with backoff when the server or the network drops it,
 * and reports a resync each time it is back, since anything notified in between is lost.
 */
export class PostgresNotifications implements Notifications {
  readonly #connectionString: string;

  constructor(connectionString: string) {
    this.#connectionString = connectionString;
  }

  async listen(channel: string, onPayload: (payload: string) => void, onResync: () => void): Promise<() => Promise<void>> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
    let stopped = false;
    let client: pg.Client | null = null;
    let retryTimer: NodeJS.Timeout | null = null;
    let delay = RECONNECT_MIN_MS;

    const connect = async (): Promise<void> => {
      const { default: driver } = await import('pg');
      const next = new driver.Client({ connectionString: this.#connectionString });
      next.on('notification', (message) => {
        if (message.channel === channel) onPayload(message.payload ?? '');
      });
      // A dropped connection emits 'error' and/or 'end'; either way we start over.
      const lost = (): void => {
        if (client !== next) return;
        client = null;
        next.removeAllListeners('notification');
        void next.end().catch(() => undefined);
        scheduleReconnect();
      };
      next.on('error', lost);
      next.on('end', lost);
      await next.connect();
      await next.query(`listen ${channel}`);
      if (stopped) {
        await next.end().catch(() => undefined);
        return;
      }
      client = next;
      delay = RECONNECT_MIN_MS;
    };

    const scheduleReconnect = (): void => {
      if (stopped || retryTimer) return;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        connect().then(
          () => {
            if (!stopped) onResync();
          },
          () => {
            delay = Math.min(delay * 2, RECONNECT_MAX_MS);
            scheduleReconnect();
          },
        );
      }, delay);
      retryTimer.unref();
    };

    await connect();
    return async () => {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = null;
      if (current) await current.end().catch(() => undefined);
    };
  }
}
