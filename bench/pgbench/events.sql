-- Events list (20): the page, its count, and the page's attachments and deliveries, as the service reads them
-- (the page's 20 event ids sent as values, not a subquery). Variables: account, ticket, sc, e1..e20.
SELECT * FROM side_conversation_events WHERE account_id = :account AND side_conversation_id = :sc ORDER BY seq LIMIT 100 OFFSET 0;
SELECT (SELECT count(*) FROM side_conversation_events AS e WHERE e.account_id = sc.account_id AND e.side_conversation_id = sc.id) AS count FROM side_conversations AS sc WHERE sc.account_id = :account AND sc.ticket_id = :ticket AND sc.id = :sc;
SELECT * FROM attachments WHERE account_id = :account AND event_id IN (:e1, :e2, :e3, :e4, :e5, :e6, :e7, :e8, :e9, :e10, :e11, :e12, :e13, :e14, :e15, :e16, :e17, :e18, :e19, :e20) ORDER BY created_at, id;
SELECT * FROM deliveries WHERE account_id = :account AND event_id IN (:e1, :e2, :e3, :e4, :e5, :e6, :e7, :e8, :e9, :e10, :e11, :e12, :e13, :e14, :e15, :e16, :e17, :e18, :e19, :e20) ORDER BY id;
