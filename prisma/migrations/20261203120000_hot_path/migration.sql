-- The hot path's tables (docs/design.md, "Storage"): fewer indexes to maintain per message, and
-- receipts and unread counts kept as per-participant watermarks and counters on the conversation
-- row, which is updated in place (HOT: none of these columns is indexed).

-- Per participant (a = user_a, b = user_b): every message addressed to them with seq <= *_delivered_seq
-- is marked delivered, and with seq <= *_read_seq read; *_unread counts their messages not read yet.
ALTER TABLE "conversation"
  ADD COLUMN "a_delivered_seq" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "b_delivered_seq" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "a_read_seq" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "b_read_seq" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "a_unread" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "b_unread" INTEGER NOT NULL DEFAULT 0;

-- Watermarks of existing data: the newest seq below which everything addressed to the participant
-- is marked (receipts only ever mark a prefix, so that is the highest marked seq).
UPDATE "conversation" c SET
  "a_delivered_seq" = COALESCE((SELECT max(m."seq") FROM "message" m WHERE m."conversation_id" = c."id" AND m."recipient_id" = c."user_a" AND m."delivered_at" IS NOT NULL), 0),
  "b_delivered_seq" = COALESCE((SELECT max(m."seq") FROM "message" m WHERE m."conversation_id" = c."id" AND m."recipient_id" = c."user_b" AND m."delivered_at" IS NOT NULL), 0),
  "a_read_seq" = COALESCE((SELECT max(m."seq") FROM "message" m WHERE m."conversation_id" = c."id" AND m."recipient_id" = c."user_a" AND m."read_at" IS NOT NULL), 0),
  "b_read_seq" = COALESCE((SELECT max(m."seq") FROM "message" m WHERE m."conversation_id" = c."id" AND m."recipient_id" = c."user_b" AND m."read_at" IS NOT NULL), 0),
  "a_unread" = (SELECT count(*) FROM "message" m WHERE m."conversation_id" = c."id" AND m."recipient_id" = c."user_a" AND m."read_at" IS NULL),
  "b_unread" = (SELECT count(*) FROM "message" m WHERE m."conversation_id" = c."id" AND m."recipient_id" = c."user_b" AND m."read_at" IS NULL);

-- Receipts now walk (conversation_id, seq) from the watermark, and unread counts are counters:
-- these two indexes took an entry per message and made every receipt update a non-HOT one.
DROP INDEX "message_undelivered_by_conversation_idx";
DROP INDEX "message_unread_by_conversation_idx";

-- Messages sent without a clientMessageId need no idempotency entry.
DROP INDEX "message_sender_client_message_id_key";
CREATE UNIQUE INDEX "message_sender_client_message_id_key" ON "message"("sender_id", "client_message_id") WHERE "client_message_id" IS NOT NULL;

-- The read mark is updated in place (HOT) when delivered_at is already set; leave room for it.
ALTER TABLE "message" SET (fillfactor = 90);
