/**
 * `sideline import-from` (issue 15): how many side conversations a migration brings over per
 * second. A source Sideline (a real `serve` process) is seeded through its API with side
 * conversations — each with a reply, every fourth with an attachment — and `import-from` runs as an
 * operator runs it, into an empty store of the same kind, reading the source over HTTP. The rate is
 * the command's own (its summary line), counted from the start of its side conversation phase: what
 * the reading of each conversation's events, the download and re-upload of its files and its import
 * transaction cost together.
 */
import { spawnTs } from './processes.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, apiOk, inParallel, startSideline } from './sideline.js';
import { newTicket } from './fixtures.js';
import type { BenchStore } from './stores.js';
import type { Figure } from './live.js';

export async function migrationFigures(source: BenchStore, target: BenchStore, conversations: number): Promise<Figure[]> {
  const server = await startSideline(source);
  try {
    const tickets = await Promise.all(Array.from({ length: Math.max(1, Math.ceil(conversations / 5)) }, (_, i) => newTicket(server.port, `Migration ${i}`)));
    const auth = `Basic ${Buffer.from(`${ADMIN_EMAIL}:${ADMIN_PASSWORD}`).toString('base64')}`;
    await inParallel(conversations, 4, async (i) => {
      const ticket = tickets[i % tickets.length]!;
      let attachmentIds: string[] = [];
      if (i % 4 === 0) {
        const form = new FormData();
        form.append('file', new Blob([Buffer.from(`attachment ${i}\n`.repeat(200))]), `notes-${i}.txt`);
        const res = await fetch(`${server.url}/api/v2/tickets/side_conversations/attachments`, { method: 'POST', headers: { authorization: auth }, body: form });
        if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
        attachmentIds = [((await res.json()) as { id: string }).id];
      }
      const created = await apiOk(server.port, 'POST', `/api/v2/tickets/${ticket}/side_conversations.json`, {
        message: { subject: `Vendor ${i}`, body: `Could you look at ${i}?`, to: [{ email: `vendor${i % 9}@example.com` }], attachment_ids: attachmentIds },
      });
      await apiOk(server.port, 'POST', `/api/v2/tickets/${ticket}/side_conversations/${created.json.side_conversation.id as string}/reply.json`, { message: { body: `Any news on ${i}?` } });
    });
    const token = (await apiOk(server.port, 'POST', '/api/v2/api_tokens.json', { api_token: { description: 'bench migration' } })).json.api_token.token as string;

    const env = { ...target.env, LOG_LEVEL: 'warn', SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL, SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD, SIDELINE_IMPORT_TOKEN: token };
    const bootstrap = spawnTs('create-token (migration target)', 'src/main.ts', ['create-token', '--email', ADMIN_EMAIL], env);
    if ((await bootstrap.exited) !== 0) throw new Error(`create-token on the target failed:\n${bootstrap.output()}`);
    const started = performance.now();
    const run = spawnTs('sideline import-from', 'src/main.ts', ['import-from', server.url, '--email', ADMIN_EMAIL], env);
    const code = await run.exited;
    const wallSeconds = (performance.now() - started) / 1000;
    const output = run.output();
    if (process.env["BENCH_MIGRATION_LOG"]) process.stderr.write(output);
    if (code !== 0) throw new Error(`import-from exited ${String(code)}:\n${output.slice(-3000)}`);
    const rate = Number(/([\d.]+) side conversations per second/.exec(output)?.[1] ?? Number.NaN);
    const imported = Number(/side conversations\s+(\d+) imported/.exec(output)?.[1] ?? Number.NaN);
    if (imported !== conversations) throw new Error(`import-from brought ${imported} of ${conversations} side conversations:\n${output.slice(-3000)}`);
    const detail =
      `${imported} side conversations (2 events each, ${Math.ceil(conversations / 4)} attachments) on ${tickets.length} tickets, ` +
      `from a ${source.label} Sideline over HTTP; the whole command (process start, users, tickets, conversations) took ${wallSeconds.toFixed(1)} s`;
    return [{ section: 'migration', store: target.label, name: 'side conversations migrated by import-from', value: rate, unit: 'sc/s', detail }];
  } finally {
    await server.stop();
  }
}
