/**
 * Request and response examples of the Slack and Teams integration endpoints, for the reference page
 * at /api/v2/docs: the help desk on https://help.example.com connects its Slack workspace and its
 * Teams bot. The secrets in the bodies are placeholders; answers never carry them back.
 */
const slackWorkspace = { id: 1, team_id: 'T024BE7LD', name: 'Example Support', created_at: '2026-12-01T10:05:00Z' };
const teamsBot = {
  id: 1,
  app_id: '2cd9a1f0-5b1e-4e0c-9f4a-6d2b8c7e1a30',
  tenant_id: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  service_url: 'https://smba.trafficmanager.net/emea/',
  created_at: '2026-12-01T10:10:00Z',
};

export const integrationExamples = {
  connectSlackBody: {
    slack_workspace: { team_id: 'T024BE7LD', bot_token: 'xoxb-your-bot-token', signing_secret: 'your-slack-signing-secret', name: 'Example Support' },
  },
  connectSlackResponse: { slack_workspace: slackWorkspace },
  listSlackResponse: { slack_workspaces: [slackWorkspace] },
  connectTeamsBody: {
    teams_bot: {
      app_id: teamsBot.app_id,
      app_password: 'your-bot-client-secret',
      tenant_id: teamsBot.tenant_id,
      service_url: teamsBot.service_url,
    },
  },
  teamsResponse: { teams_bot: teamsBot },
};
