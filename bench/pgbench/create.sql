-- Create (email), as the service writes it (captured with log_statement = all, migrations 0001–0009):
-- the ticket locked, the recipient looked up, the conversation, its two participants, the event, the
-- outbox row, one delivery and the outbound Message-ID, in one transaction. Triggers (event feed,
-- webhooks) fire as they do for the service. Variables: account, user, tickets (ticket ids 1..tickets
-- offset by first_ticket). JSON keeps a space after each colon: pgbench would take `:null` for a variable.
\set ticket :first_ticket + random(0, :tickets - 1)
BEGIN;
SELECT * FROM tickets WHERE account_id = :account AND id = :ticket FOR UPDATE;
SELECT * FROM users WHERE account_id = :account AND lower(email) = 'facilities@example.com';
INSERT INTO side_conversations (id, account_id, ticket_id, channel, subject, state, preview_text, external_ids, reply_token)
  VALUES (gen_random_uuid(), :account, :ticket, 'email', 'Is the printer still on fire?', 'open',
          'Hello, The printer on the third floor is smoking again. Could you send someone today? Thanks', '{"bench":"create"}'::jsonb, md5(random()::text))
  RETURNING id AS sc_id \gset
INSERT INTO side_conversation_participants (account_id, side_conversation_id, position, user_id, name, email, slack_workspace_id, slack_channel_id, support_group_id, support_agent_id, msteams_channel_id)
  VALUES (:account, :sc_id, 0, :user, 'Bench Admin', 'bench-admin@example.com', NULL, NULL, NULL, NULL, NULL),
         (:account, :sc_id, 1, NULL, 'Facilities Desk', 'facilities@example.com', NULL, NULL, NULL, NULL, NULL)
  RETURNING position, user_id, name, email;
INSERT INTO side_conversation_events (id, account_id, side_conversation_id, ticket_id, type, via, actor_user_id, actor_name, actor_email, message, updates)
  VALUES (gen_random_uuid(), :account, :sc_id, :ticket, 'create', 'api', :user, 'Bench Admin', 'bench-admin@example.com',
          '{"subject": "Is the printer still on fire?", "body": "Hello,\n\nThe printer on the third floor is smoking again. Could you send someone today?\n\nThanks", "html_body": "<p>Hello,</p><p>The printer on the third floor is smoking again. Could you send someone today?</p><p>Thanks</p>", "preview_text": "Hello, The printer on the third floor is smoking again. Could you send someone today? Thanks", "from": {"user_id": 1, "name": "Bench Admin", "email": "bench-admin@example.com"}, "to": [{"user_id": null, "name": "Facilities Desk", "email": "facilities@example.com"}], "external_ids": {}, "attachment_ids": []}'::jsonb, NULL)
  RETURNING id AS ev_id \gset
INSERT INTO outbox (account_id, channel, side_conversation_id, event_id, last_error) VALUES (:account, 'email', :sc_id, :ev_id, NULL) RETURNING id AS ob_id \gset
INSERT INTO deliveries (account_id, outbox_id, event_id, recipient, status, reason) VALUES (:account, :ob_id, :ev_id, 'facilities@example.com', 'queued', NULL) RETURNING *;
INSERT INTO email_messages (account_id, side_conversation_id, event_id, message_id, direction) VALUES (:account, :sc_id, :ev_id, '<' || md5(random()::text) || '@sideline.localhost>', 'outbound');
END;
