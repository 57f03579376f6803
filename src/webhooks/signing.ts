import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Zendesk's webhook signature: base64(HMAC-SHA256(signing secret, timestamp + raw body)), the
 * secret used as it is shown (its characters, not base64-decoded), the timestamp being the
 * X-Zendesk-Webhook-Signature-Timestamp header sent with it.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(timestamp + body).digest('base64');
}

export function signatureMatches(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(webhookSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** A new signing secret: 256 random bits, base64 (the shape of Zendesk's). */
export function newSigningSecret(): string {
  return randomBytes(32).toString('base64');
}

/**
 * Zendesk signs test requests of webhooks not yet created with this documented, static secret
 * (base64 of "this_secret_is_for_testing_only"), so a receiver can be checked before it is saved.
 */
export const TEST_SIGNING_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';

export const SIGNING_ALGORITHM = 'SHA256' as const;

/** Second precision, as Zendesk's header: 2024-04-17T17:18:10Z. */
export function signatureTimestamp(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
