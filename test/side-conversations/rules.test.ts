/**
 * The one recipients rule every road shares (rules.ts): a message goes to everyone but its sender
 * and, when it came in through the conversation's channel, not back to that channel's side.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRecipients } from '../../src/side-conversations/rules.js';
import type { PresentedParticipant } from '../../src/side-conversations/repo.js';
import type { ParticipantRecord } from '../../src/db/types.js';

const person = (user_id: number | null, email: string | null, name = 'P'): PresentedParticipant => ({
  user_id,
  name,
  email,
  slack_workspace_id: null,
  slack_channel_id: null,
  support_group_id: null,
  support_agent_id: null,
  msteams_channel_id: null,
});
const sender = (user_id: number | null, email: string | null, name = 'S'): ParticipantRecord => ({ user_id, name, email });
const agent = person(7, 'agent@help.test', 'Agent');
const other = person(8, 'other@help.test', 'Other');
const vendor = person(null, 'vendor@example.com', 'Vendor');
const slackChannel: PresentedParticipant = { ...person(null, null, ''), name: null, slack_workspace_id: 'T1', slack_channel_id: 'C1' };
const teamsChannel: PresentedParticipant = { ...person(null, null, ''), name: null, msteams_channel_id: '19:abc@thread.tacv2' };
const group: PresentedParticipant = { ...person(9, 'tier2@help.test', 'Tier 2'), support_group_id: 3, support_agent_id: 9 };

const emails = (list: Array<{ email: string | null; slack_channel_id?: string; msteams_channel_id?: string; support_group_id?: number }>) =>
  list.map((p) => (p.support_group_id ? `group:${p.support_group_id}` : (p.email ?? p.slack_channel_id ?? p.msteams_channel_id)));

describe('defaultRecipients: everyone but the sender, and not back where it came from', () => {
  const cases: Array<{ road: string; participants: PresentedParticipant[]; sender: ParticipantRecord; cameThroughChannel: boolean; to: string[] }> = [
    { road: 'an agent replies by API to an email conversation', participants: [agent, vendor, other], sender: sender(7, 'agent@help.test'), cameThroughChannel: false, to: ['vendor@example.com', 'other@help.test'] },
    { road: 'the vendor answers by mail (matched by address, any case)', participants: [agent, vendor], sender: sender(null, 'Vendor@Example.com'), cameThroughChannel: true, to: ['agent@help.test'] },
    { road: 'a vouched agent answers by mail (matched by user)', participants: [agent, vendor], sender: sender(7, 'agent@help.test'), cameThroughChannel: true, to: ['vendor@example.com'] },
    { road: 'an agent replies by API to a Slack conversation', participants: [agent, slackChannel], sender: sender(7, 'agent@help.test'), cameThroughChannel: false, to: ['C1'] },
    { road: 'a Slack user writes in the thread', participants: [agent, slackChannel], sender: sender(null, null, 'U1'), cameThroughChannel: true, to: ['agent@help.test'] },
    { road: 'a Slack user who is the agent writes in the thread', participants: [agent, other, slackChannel], sender: sender(7, 'agent@help.test'), cameThroughChannel: true, to: ['other@help.test'] },
    { road: 'a Teams user writes in the thread', participants: [agent, teamsChannel], sender: sender(null, null, 'Teams user'), cameThroughChannel: true, to: ['agent@help.test'] },
    { road: 'an agent replies by API to a child ticket conversation (the group is never the sender)', participants: [agent, group], sender: sender(9, 'tier2@help.test'), cameThroughChannel: false, to: ['agent@help.test', 'group:3'] },
    { road: "the child ticket's agent comments", participants: [agent, group], sender: sender(9, 'tier2@help.test'), cameThroughChannel: true, to: ['agent@help.test'] },
  ];
  for (const c of cases) {
    it(c.road, () => {
      assert.deepEqual(emails(defaultRecipients(c.participants, c.sender, c.cameThroughChannel)), c.to);
    });
  }

  it('a recipient is the participant as stored, with its channel fields only when it has them', () => {
    assert.deepEqual(defaultRecipients([agent, group, slackChannel], sender(null, 'vendor@example.com'), false), [
      { user_id: 7, name: 'Agent', email: 'agent@help.test' },
      { user_id: 9, name: 'Tier 2', email: 'tier2@help.test', support_group_id: 3, support_agent_id: 9 },
      { user_id: null, name: null, email: null, slack_workspace_id: 'T1', slack_channel_id: 'C1' },
    ]);
  });
});
