import { presentTicket } from '../tickets/presenter.js';
import type { ConsoleTicketRow, ReadMarkerRow } from './repo.js';
import type { ConsoleService } from './service.js';

function person(id: number | null, name: string | null, email: string | null) {
  return id === null || name === null ? null : { id, name, email };
}

export function presentConsoleTicket(row: ConsoleTicketRow, base: string) {
  return {
    ...presentTicket(row, base),
    requester: person(row.requester_id, row.requester_name, row.requester_email),
    assignee: person(row.assignee_id, row.assignee_name, row.assignee_email),
    side_conversation_count: Number(row.side_conversation_count),
    unread_count: Number(row.unread_count),
  };
}

export function presentReadMarker(marker: ReadMarkerRow) {
  return {
    side_conversation_id: marker.side_conversation_id,
    last_read_at: marker.last_read_at ? marker.last_read_at.toISOString() : null,
    unread_count: Number(marker.unread_count),
  };
}

export function presentDestinations(destinations: Awaited<ReturnType<ConsoleService['destinations']>>) {
  return {
    slack_workspaces: destinations.slackWorkspaces.map((w) => ({ team_id: w.teamId, name: w.name, channel_ids: w.channelIds })),
    msteams: { connected: destinations.teams.connected, channel_ids: destinations.teams.channelIds },
  };
}
