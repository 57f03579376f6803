/**
 * The baseline: a bare Fastify 5 server (no database, no auth, no schemas) answering GET with a
 * JSON object whose serialised form is exactly BODY_BYTES long, the size of a real Show response.
 * Like Sideline it serialises an object per request and answers /healthz.
 */
import Fastify from 'fastify';

const bytes = Number(process.env['BODY_BYTES'] ?? '1000');
const port = Number(process.env['PORT'] ?? '0');

const body: { side_conversation: { id: string; pad: string } } = {
  side_conversation: { id: '00000000-0000-4000-8000-000000000000', pad: '' },
};
const overhead = JSON.stringify(body).length;
body.side_conversation.pad = 'x'.repeat(Math.max(0, bytes - overhead));

const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ status: 'ok' }));
app.get('/*', async () => body);

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

await app.listen({ port, host: '127.0.0.1' });
