-- The transactional outbox of the platform events (CONTRACT §8, docs/events.md). Rows are written
-- by the statement that makes the change, only when EVENT_BUS_URL is set, and deleted by the relay
-- once JetStream has acknowledged them.
--
-- "position" is the publication order. Every statement that writes an event of a conversation takes
-- the next position after it has locked (or created) that conversation's row, and holds the lock
-- until it commits: within a conversation, position order is commit order.
CREATE TABLE "outbox_event" (
  "position" BIGSERIAL PRIMARY KEY,
  "id" UUID NOT NULL,
  "conversation_id" UUID NOT NULL,
  "subject" TEXT NOT NULL,
  "payload" JSON NOT NULL,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

-- Inserted and deleted at the rate of the messages: let autovacuum clear the dead rows of published
-- events by count rather than by a fraction of a table that is nearly always empty.
ALTER TABLE "outbox_event" SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000);
