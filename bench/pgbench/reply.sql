-- Reply, as the service writes it (captured with log_statement = all, migrations 0001–0010): the side
-- conversation locked, its participants read (the recipients), its preview and times updated, the
-- event, the outbox row, one delivery and the outbound Message-ID, in one transaction. Not included:
-- the service's two lookups for the Message-ID (the account's support address and the install
-- secret), which are not work a reply must do. Variables: account, user, count, and ids / tickets
-- (comma-separated, the count reply targets and their tickets, one picked at random per transaction).
\set n random(1, :count)
BEGIN;
SELECT * FROM side_conversations WHERE account_id = :account AND ticket_id = (string_to_array(:tickets, ','))[:n]::bigint
  AND id = (string_to_array(:ids, ','))[:n]::uuid FOR UPDATE \gset sc_
SELECT * FROM side_conversation_participants WHERE account_id = :account AND side_conversation_id = :sc_id ORDER BY side_conversation_id, position;
UPDATE side_conversations SET preview_text = 'Following up: the smoke is now a lovely shade of green. Any news?', message_added_at = now(), updated_at = now()
  WHERE account_id = :account AND id = :sc_id RETURNING *;
INSERT INTO side_conversation_events (id, account_id, side_conversation_id, ticket_id, type, via, actor_user_id, actor_name, actor_email, message, updates)
  VALUES (gen_random_uuid(), :account, :sc_id, :sc_ticket_id, 'reply', 'api', :user, 'Bench Admin', 'bench-admin@example.com',
          '{"subject": null, "body": "Following up: the smoke is now a lovely shade of green. Any news?", "html_body": "<div class=\"zd-comment\"><p>Following up: the smoke is now a lovely shade of green. Any news?</p></div>", "preview_text": "Following up: the smoke is now a lovely shade of green. Any news?", "from": {"user_id": 1, "name": "Bench Admin", "email": "bench-admin@example.com"}, "to": [{"user_id": null, "name": "Vendor 1", "email": "vendor1@example.com"}], "external_ids": {}, "attachment_ids": []}'::jsonb, NULL)
  RETURNING id AS ev_id \gset
INSERT INTO outbox (account_id, channel, side_conversation_id, event_id, last_error) VALUES (:account, 'email', :sc_id, :ev_id, NULL) RETURNING id AS ob_id \gset
INSERT INTO deliveries (account_id, outbox_id, event_id, recipient, status, reason) VALUES (:account, :ob_id, :ev_id, 'vendor1@example.com', 'queued', NULL) RETURNING *;
INSERT INTO email_messages (account_id, side_conversation_id, event_id, message_id, direction) VALUES (:account, :sc_id, :ev_id, '<' || md5(random()::text) || '@sideline.localhost>', 'outbound');
END;
