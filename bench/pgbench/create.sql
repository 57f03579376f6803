-- Create (email), as the service writes it (captured with log_statement = all, migrations 0001–0010):
-- the ticket locked, the recipient looked up, then one statement (src/db/one-statement.ts) writing the
-- conversation, its two participants, the event, the outbox row, one delivery and the outbound
-- Message-ID, and returning the rows the answer shows; in one transaction. The service makes its ids
-- in the process; here the ticket's read makes them (pgbench has no uuid of its own), in the same
-- round trip. Triggers (event feed, webhooks) fire as they do for the service. Variables: account,
-- user, tickets (ticket ids 1..tickets offset by first_ticket). JSON keeps a space after each colon:
-- pgbench would take `:null` for a variable.
\set ticket :first_ticket + random(0, :tickets - 1)
BEGIN;
SELECT *, gen_random_uuid() AS sc_id, gen_random_uuid() AS ev_id FROM tickets WHERE account_id = :account AND id = :ticket FOR UPDATE \gset t_
SELECT * FROM users WHERE account_id = :account AND lower(email) IN ('facilities@example.com');
WITH s0 AS (INSERT INTO side_conversations (id, account_id, ticket_id, channel, subject, state, preview_text, external_ids, reply_token)
    VALUES (:t_sc_id, :account, :ticket, 'email', 'Is the printer still on fire?', 'open',
            'Hello, The printer on the third floor is smoking again. Could you send someone today? Thanks', '{"bench": "create"}'::jsonb, md5(random()::text))
    RETURNING *),
  s1 AS (INSERT INTO side_conversation_participants (account_id, side_conversation_id, position, user_id, name, email, slack_workspace_id, slack_channel_id, support_group_id, support_agent_id, msteams_channel_id)
    VALUES (:account, :t_sc_id, 0, :user, 'Bench Admin', 'bench-admin@example.com', NULL, NULL, NULL, NULL, NULL),
           (:account, :t_sc_id, 1, NULL, 'Facilities Desk', 'facilities@example.com', NULL, NULL, NULL, NULL, NULL)
    RETURNING position, user_id, name, email, slack_workspace_id, slack_channel_id, support_group_id, support_agent_id, msteams_channel_id),
  s2 AS (INSERT INTO side_conversation_events (id, account_id, side_conversation_id, ticket_id, type, via, actor_user_id, actor_name, actor_email, message, updates)
    VALUES (:t_ev_id, :account, :t_sc_id, :ticket, 'create', 'api', :user, 'Bench Admin', 'bench-admin@example.com',
            '{"subject": "Is the printer still on fire?", "body": "Hello,\n\nThe printer on the third floor is smoking again. Could you send someone today?\n\nThanks", "html_body": "<p>Hello,</p><p>The printer on the third floor is smoking again. Could you send someone today?</p><p>Thanks</p>", "preview_text": "Hello, The printer on the third floor is smoking again. Could you send someone today? Thanks", "from": {"user_id": 1, "name": "Bench Admin", "email": "bench-admin@example.com"}, "to": [{"user_id": null, "name": "Facilities Desk", "email": "facilities@example.com"}], "external_ids": {}, "attachment_ids": []}'::jsonb, NULL)
    RETURNING *),
  s3 AS (INSERT INTO outbox (account_id, channel, side_conversation_id, event_id, last_error) VALUES (:account, 'email', :t_sc_id, :t_ev_id, NULL) RETURNING id),
  s4 AS (INSERT INTO deliveries (account_id, outbox_id, event_id, recipient, status, reason)
    VALUES (:account, (SELECT id FROM s3), :t_ev_id, 'facilities@example.com', 'queued', NULL) RETURNING *),
  s5 AS (INSERT INTO email_messages (account_id, side_conversation_id, event_id, message_id, direction)
    VALUES (:account, :t_sc_id, :t_ev_id, '<' || md5(random()::text) || '@' || (SELECT lower(substring(support_address FROM '[^@]*$')) FROM accounts WHERE id = :account) || '>', 'outbound'))
SELECT (SELECT coalesce(json_agg(s0), '[]'::json) FROM s0) AS s0, (SELECT coalesce(json_agg(s1), '[]'::json) FROM s1) AS s1,
       (SELECT coalesce(json_agg(s2), '[]'::json) FROM s2) AS s2, (SELECT coalesce(json_agg(s4), '[]'::json) FROM s4) AS s4;
END;
