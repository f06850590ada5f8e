-- A send batch writes its message.sent events as one outbox row (docs/events.md): "payload" is then
-- the JSON array of the batch's events, in the order they are published, and "events" their number;
-- such a row has no single event id or conversation. The other events keep a row each, with the
-- event as the payload. One row per batch instead of one per message: a tuple, a primary-key entry
-- and a delete per batch, and a sixth of the WAL (docs/performance.md).
ALTER TABLE "outbox_event"
  ADD COLUMN "events" INTEGER NOT NULL DEFAULT 1,
  ALTER COLUMN "id" DROP NOT NULL,
  ALTER COLUMN "conversation_id" DROP NOT NULL;
