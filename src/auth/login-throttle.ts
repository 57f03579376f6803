import { tooManyRequests } from '../errors.js';

export interface LoginThrottleOptions {
  /** Failed attempts one account+email may make per window before it is locked for the rest of it. */
  perEmail?: number;
  /** Failed attempts one client address may make per window (any emails) before it is locked. */
  perAddress?: number;
  windowMs?: number;
  /** Password hashes verified at once; the rest wait their turn (scrypt is CPU and memory bound). */
  maxConcurrent?: number;
  /** Verifications allowed to wait; beyond that a new one is refused at once rather than queued. */
  maxQueued?: number;
  /** Of those, how many one client address may have waiting (its next is refused at once). */
  maxQueuedPerAddress?: number;
  /** Bound on the number of remembered keys of each kind (oldest dropped first). */
  maxKeys?: number;
  now?: () => number;
}

export interface PasswordAttempt {
  accountId: number;
  email: string;
  /** The caller's address (request.ip); unknown for callers that have none. */
  clientAddress?: string | undefined;
  /**
   * A header that verified before and is being re-checked: it skips the lockout (its owner is not
   * guessing) and the queue of never-seen credentials, and its outcome counts for nothing.
   */
  known?: boolean;
}

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Password guessing: counts failed password checks per account+email and per client address in a
 * fixed window, and refuses further checks for a locked key with a 429 and Retry-After *before* any
 * hashing, so a locked flood costs a map lookup. Unknown emails count exactly as wrong passwords
 * (the caller spends the same hash on both), so the answers tell nothing about who exists.
 *
 * Every check of a credential not already known waits its turn in a bounded queue that is fair
 * between client addresses: each address has its own lane and the lanes take turns, so a flood of
 * wrong passwords from a few addresses waits behind itself while a sign-in from anywhere else waits
 * for at most one check per flooding address. A re-check of a known-good header takes the front
 * lane, and headers already cached never come here at all. State is per process; each process of a
 * PostgreSQL deployment throttles on its own.
 */
export class LoginThrottle {
  readonly #perEmail: number;
  readonly #perAddress: number;
  readonly #windowMs: number;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #maxQueuedPerAddress: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #byEmail = new Map<string, Window>();
  readonly #byAddress = new Map<string, Window>();
  #running = 0;
  readonly #knownLane: Array<() => void> = [];
  /** Waiting checks of never-seen credentials by client address, served in turn (Map order is the rotation). */
  readonly #unknownLanes = new Map<string, Array<() => void>>();
  #unknownQueued = 0;

  constructor(options: LoginThrottleOptions = {}) {
    this.#perEmail = options.perEmail ?? 10;
    this.#perAddress = options.perAddress ?? 100;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    this.#maxQueued = options.maxQueued ?? 256;
    this.#maxQueuedPerAddress = options.maxQueuedPerAddress ?? 32;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Runs `verify` (the slow check of one password) under the throttle: refused with a 429 when the
   * email or address is locked or the queue is full; a false result counts as a failure.
   */
  async attempt(attempt: PasswordAttempt, verify: () => Promise<boolean>): Promise<boolean> {
    const emailKey = `${attempt.accountId}\n${attempt.email.toLowerCase()}`;
    if (!attempt.known) this.#refuseIfLocked(emailKey, attempt.clientAddress);
    const ok = await this.#inTurn(attempt.known === true, attempt.clientAddress ?? '', verify);
    if (attempt.known) return ok;
    if (ok) this.#byEmail.delete(emailKey);
    else {
      this.#fail(this.#byEmail, emailKey);
      if (attempt.clientAddress) this.#fail(this.#byAddress, attempt.clientAddress);
    }
    return ok;
  }

  /** How many verifications run and wait now (for tests and diagnostics). */
  get load(): { running: number; queued: number } {
    return { running: this.#running, queued: this.#knownLane.length + this.#unknownQueued };
  }

  #refuseIfLocked(emailKey: string, address: string | undefined): void {
    const wait = Math.max(
      this.#lockedFor(this.#byEmail, emailKey, this.#perEmail),
      address ? this.#lockedFor(this.#byAddress, address, this.#perAddress) : 0,
    );
    if (wait > 0) throw tooManyRequests(`Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 1000)} seconds.`, wait / 1000);
  }

  /** Milliseconds until the key may try again, 0 when it may now. */
  #lockedFor(map: Map<string, Window>, key: string, limit: number): number {
    const window = map.get(key);
    if (!window) return 0;
    const left = window.startedAt + this.#windowMs - this.#now();
    if (left <= 0) {
      map.delete(key);
      return 0;
    }
    return window.failures >= limit ? left : 0;
  }

  #fail(map: Map<string, Window>, key: string): void {
    const now = this.#now();
    const window = map.get(key);
    if (window && window.startedAt + this.#windowMs > now) {
      window.failures += 1;
      return;
    }
    map.delete(key);
    if (map.size >= this.#maxKeys) this.#evict(map, now);
    map.set(key, { startedAt: now, failures: 1 });
  }

  /** Drops expired windows; when none has expired, the oldest (insertion order is start order). */
  #evict(map: Map<string, Window>, now: number): void {
    for (const [key, window] of map) {
      if (window.startedAt + this.#windowMs <= now) map.delete(key);
    }
    if (map.size >= this.#maxKeys) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
  }

  async #inTurn<T>(known: boolean, address: string, work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#maxConcurrent) {
      if (known) {
        await new Promise<void>((resolve) => this.#knownLane.push(resolve));
      } else {
        const lane = this.#unknownLanes.get(address) ?? [];
        if (this.#unknownQueued >= this.#maxQueued || lane.length >= this.#maxQueuedPerAddress) {
          throw tooManyRequests('Too many sign-in attempts at once. Try again shortly.', 1);
        }
        if (lane.length === 0) this.#unknownLanes.set(address, lane);
        this.#unknownQueued += 1;
        await new Promise<void>((resolve) => lane.push(resolve));
      }
    } else {
      this.#running += 1;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter (known ones first, then the next address in
      // turn), or is freed.
      const next = this.#knownLane.shift() ?? this.#nextUnknown();
      if (next) next();
      else this.#running -= 1;
    }
  }

  /** The first waiter of the address whose turn it is; that address then goes to the back of the rotation. */
  #nextUnknown(): (() => void) | undefined {
    const turn = this.#unknownLanes.entries().next();
    if (turn.done) return undefined;
    const [address, lane] = turn.value;
    const next = lane.shift();
    this.#unknownLanes.delete(address);
    if (lane.length > 0) this.#unknownLanes.set(address, lane);
    this.#unknownQueued -= 1;
    return next;
  }
}
