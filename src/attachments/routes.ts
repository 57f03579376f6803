import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { ApiError, badRequest } from '../http/errors.js';
import { DomainError, invalidField, payloadTooLarge } from '../errors.js';
import { ErrorResponses, IntegerId } from '../http/schemas.js';
import { withExamples } from '../http/docs.js';
import { sideConversationExamples } from '../side-conversations/examples.js';
import { IdempotencyHeaders, idempotentRequest, sendAnswer } from '../http/idempotency.js';
import { UploadSchema } from '../side-conversations/schemas.js';
import { contentDisposition } from './files.js';
import { attachmentContentUrl, presentUpload } from './presenter.js';
import type { StagedUpload } from './service.js';

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
        response: { 201: withExamples(UploadSchema, sideConversationExamples.uploadResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const me = principalOf(request);
      const declared = Number(request.headers['content-length'] ?? 0);
      // Refuse what cannot fit before reading it (the multipart envelope adds a few hundred bytes).
      if (declared > maxBytes + 64 * 1024) throw payloadTooLarge(`Attachments are limited to ${maxBytes} bytes`);
      // Refuse before reading when even the declared size cannot fit the quota.
      if (declared > 64 * 1024) await attachments.checkQuota(me.accountId, declared - 64 * 1024);
      if (!request.isMultipart()) throw invalidField('file', 'File: send the file as multipart/form-data in the field "file"');
      // The file streams to the blob store as it arrives (see attachments.stage), never whole in memory.
      let staged: StagedUpload | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type !== 'file') continue;
          if (part.fieldname === 'file' && !staged) {
            staged = await attachments.stage({ accountId: me.accountId, fileName: part.filename, source: part.file, maxBytes, withinQuota: true });
            // Multipart cuts a file off at the limit too (and says so only by `truncated`).
            if (part.file.truncated) throw payloadTooLarge(`Attachments are limited to ${maxBytes} bytes`);
          } else {
            part.file.resume(); // one file per upload: others are read past, not kept
          }
        }
      } catch (error) {
        if (staged) await attachments.discard(staged);
        if (error instanceof ApiError || error instanceof DomainError) throw error;
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 413) throw payloadTooLarge(`Attachments are limited to ${maxBytes} bytes`);
        throw badRequest('InvalidMultipart', `The multipart body could not be read: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!staged) throw invalidField('file', 'File: is required (multipart field "file")', 'BlankValue');
      const upload = staged;
      let recorded = false;
      // The same file under the same name is the same request (a multipart boundary may differ between retries).
      const asked = { file_name: upload.fileName, sha256: upload.sha256 };
      const answer = await idempotency
        .run(idempotentRequest(request, asked), async () => {
          await attachments.checkQuota(me.accountId, upload.size);
          const row = await attachments.record(upload, me.userId);
          recorded = true;
          return { status: 201, body: presentUpload(row, ctx.baseUrl(request)) };
        })
        .finally(async () => {
          // Refused, failed or replayed: these bytes are nobody's.
          if (!recorded) await attachments.discard(upload).catch(() => undefined);
        });
      return sendAnswer(reply, answer);
    },
  );

  const sendFile = (reply: import('fastify').FastifyReply, opened: { attachment: { file_name: string; content_type: string; inline: boolean }; bytes: Buffer }) =>
    reply
      .header('content-type', opened.attachment.content_type)
      .header('content-disposition', contentDisposition(opened.attachment.file_name, opened.attachment.content_type, opened.attachment.inline))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, max-age=0')
      .send(opened.bytes);

  // The file name ends the path as a wildcard: any name the upload kept (255 characters, up to
  // 2,295 once percent-encoded) must not run into the router's limit on parameters.
  app.get(
    '/api/v2/tickets/side_conversations/attachments/:attachment_id/download/*',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Download an upload; once bound to a message, redirects (302) to its URL there',
        params: Type.Object({ attachment_id: Uuid, '*': Type.String() }),
      },
    },
    async (request, reply) => {
      const opened = await attachments.openUpload(principalOf(request).accountId, request.params.attachment_id);
      // An integration that kept the upload's content_url still reaches the file, under the rules of its message.
      if ('bound' in opened) return reply.redirect(attachmentContentUrl(ctx.baseUrl(request), opened.bound), 302);
      return sendFile(reply, opened);
    },
  );

  app.get(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id/attachments/:attachment_id/download/*',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: "Download an attachment of a side conversation's message",
        params: Type.Object({ ticket_id: IntegerId, side_conversation_id: Uuid, attachment_id: Uuid, '*': Type.String() }),
      },
    },
    async (request, reply) => {
      const { ticket_id: ticketId, side_conversation_id: sideConversationId, attachment_id: id } = request.params;
      return sendFile(reply, await attachments.open(principalOf(request).accountId, id, { ticketId, sideConversationId }));
    },
  );
};
