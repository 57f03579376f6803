-- Reply, as the service writes it (captured with log_statement = all, migrations 0001–0010): the side
-- conversation locked, its participants read (the recipients), then one statement
-- (src/db/one-statement.ts) updating its preview and times and writing the event, the outbox row, one
-- delivery and the outbound Message-ID, returning the rows the answer shows; in one transaction. The
-- participants are read after the lock, not with it: a read beside the lock would see the
-- participants as they were before a concurrent reply that held it. Not included: the install
-- secret's read, once per process. Variables: account, user, count, and ids / tickets
-- (comma-separated, the count reply targets and their tickets, one picked at random per transaction).
\set n random(1, :count)
BEGIN;
SELECT *, gen_random_uuid() AS ev_id FROM side_conversations WHERE account_id = :account AND ticket_id = (string_to_array(:tickets, ','))[:n]::bigint
  AND id = (string_to_array(:ids, ','))[:n]::uuid FOR UPDATE \gset sc_
SELECT * FROM side_conversation_participants WHERE account_id = :account AND side_conversation_id = :sc_id ORDER BY side_conversation_id, position;
WITH s0 AS (UPDATE side_conversations SET preview_text = 'Following up: the smoke is now a lovely shade of green. Any news?', message_added_at = now(), updated_at = now()
    WHERE account_id = :account AND id = :sc_id RETURNING *),
  s1 AS (INSERT INTO side_conversation_events (id, account_id, side_conversation_id, ticket_id, type, via, actor_user_id, actor_name, actor_email, message, updates)
    VALUES (:sc_ev_id, :account, :sc_id, :sc_ticket_id, 'reply', 'api', :user, 'Bench Admin', 'bench-admin@example.com',
            '{"subject": null, "body": "Following up: the smoke is now a lovely shade of green. Any news?", "html_body": "<div class=\"zd-comment\"><p>Following up: the smoke is now a lovely shade of green. Any news?</p></div>", "preview_text": "Following up: the smoke is now a lovely shade of green. Any news?", "from": {"user_id": 1, "name": "Bench Admin", "email": "bench-admin@example.com"}, "to": [{"user_id": null, "name": "Vendor 1", "email": "vendor1@example.com"}], "external_ids": {}, "attachment_ids": []}'::jsonb, NULL)
    RETURNING *),
  s2 AS (INSERT INTO outbox (account_id, channel, side_conversation_id, event_id, last_error) VALUES (:account, 'email', :sc_id, :sc_ev_id, NULL) RETURNING id),
  s3 AS (INSERT INTO deliveries (account_id, outbox_id, event_id, recipient, status, reason)
    VALUES (:account, (SELECT id FROM s2), :sc_ev_id, 'vendor1@example.com', 'queued', NULL) RETURNING *),
  s4 AS (INSERT INTO email_messages (account_id, side_conversation_id, event_id, message_id, direction)
    VALUES (:account, :sc_id, :sc_ev_id, '<' || md5(random()::text) || '@' || (SELECT lower(substring(support_address FROM '[^@]*$')) FROM accounts WHERE id = :account) || '>', 'outbound'))
SELECT (SELECT coalesce(json_agg(s0), '[]'::json) FROM s0) AS s0, (SELECT coalesce(json_agg(s1), '[]'::json) FROM s1) AS s1,
       (SELECT coalesce(json_agg(s3), '[]'::json) FROM s3) AS s3;
END;
