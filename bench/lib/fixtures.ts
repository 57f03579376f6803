/**
 * The data the workloads run against, created through the API (so every row is exactly what the
 * service writes), and the request bodies they send.
 */
import { apiOk, inParallel } from './sideline.js';

export const CREATE_BODY = JSON.stringify({
  message: {
    subject: 'Is the printer still on fire?',
    body: 'Hello,\n\nThe printer on the third floor is smoking again. Could you send someone today?\n\nThanks',
    to: [{ email: 'facilities@example.com', name: 'Facilities Desk' }],
  },
  external_ids: { bench: 'create' },
});

/** Update: each reply target closed, then opened again on the next pass (a state change every time). */
export const UPDATE_BODIES = [JSON.stringify({ side_conversation: { state: 'closed' } }), JSON.stringify({ side_conversation: { state: 'open' } })];

export const REPLY_BODY = JSON.stringify({
  message: { body: 'Following up: the smoke is now a lovely shade of green. Any news?' },
});

export interface Fixtures {
  show: { ticketId: number; id: string; path: string };
  list: { ticketId: number; path: string };
  events: { ticketId: number; id: string; path: string };
  /** POST targets for Create, spread over several tickets (a create locks its ticket). */
  createPaths: string[];
  /** POST targets for Reply, one per conversation (a reply locks its conversation). */
  replyPaths: string[];
  /** The conversations replied to (Reply) and closed and opened (Update), with their tickets. */
  replyTargets: Array<{ ticketId: number; id: string }>;
  updatePaths: string[];
  /** An API token of the admin, for Basic email/token:TOKEN. */
  apiToken: string;
}

const scPath = (ticketId: number, id?: string, suffix = '') =>
  `/api/v2/tickets/${ticketId}/side_conversations${id ? `/${id}` : ''}${suffix}.json`;

export async function newTicket(port: number, subject: string): Promise<number> {
  const res = await apiOk(port, 'POST', '/api/v2/tickets.json', { ticket: { subject, comment: { body: `${subject}: created for the benchmark` } } });
  return res.json.ticket.id as number;
}

async function newConversation(port: number, ticketId: number, n: number): Promise<string> {
  const res = await apiOk(port, 'POST', scPath(ticketId), {
    message: {
      subject: `Side conversation ${n}`,
      body: `Message ${n}: could you have a look at this ticket?`,
      to: [{ email: `vendor${n % 7}@example.com`, name: `Vendor ${n % 7}` }],
    },
  });
  return res.json.side_conversation.id as string;
}

export async function createFixtures(port: number, opts = { createTickets: 32, replyConversations: 64, listSize: 50, events: 20 }): Promise<Fixtures> {
  const showTicket = await newTicket(port, 'Show ticket');
  const showId = await newConversation(port, showTicket, 0);

  const listTicket = await newTicket(port, 'List ticket');
  // Sequential, so the list's order is the creation order (as a real ticket's would be).
  for (let i = 0; i < opts.listSize; i++) await newConversation(port, listTicket, i);

  const eventsTicket = await newTicket(port, 'Events ticket');
  const eventsId = await newConversation(port, eventsTicket, 0);
  for (let i = 1; i < opts.events; i++) await apiOk(port, 'POST', scPath(eventsTicket, eventsId, '/reply'), { message: { body: `Reply ${i}` } });

  const createTickets = await inParallel(opts.createTickets, 8, (i) => newTicket(port, `Create target ${i}`));
  const replyTickets = await inParallel(8, 8, (i) => newTicket(port, `Reply target ${i}`));
  const replyIds = await inParallel(opts.replyConversations, 8, async (i) => {
    const ticketId = replyTickets[i % replyTickets.length]!;
    return { ticketId, id: await newConversation(port, ticketId, i) };
  });

  const token = await apiOk(port, 'POST', '/api/v2/api_tokens.json', { api_token: { description: 'benchmark' } });
  return {
    show: { ticketId: showTicket, id: showId, path: scPath(showTicket, showId) },
    list: { ticketId: listTicket, path: scPath(listTicket) },
    events: { ticketId: eventsTicket, id: eventsId, path: scPath(eventsTicket, eventsId, '/events') },
    createPaths: createTickets.map((t) => scPath(t)),
    replyPaths: replyIds.map((r) => scPath(r.ticketId, r.id, '/reply')),
    replyTargets: replyIds,
    updatePaths: replyIds.map((r) => scPath(r.ticketId, r.id)),
    apiToken: token.json.api_token.token as string,
  };
}

/** Queues `count` email side conversations (each an outbox row with one delivery) for the relay. */
export async function queueEmails(port: number, count: number): Promise<void> {
  const tickets = await inParallel(8, 8, (i) => newTicket(port, `Relay ticket ${i}`));
  await inParallel(count, 8, (i) => newConversation(port, tickets[i % tickets.length]!, i));
}

export { scPath };
