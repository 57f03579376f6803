-- Events list (20): the page, its count, and the page's attachments and deliveries, as the service reads them. Variables: account, ticket, sc.
SELECT * FROM side_conversation_events WHERE account_id = :account AND side_conversation_id = :sc ORDER BY seq LIMIT 100 OFFSET 0;
SELECT (SELECT count(*) FROM side_conversation_events AS e WHERE e.account_id = sc.account_id AND e.side_conversation_id = sc.id) AS count FROM side_conversations AS sc WHERE sc.account_id = :account AND sc.ticket_id = :ticket AND sc.id = :sc;
SELECT * FROM attachments WHERE account_id = :account AND event_id IN (SELECT id FROM side_conversation_events WHERE account_id = :account AND side_conversation_id = :sc);
SELECT * FROM deliveries WHERE account_id = :account AND event_id IN (SELECT id FROM side_conversation_events WHERE account_id = :account AND side_conversation_id = :sc);
