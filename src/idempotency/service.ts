import { createHash } from 'node:crypto';
import type { Executor } from '../db/executor.js';
import { conflict, invalidField } from '../errors.js';
import { claimKey, findKey, recordAnswer, releaseKey, type KeyRef } from './repo.js';

/** What a write answered: replayed as it was for the same key and request. */
export interface Answer {
  status: number;
  body: unknown;
}

export interface IdempotentRequest {
  accountId: number;
  userId: number;
  /** The Idempotency-Key header as sent (undefined: none, the write simply runs). */
  key: string | string[] | undefined;
  /** What the request asks for (route, parameters, body): the same key for another request is a 422. */
  request: unknown;
}

const KEY = /^[\x21-\x7e]{1,255}$/;
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

export interface IdempotencyOptions {
  db: Executor;
  /** How long a second request waits for the first one with the same key before a 409. */
  waitMs?: number;
  pollMs?: number;
}

/**
 * Idempotency-Key on writes (issue 12 §2). The first request with a key claims it (a row, so it holds
 * across processes on PostgreSQL), runs the write and stores its answer; the same key with the same
 * request replays that answer without writing again, for 24 hours; meanwhile a second request waits
 * for the first, then replays, or gets a 409 when the first takes too long. A refused or failed first
 * request wrote nothing and frees the key. Keys are per account and per user.
 *
 * Known window: the answer is stored just after the write commits, not in its transaction; a process
 * that dies between the two leaves the key claimed without an answer, and a retry gets 409 (never a
 * second write) until the key expires.
 */
export function createIdempotencyService({ db, waitMs = 10_000, pollMs = 50 }: IdempotencyOptions) {
  async function waitForAnswer(ref: KeyRef, fingerprint: string): Promise<Answer | 'free'> {
    const until = Date.now() + waitMs;
    for (;;) {
      const row = await findKey(db, ref);
      if (!row) return 'free';
      if (row.fingerprint !== fingerprint) {
        throw invalidField(IDEMPOTENCY_HEADER, `${IDEMPOTENCY_HEADER}: was already used for a different request`, 'InvalidValue');
      }
      if (row.response_status !== null) return { status: row.response_status, body: row.response_body };
      if (Date.now() >= until) throw conflict(`A request with this ${IDEMPOTENCY_HEADER} is still being processed; retry later.`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  return {
    async run(input: IdempotentRequest, write: () => Promise<Answer>): Promise<Answer & { replayed: boolean }> {
      if (input.key === undefined) return { ...(await write()), replayed: false };
      if (typeof input.key !== 'string' || !KEY.test(input.key)) {
        throw invalidField(IDEMPOTENCY_HEADER, `${IDEMPOTENCY_HEADER}: one value of 1 to 255 printable ASCII characters`);
      }
      const ref: KeyRef = { accountId: input.accountId, userId: input.userId, key: input.key };
      const fingerprint = createHash('sha256').update(JSON.stringify(input.request)).digest('hex');
      for (;;) {
        if (await claimKey(db, ref, fingerprint)) break;
        const found = await waitForAnswer(ref, fingerprint);
        if (found !== 'free') return { ...found, replayed: true };
        // The first request failed and freed the key: claim it again.
      }
      let answer: Answer;
      try {
        answer = await write();
      } catch (error) {
        await releaseKey(db, ref).catch(() => undefined);
        throw error;
      }
      if (answer.status >= 400) await releaseKey(db, ref);
      else await recordAnswer(db, ref, answer.status, answer.body);
      return { ...answer, replayed: false };
    },
  };
}

export type IdempotencyService = ReturnType<typeof createIdempotencyService>;

