import type { Participant, SideConversation } from '../api/types';

export type Kind = 'email' | 'slack' | 'msteams' | 'child_ticket';

export const KIND_LABEL: Record<Kind, string> = {
  email: 'Email',
  slack: 'Slack',
  msteams: 'Microsoft Teams',
  child_ticket: 'Child ticket',
};

/** The side conversation type, as its participants show it (the reference's "Side conversation types"). */
export function kindOf(conversation: SideConversation): Kind {
  const p = conversation.participants;
  if (p.some((x) => x.slack_channel_id)) return 'slack';
  if (p.some((x) => x.msteams_channel_id)) return 'msteams';
  if (p.some((x) => x.support_group_id !== undefined)) return 'child_ticket';
  return 'email';
}

export function participantLabel(p: Participant): string {
  if (p.slack_channel_id) return `Slack #${p.slack_channel_id}`;
  if (p.msteams_channel_id) return `Teams ${p.msteams_channel_id}`;
  if (p.support_group_id !== undefined) return p.name ?? `Group ${p.support_group_id}`;
  if (p.name && p.email) return `${p.name} <${p.email}>`;
  return p.name ?? p.email ?? 'Unknown';
}

export const VIA_LABEL: Record<string, string> = {
  api: 'API',
  zendesk: 'Sideline',
  email: 'Email',
  slack: 'Slack',
  msteams: 'Microsoft Teams',
  child_ticket: 'Child ticket',
};
