import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { badRequest, invalidField, payloadTooLarge } from '../http/errors.js';
import { ErrorResponses, IntegerId } from '../http/schemas.js';
import { IdempotencyHeaders, idempotentRequest, sendAnswer } from '../http/idempotency.js';
import { createHash } from 'node:crypto';
import { UploadSchema } from '../side-conversations/schemas.js';
import { contentDisposition } from './files.js';
import { presentUpload } from './presenter.js';

const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });

export const attachmentsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; maxBytes: number }> = async (app, { ctx, maxBytes }) => {
  const { attachments, idempotency } = ctx.services;

  // Registered before the `tickets/:ticket_id/...` routes share its first segments (API-NOTES).
  app.post(
    '/api/v2/tickets/side_conversations/attachments',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Upload an attachment (multipart/form-data, field "file")',
        consumes: ['multipart/form-data'],
        headers: IdempotencyHeaders,
        response: { 201: UploadSchema, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const me = principalOf(request);
      const declared = Number(request.headers['content-length'] ?? 0);
      // Refuse what cannot fit before reading it (the multipart envelope adds a few hundred bytes).
      if (declared > maxBytes + 64 * 1024) throw payloadTooLarge(`Attachments are limited to ${maxBytes} bytes`);
      if (!request.isMultipart()) throw invalidField('file', 'File: send the file as multipart/form-data in the field "file"');
      let file: { name: string; bytes: Buffer } | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type !== 'file') continue;
          if (part.fieldname === 'file' && !file) {
            file = { name: part.filename, bytes: await part.toBuffer() };
          } else {
            part.file.resume(); // one file per upload: others are read past, not kept
          }
        }
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 413) throw payloadTooLarge(`Attachments are limited to ${maxBytes} bytes`);
        throw badRequest('InvalidMultipart', `The multipart body could not be read: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!file) throw invalidField('file', 'File: is required (multipart field "file")', 'BlankValue');
      const uploaded = file;
      // The same file under the same name is the same request (a multipart boundary may differ between retries).
      const asked = { file_name: uploaded.name, sha256: createHash('sha256').update(uploaded.bytes).digest('hex') };
      const answer = await idempotency.run(idempotentRequest(request, asked), async () => {
        const row = await attachments.upload({ accountId: me.accountId, uploaderId: me.userId, fileName: uploaded.name, bytes: uploaded.bytes });
        return { status: 201, body: presentUpload(row, ctx.baseUrl(request)) };
      });
      return sendAnswer(reply, answer);
    },
  );

  const sendFile = (reply: import('fastify').FastifyReply, opened: { attachment: { file_name: string; content_type: string }; bytes: Buffer }) =>
    reply
      .header('content-type', opened.attachment.content_type)
      .header('content-disposition', contentDisposition(opened.attachment.file_name, opened.attachment.content_type))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, max-age=0')
      .send(opened.bytes);

  app.get(
    '/api/v2/tickets/side_conversations/attachments/:attachment_id/download/:file_name',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Download an upload not yet bound to a message',
        params: Type.Object({ attachment_id: Uuid, file_name: Type.String() }),
      },
    },
    async (request, reply) => sendFile(reply, await attachments.open(principalOf(request).accountId, request.params.attachment_id, 'unbound')),
  );

  app.get(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id/attachments/:attachment_id/download/:file_name',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: "Download an attachment of a side conversation's message",
        params: Type.Object({ ticket_id: IntegerId, side_conversation_id: Uuid, attachment_id: Uuid, file_name: Type.String() }),
      },
    },
    async (request, reply) => {
      const { ticket_id: ticketId, side_conversation_id: sideConversationId, attachment_id: id } = request.params;
      return sendFile(reply, await attachments.open(principalOf(request).accountId, id, { ticketId, sideConversationId }));
    },
  );
};
