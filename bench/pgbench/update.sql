-- Update (state closed/open in turn), as the service writes it (captured with log_statement = all,
-- migrations 0001–0010): the side conversation locked, then one statement (src/db/one-statement.ts)
-- updating its state and times, writing the update event and reading its participants for the
-- answer, returning all three; in one transaction. No outbox row: a state change is not sent to
-- anyone (webhooks subscribed to it would add one, through the events trigger). Variables as
-- reply.sql's.
\set n random(1, :count)
\set closed random(0, 1)
BEGIN;
SELECT *, gen_random_uuid() AS ev_id FROM side_conversations WHERE account_id = :account AND ticket_id = (string_to_array(:tickets, ','))[:n]::bigint
  AND id = (string_to_array(:ids, ','))[:n]::uuid FOR UPDATE \gset sc_
WITH s0 AS (UPDATE side_conversations SET state = CASE WHEN :closed = 1 THEN 'closed' ELSE 'open' END, state_updated_at = now(), updated_at = now()
    WHERE account_id = :account AND id = :sc_id RETURNING *),
  s1 AS (INSERT INTO side_conversation_events (id, account_id, side_conversation_id, ticket_id, type, via, actor_user_id, actor_name, actor_email, message, updates)
    VALUES (:sc_ev_id, :account, :sc_id, :sc_ticket_id, 'update', 'api', :user, 'Bench Admin', 'bench-admin@example.com', NULL,
            CASE WHEN :closed = 1 THEN '{"state": "closed"}' ELSE '{"state": "open"}' END::jsonb)
    RETURNING *),
  s2 AS (SELECT position, user_id, name, email, slack_workspace_id, slack_channel_id, support_group_id, support_agent_id, msteams_channel_id
    FROM side_conversation_participants WHERE account_id = :account AND side_conversation_id = :sc_id)
SELECT (SELECT coalesce(json_agg(s0), '[]'::json) FROM s0) AS s0, (SELECT coalesce(json_agg(s1), '[]'::json) FROM s1) AS s1,
       (SELECT coalesce(json_agg(s2), '[]'::json) FROM s2) AS s2;
END;
