-- A send batch writes its message.sent events as one outbox row (docs/events.md): the ids of its
-- messages, in the order their events are published, and their number. The relay builds those
-- events from the message rows, which hold everything they carry (a message.sent event's id is its
-- message's id: a message is sent once). The other events keep a row each, with their JSON payload
-- and id. One row per batch and no JSON built in the send statement: a tuple, a primary-key entry
-- and a delete per batch (docs/performance.md).
ALTER TABLE "outbox_event"
  ADD COLUMN "events" INTEGER NOT NULL DEFAULT 1,
  ADD COLUMN "message_ids" UUID[],
  ALTER COLUMN "id" DROP NOT NULL,
  ALTER COLUMN "conversation_id" DROP NOT NULL,
  ALTER COLUMN "payload" DROP NOT NULL,
  ADD CONSTRAINT "outbox_event_one_kind" CHECK (
    ("message_ids" IS NULL AND "payload" IS NOT NULL AND "id" IS NOT NULL)
    OR ("message_ids" IS NOT NULL AND "payload" IS NULL AND "events" = cardinality("message_ids"))
  );
