import type { Executor } from '../db/executor.js';
import type { ParticipantRecord, SideConversationChannel, User } from '../db/types.js';
import { ValidationErrors } from '../errors.js';
import { hasControlCharacters, isEmailAddress } from '../http/email.js';
import { findGroup, findMembership } from '../groups/repo.js';
import { findUser, usersByIdOrEmailQuery } from '../users/repo.js';
import { findSlackWorkspace, findTeamsBot } from '../integrations/service.js';

/** A participant object as clients send it (the reference's property table). */
export interface ParticipantInput {
  user_id?: number | null;
  name?: string | null;
  email?: string | null;
  slack_workspace_id?: string | null;
  slack_channel_id?: string | null;
  support_group_id?: number | string | null;
  support_agent_id?: number | string | null;
  msteams_channel_id?: string | null;
}

/** Which properties make which side conversation type (the reference's "Side conversation types" table). */
const PROPERTIES_BY_CHANNEL: Record<SideConversationChannel, Array<keyof ParticipantInput>> = {
  email: ['user_id', 'email', 'name'],
  slack: ['slack_workspace_id', 'slack_channel_id'],
  child_ticket: ['support_group_id', 'support_agent_id'],
  msteams: ['msteams_channel_id'],
};
const CHANNEL_LABEL: Record<SideConversationChannel, string> = {
  email: 'email',
  slack: 'Slack',
  child_ticket: 'child ticket',
  msteams: 'Microsoft Teams',
};
const ALL_PROPERTIES = Object.values(PROPERTIES_BY_CHANNEL).flat();

export const MAX_EMAIL_RECIPIENTS = 50;
const SLACK_ID = /^[A-Za-z0-9]{1,32}$/;

export interface ResolvedParticipants {
  channel: SideConversationChannel;
  recipients: ParticipantRecord[];
  /** For a child ticket: where the ticket goes. */
  childTicket?: { groupId: number; groupName: string; agentId: number | null };
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** A group or agent id sent as 123 or "123" (the reference types them as strings, its examples as numbers). */
function asId(value: unknown): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value.trim()) && Number(value) > 0) return Number(value);
  return null;
}

/** The side conversation type each participant object implies; a 422 that names the clash when they differ. */
export function channelOf(to: ParticipantInput[], field = 'to'): SideConversationChannel {
  const errors = new ValidationErrors();
  const seen = new Map<SideConversationChannel, Set<string>>();
  to.forEach((participant, index) => {
    const present = ALL_PROPERTIES.filter((key) => isSet(participant[key]));
    if (present.length === 0 || (present.length === 1 && present[0] === 'name')) {
      errors.add(
        `${field}[${index}]`,
        'Participant: needs user_id or email (email), slack_workspace_id and slack_channel_id (Slack), support_group_id (child ticket) or msteams_channel_id (Microsoft Teams)',
        'InvalidParticipant',
      );
      return;
    }
    for (const key of present) {
      for (const [channel, keys] of Object.entries(PROPERTIES_BY_CHANNEL) as Array<[SideConversationChannel, string[]]>) {
        if (keys.includes(key)) {
          if (!seen.has(channel)) seen.set(channel, new Set());
          seen.get(channel)!.add(key);
        }
      }
    }
  });
  errors.throwIfAny();
  if (seen.size > 1) {
    const clash = [...seen.entries()].map(([channel, keys]) => `${CHANNEL_LABEL[channel]} (${[...keys].join(', ')})`).join(' and ');
    errors.add(field, `Participants: ${clash} properties cannot be mixed in one side conversation`, 'MixedParticipantTypes');
    errors.throwIfAny();
  }
  return [...seen.keys()][0]!;
}

/**
 * Validates the `to` list of a message and resolves it against the account: user ids become names
 * and addresses, groups and agents are checked, and each type's own rules are applied.
 */
/**
 * The users an email message's recipients name, by id or by address, as one query not yet sent
 * (null when they name none, or are more than may be named): a command can send it together with
 * its lock (sendTogether) and hand the rows to resolveParticipants. Entries that are not what
 * they should be are left for resolveParticipants to report.
 */
export function recipientUsersQuery(db: Executor, accountId: number, to: ParticipantInput[] | null | undefined) {
  if (!Array.isArray(to) || to.length === 0 || to.length > MAX_EMAIL_RECIPIENTS) return null;
  const entries = to.filter((p): p is ParticipantInput => typeof p === 'object' && p !== null);
  const ids = entries.flatMap((p) => (typeof p.user_id === 'number' && Number.isSafeInteger(p.user_id) ? [p.user_id] : []));
  const emails = entries.flatMap((p) => (!isSet(p.user_id) && typeof p.email === 'string' && isEmailAddress(p.email.trim()) ? [p.email.trim()] : []));
  return usersByIdOrEmailQuery(db, accountId, ids, emails);
}

/** `users`: what recipientUsersQuery read for this `to`, when the caller sent it already. */
export async function resolveParticipants(
  db: Executor,
  accountId: number,
  to: ParticipantInput[] | undefined,
  field = 'to',
  users?: User[],
): Promise<ResolvedParticipants> {
  const errors = new ValidationErrors();
  if (!to || to.length === 0) {
    errors.add(field, 'To: must name at least one participant', 'BlankValue');
    errors.throwIfAny();
  }
  const participants = to!;
  const channel = channelOf(participants, field);
  if (channel !== 'email' && participants.length > 1) {
    errors.add(field, `To: a ${CHANNEL_LABEL[channel]} side conversation takes exactly one participant`, 'TooManyParticipants');
    errors.throwIfAny();
  }

  switch (channel) {
    case 'email': {
      if (participants.length > MAX_EMAIL_RECIPIENTS) {
        errors.add(field, `To: at most ${MAX_EMAIL_RECIPIENTS} recipients`, 'TooManyParticipants');
        errors.throwIfAny();
      }
      const recipients: ParticipantRecord[] = [];
      const addresses = new Set<string>();
      // Every user named, by id or by address, read at once (unless the caller did): one query for up to 50 recipients.
      const query = users ? null : recipientUsersQuery(db, accountId, participants);
      const named = users ?? (query ? await query.execute() : []);
      const usersById = new Map(named.map((u) => [u.id, u]));
      const usersByEmail = new Map(named.flatMap((u) => (u.email ? [[u.email.toLowerCase(), u] as const] : [])));
      for (const [index, p] of participants.entries()) {
        const at = `${field}[${index}]`;
        if (isSet(p.name) && (typeof p.name !== 'string' || hasControlCharacters(p.name) || p.name.length > 255)) {
          errors.add(`${at}.name`, 'Name: must be a single line of text of at most 255 characters');
          continue;
        }
        let record: ParticipantRecord | null = null;
        if (isSet(p.user_id)) {
          const user = typeof p.user_id === 'number' ? usersById.get(p.user_id) : undefined;
          if (!user) {
            errors.add(`${at}.user_id`, `User: ${String(p.user_id)} not found`, 'NotFound');
            continue;
          }
          if (!user.email) {
            errors.add(`${at}.user_id`, `User: ${user.id} has no email address`);
            continue;
          }
          if (isSet(p.email) && String(p.email).toLowerCase() !== user.email.toLowerCase()) {
            errors.add(`${at}.email`, `Email: does not match the email of user ${user.id}`);
            continue;
          }
          record = { user_id: user.id, name: user.name, email: user.email };
        } else {
          const email = typeof p.email === 'string' ? p.email.trim() : '';
          if (!isEmailAddress(email)) {
            errors.add(`${at}.email`, `Email: ${String(p.email)} is not properly formatted`);
            continue;
          }
          const known = usersByEmail.get(email.toLowerCase());
          const name = typeof p.name === 'string' && p.name.trim() ? p.name.trim() : null;
          record = known ? { user_id: known.id, name: name ?? known.name, email: known.email ?? email } : { user_id: null, name, email };
        }
        const key = record.email!.toLowerCase();
        if (!addresses.has(key)) {
          addresses.add(key);
          recipients.push(record);
        }
      }
      errors.throwIfAny();
      return { channel, recipients };
    }
    case 'slack': {
      const p = participants[0]!;
      for (const key of ['slack_workspace_id', 'slack_channel_id'] as const) {
        const value = p[key];
        if (typeof value !== 'string' || !SLACK_ID.test(value)) {
          errors.add(`${field}[0].${key}`, `${key}: must be a Slack id such as ${key === 'slack_workspace_id' ? 'T123ABC' : 'C456DEF'}`);
        }
      }
      errors.throwIfAny();
      if (!(await findSlackWorkspace(db, accountId, p.slack_workspace_id!))) {
        errors.add(`${field}[0].slack_workspace_id`, `Slack workspace ${p.slack_workspace_id} is not connected to this help desk`, 'NotConnected');
        errors.throwIfAny();
      }
      return {
        channel,
        recipients: [
          { user_id: null, name: null, email: null, slack_workspace_id: p.slack_workspace_id!, slack_channel_id: p.slack_channel_id! },
        ],
      };
    }
    case 'msteams': {
      const p = participants[0]!;
      const value = p.msteams_channel_id;
      if (typeof value !== 'string' || !value.trim() || value.length > 256 || hasControlCharacters(value)) {
        errors.add(`${field}[0].msteams_channel_id`, 'msteams_channel_id: must be a Teams channel id such as 19:abc@thread.tacv2');
      }
      errors.throwIfAny();
      if (!(await findTeamsBot(db, accountId))) {
        errors.add(`${field}[0].msteams_channel_id`, 'Microsoft Teams is not connected to this help desk', 'NotConnected');
        errors.throwIfAny();
      }
      return { channel, recipients: [{ user_id: null, name: null, email: null, msteams_channel_id: value!.trim() }] };
    }
    case 'child_ticket': {
      const p = participants[0]!;
      const groupId = asId(p.support_group_id);
      const group = groupId === null ? undefined : await findGroup(db, accountId, groupId);
      if (!group) {
        errors.add(`${field}[0].support_group_id`, `Group: ${String(p.support_group_id)} not found`, 'NotFound');
        errors.throwIfAny();
      }
      let agentId: number | null = null;
      let agentName: string | null = null;
      let agentEmail: string | null = null;
      if (isSet(p.support_agent_id)) {
        agentId = asId(p.support_agent_id);
        const agent = agentId === null ? undefined : await findUser(db, accountId, agentId);
        if (!agent || agent.role === 'end-user' || !agent.active) {
          errors.add(`${field}[0].support_agent_id`, `Agent: ${String(p.support_agent_id)} not found`, 'NotFound');
        } else if (!(await findMembership(db, accountId, agent.id, group!.id))) {
          errors.add(`${field}[0].support_agent_id`, `Agent: ${agent.id} is not a member of group ${group!.id}`);
        } else {
          agentName = agent.name;
          agentEmail = agent.email;
        }
        errors.throwIfAny();
      }
      return {
        channel,
        recipients: [
          {
            user_id: agentId,
            name: agentName ?? group!.name,
            email: agentEmail,
            support_group_id: group!.id,
            support_agent_id: agentId,
          },
        ],
        childTicket: { groupId: group!.id, groupName: group!.name, agentId },
      };
    }
  }
}
