/** Small helpers the API test files share: expected error bodies, status checks, multipart bodies, reads. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.js';
import type { EventListBody, ScEvent, ShowBody, SideConversation, ValidationErrorBody } from './api-types.js';

export const UNAUTHORIZED = { error: "Couldn't authenticate you" };
export const FORBIDDEN = {
  error: {
    title: 'Forbidden',
    message: 'You do not have access to this page. Please contact the account owner of this help desk for further help.',
  },
};
export const NOT_FOUND = { error: 'RecordNotFound', description: 'Not found' };

export function expectStatus(res: LightMyRequestResponse, status: number): void {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 600)}`);
}

/** A 422 RecordInvalid naming `field` in its details, each with a description. */
export function assertValidation(res: LightMyRequestResponse, field: string): ValidationErrorBody {
  assert.equal(res.statusCode, 422, res.body);
  const body = res.json<ValidationErrorBody>();
  assert.equal(body.error, 'RecordInvalid');
  assert.equal(body.description, 'Record validation errors');
  const messages = body.details[field];
  assert.ok(Array.isArray(messages) && messages.length > 0, `expected details.${field} in ${res.body}`);
  for (const m of messages) assert.equal(typeof m.description, 'string');
  return body;
}

/** The path and query of an absolute or relative URL (a next_page link, a content_url), for injecting it. */
export function pathOf(url: string): string {
  const u = new URL(url, 'http://localhost');
  return `${u.pathname}${u.search}`;
}

export interface MultipartPart {
  name: string;
  /** The raw `filename=` value; omitted for a plain field. */
  filename?: string;
  /** An RFC 5987 `filename*=` value, already encoded. */
  filenameStar?: string;
  contentType?: string;
  content: Buffer | string;
}

/** A multipart/form-data body, byte for byte. */
export function multipart(parts: MultipartPart[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----sideline${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let disposition = `form-data; name="${part.name}"`;
    if (part.filename !== undefined) disposition += `; filename="${part.filename}"`;
    if (part.filenameStar !== undefined) disposition += `; filename*=${part.filenameStar}`;
    let head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n`;
    if (part.contentType) head += `Content-Type: ${part.contentType}\r\n`;
    head += '\r\n';
    chunks.push(Buffer.from(head, 'utf8'), Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content, 'utf8'), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** A multipart/form-data body with one file in the field "file". */
export function multipartFile(fileName: string, contentType: string, content: Buffer): { payload: Buffer; headers: Record<string, string> } {
  return multipart([{ name: 'file', filename: fileName, contentType, content }]);
}

/** GET …/side_conversations/:id/events (the first page), as the admin. */
export async function eventsOf(t: TestApp, ticketId: number, scId: string): Promise<ScEvent[]> {
  const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events` });
  expectStatus(res, 200);
  return res.json<EventListBody>().events;
}

/** GET …/side_conversations/:id, as the admin. */
export async function showSc(t: TestApp, ticketId: number, scId: string): Promise<SideConversation> {
  const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}` });
  expectStatus(res, 200);
  return res.json<ShowBody>().side_conversation;
}
