/**
 * A Zendesk API to read from (a real Zendesk account, or another Sideline): Basic auth with an API
 * token, JSON pages followed by their links, bytes of attachments. Rate limits and passing failures
 * are waited out here, so the migration above reads as if the source never faltered:
 * - 429: waits the `Retry-After` seconds (or date) the source asks for, then asks again;
 * - 5xx, 408 and network errors: backs off exponentially (with jitter) and asks again, a few times;
 * - 404: `null`, for the caller to decide (an endpoint this source does not have, a thing deleted meanwhile);
 * - any other 4xx: a SourceError with the source's own body.
 */

export class SourceError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    readonly body: string,
  ) {
    super(`${status} from ${url}: ${body.slice(0, 300)}`);
  }
}

export interface SourceOptions {
  /** The account's URL, e.g. https://acme.zendesk.com (a trailing /api/v2 is dropped). */
  url: string;
  email: string;
  token: string;
  /** First back-off after a 5xx or network error (doubles each time; default 500 ms). */
  retryBaseMs?: number;
  /** Attempts for one request failing with 5xx or network errors (default 6). */
  maxAttempts?: number;
  /** Longest wait a Retry-After may ask for before the run gives up (default 10 minutes). */
  maxRetryAfterMs?: number;
  signal?: AbortSignal;
  /** Told about every wait, for the progress line (and the tests). */
  onRetry?: (info: { url: string; status: number | null; waitMs: number }) => void;
  fetch?: typeof fetch;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After is seconds or an HTTP date (RFC 9110); unreadable: a minute. */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (value === null || value.trim() === '') return 60_000;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : 60_000;
}

export class ZendeskSource {
  readonly origin: string;
  readonly base: string;
  readonly #auth: string;
  readonly #options: SourceOptions;
  readonly #fetch: typeof fetch;
  /** Requests answered, and waits (429s and retried failures) along the way. */
  readonly stats = { requests: 0, rateLimited: 0, retried: 0 };

  constructor(options: SourceOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`The source must be an http(s) URL, not ${options.url}`);
    url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/api\/v2$/, '');
    url.search = '';
    url.hash = '';
    this.base = url.toString().replace(/\/$/, '');
    this.origin = url.origin;
    this.#auth = `Basic ${Buffer.from(`${options.email}/token:${options.token}`).toString('base64')}`;
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
  }

  /** A path of the API (`/api/v2/users.json?…`) or a link the source gave (absolute). */
  urlOf(pathOrUrl: string): string {
    return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}${pathOrUrl}`;
  }

  async #request(pathOrUrl: string): Promise<Response | null> {
    const url = this.urlOf(pathOrUrl);
    // Credentials go to the source only: a content_url on another host (a CDN) is fetched without them.
    const sameOrigin = new URL(url).origin === this.origin;
    const maxAttempts = this.#options.maxAttempts ?? 6;
    const base = this.#options.retryBaseMs ?? 500;
    let failures = 0;
    for (;;) {
      let response: Response | null = null;
      let failure: unknown = null;
      try {
        response = await this.#fetch(url, {
          headers: { accept: 'application/json', ...(sameOrigin ? { authorization: this.#auth } : {}) },
          redirect: sameOrigin ? 'manual' : 'follow',
          ...(this.#options.signal ? { signal: this.#options.signal } : {}),
        });
      } catch (error) {
        if (this.#options.signal?.aborted) throw this.#options.signal.reason;
        failure = error;
      }
      if (response && response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        // A download answered with a redirect (Sideline: an upload bound to a message): follow it, still on the source.
        const next = new URL(response.headers.get('location')!, url).toString();
        await response.body?.cancel();
        return this.#request(next);
      }
      if (response && response.status === 429) {
        const wait = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel();
        if (wait > (this.#options.maxRetryAfterMs ?? 600_000)) throw new SourceError(429, url, `asked to wait ${Math.round(wait / 1000)} s`);
        this.stats.rateLimited += 1;
        this.#options.onRetry?.({ url, status: 429, waitMs: wait });
        await sleep(wait, this.#options.signal);
        continue;
      }
      const retryable = failure !== null || (response !== null && (response.status >= 500 || response.status === 408));
      if (retryable) {
        failures += 1;
        const status = response?.status ?? null;
        const text = response ? await response.text().catch(() => '') : String(failure);
        if (failures >= maxAttempts) throw new SourceError(status ?? 0, url, text || 'network error');
        const wait = Math.min(30_000, base * 2 ** (failures - 1)) * (0.75 + Math.random() * 0.5);
        this.stats.retried += 1;
        this.#options.onRetry?.({ url, status, waitMs: wait });
        await sleep(wait, this.#options.signal);
        continue;
      }
      this.stats.requests += 1;
      if (response!.status === 404) {
        await response!.body?.cancel();
        return null;
      }
      if (!response!.ok) throw new SourceError(response!.status, url, await response!.text().catch(() => ''));
      return response!;
    }
  }

  /** A JSON document, or null when the source has no such thing (404). */
  async json<T>(pathOrUrl: string): Promise<T | null> {
    const response = await this.#request(pathOrUrl);
    if (!response) return null;
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SourceError(response.status, this.urlOf(pathOrUrl), `not JSON: ${text.slice(0, 200)}`);
    }
  }

  /** The bytes at a URL (an attachment's content_url), or null when gone. */
  async bytes(url: string): Promise<Buffer | null> {
    const response = await this.#request(url);
    return response ? Buffer.from(await response.arrayBuffer()) : null;
  }

  /**
   * Every item of an offset-paged list, following `next_page` (Zendesk's links are absolute).
   * `key` is the array's name in the page (`users`, `tickets`, …).
   */
  async *pages<T>(path: string, key: string): AsyncGenerator<T[]> {
    let next: string | null = path;
    while (next) {
      const page: Record<string, unknown> | null = await this.json<Record<string, unknown>>(next);
      if (!page) return;
      const items = page[key];
      yield Array.isArray(items) ? (items as T[]) : [];
      next = typeof page['next_page'] === 'string' && page['next_page'] !== next ? (page['next_page'] as string) : null;
    }
  }

  async all<T>(path: string, key: string): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages<T>(path, key)) out.push(...page);
    return out;
  }
}
