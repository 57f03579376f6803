import { randomBytes } from 'node:crypto';

const ULID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (48-bit time, 80 random bits, Crockford base32), the form of Zendesk's webhook ids. */
export function newWebhookId(now: number = Date.now()): string {
  let time = '';
  let rest = now;
  for (let i = 0; i < 10; i++) {
    time = ULID_ALPHABET[rest % 32]! + time;
    rest = Math.floor(rest / 32);
  }
  const random = randomBytes(16);
  let tail = '';
  for (const byte of random) tail += ULID_ALPHABET[byte & 31]!;
  return time + tail;
}

export const WEBHOOK_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
