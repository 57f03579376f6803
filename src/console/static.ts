import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'";

const IMMUTABLE = 'public, max-age=31536000, immutable';
const NO_CACHE = 'no-cache';

function securityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONSOLE_CSP);
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'same-origin');
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sideline: console not built</title></head>
<body><h1>The agent console is not built</h1>
<p>Run <code>npm run build</code> in the Sideline directory, then restart the server.</p></body></html>
`;

/**
 * The agent console at /agent/: the built files of console/dist, with Vite's hashed files (under
 * assets/) cached for good and everything else revalidated; any other /agent/ path is a client
 * route and gets index.html. `/` leads there. Files are listed once at start (a new build needs a
 * restart), so a client route costs no file system lookup.
 */
export const consoleStaticRoutes: FastifyPluginAsync<{ dir: string }> = async (app, { dir }) => {
  // Everything here is public: the page itself signs in through the session API.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), access: 'public' };
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/agent/', 302));

  // `/agent` also answers `/agent/` (trailing slashes are ignored); `/agent/*` everything below.
  const pagePaths = ['/agent', '/agent/*'];

  if (!existsSync(join(dir, 'index.html'))) {
    for (const path of pagePaths) {
      app.get(path, { schema: { hide: true } }, async (_request, reply) => {
        securityHeaders(reply);
        return reply.code(503).header('cache-control', NO_CACHE).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
      });
    }
    return;
  }

  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/agent/',
    wildcard: false,
    index: false,
    dotfiles: 'ignore',
    cacheControl: false,
    setHeaders(reply, filePath) {
      const inAssets = relative(dir, filePath).split(sep)[0] === 'assets';
      securityHeaders(reply);
      reply.header('cache-control', inAssets ? IMMUTABLE : NO_CACHE);
    },
  });

  for (const path of pagePaths) {
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      const rest = (request.params as { '*'?: string })['*'] ?? '';
      // A hashed file that is not there (an old build's) must not come back as HTML.
      if (rest.startsWith('assets/')) {
        securityHeaders(reply);
        return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
      }
      return reply.sendFile('index.html');
    });
  }
};
