/**
 * Every endpoint of the server: the OpenAPI document (GET /api/v2/openapi.json) joined with the
 * routes declared in the source (src/**\/routes.ts and src/app.ts), which also finds the routes the
 * document hides (webhooks, the document itself). Access levels come from the route declarations.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../lib/procs.js';

export type Access = 'public' | 'any' | 'agent' | 'admin';
export type BodyKind = 'json' | 'multipart' | 'rfc822' | 'slack' | 'teams' | 'none';

export interface Endpoint {
  method: string;
  /** Fastify form: /api/v2/tickets/:ticket_id/side_conversations */
  path: string;
  params: string[];
  query: Array<{ name: string; schema: Record<string, unknown> }>;
  bodySchema: Record<string, unknown> | null;
  bodyKind: BodyKind;
  access: Access;
  inOpenApi: boolean;
  /** Where the source declares it. */
  source: string | null;
}

export const key = (e: { method: string; path: string }) => `${e.method} ${e.path}`;

interface SourceRoute {
  method: string;
  path: string;
  access: Access;
  file: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name === 'routes.ts' || (dir === join(ROOT, 'src') && entry.name === 'app.ts')) out.push(full);
  }
  return out;
}

/** `app.get('/path', { config: { access: 'public' } ...` → method, path, access. */
export function scanSourceRoutes(): SourceRoute[] {
  const routes: SourceRoute[] = [];
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const re = /app\.(get|post|put|delete|patch)\(\s*['"`]([^'"`]+)['"`]/g;
    const matches = [...text.matchAll(re)];
    matches.forEach((m, i) => {
      const declaration = text.slice(m.index!, matches[i + 1]?.index ?? text.length);
      const head = declaration.slice(0, 600);
      let access: Access = 'agent';
      if (/access:\s*'public'/.test(head)) access = 'public';
      else if (/access:\s*'admin'/.test(head) || /config:\s*admin\b/.test(head)) access = 'admin';
      else if (/access:\s*'any'/.test(head)) access = 'any';
      routes.push({ method: m[1]!.toUpperCase(), path: m[2]!, access, file: relative(ROOT, file) });
    });
  }
  return routes;
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema: Record<string, unknown> }>; requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> } }>>;
}

export function discoverEndpoints(openapi: OpenApiDocument): { endpoints: Endpoint[]; onlyInSource: string[]; onlyInOpenApi: string[] } {
  const source = scanSourceRoutes();
  const bySource = new Map(source.map((r) => [key(r), r]));
  const endpoints = new Map<string, Endpoint>();
  for (const [rawPath, operations] of Object.entries(openapi.paths ?? {})) {
    const path = rawPath.replace(/\{([^}]+)\}/g, ':$1');
    for (const [method, op] of Object.entries(operations)) {
      const upper = method.toUpperCase();
      const json = op.requestBody?.content?.['application/json']?.schema ?? null;
      const src = bySource.get(`${upper} ${path}`);
      endpoints.set(`${upper} ${path}`, {
        method: upper,
        path,
        params: [...path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!),
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        bodySchema: json,
        bodyKind: 'none',
        access: src?.access ?? 'agent',
        inOpenApi: true,
        source: src?.file ?? null,
      });
    }
  }
  for (const r of source) {
    const k = key(r);
    if (endpoints.has(k)) continue;
    endpoints.set(k, {
      method: r.method,
      path: r.path,
      params: [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!),
      query: [],
      bodySchema: null,
      bodyKind: 'none',
      access: r.access,
      inOpenApi: false,
      source: r.file,
    });
  }
  for (const e of endpoints.values()) {
    if (e.path === '/api/v2/tickets/side_conversations/attachments' && e.method === 'POST') e.bodyKind = 'multipart';
    else if (e.path === '/api/v2/inbound/email') e.bodyKind = 'rfc822';
    else if (e.path === '/integrations/slack/events') e.bodyKind = 'slack';
    else if (e.path === '/integrations/teams/messages') e.bodyKind = 'teams';
    else if (e.bodySchema) e.bodyKind = 'json';
  }
  const all = [...endpoints.values()].sort((a, b) => key(a).localeCompare(key(b)));
  return {
    endpoints: all,
    onlyInSource: all.filter((e) => !e.inOpenApi).map(key),
    onlyInOpenApi: all.filter((e) => !e.source).map(key),
  };
}
