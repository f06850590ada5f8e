CREATE TABLE "conversation" (
    "id" UUID NOT NULL,
    "user_a" VARCHAR(128) NOT NULL,
    "user_b" VARCHAR(128) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seq" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "conversation_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "conversation_ordered_pair_check" CHECK ("user_a" < "user_b")
);

CREATE UNIQUE INDEX "conversation_user_a_user_b_key" ON "conversation"("user_a", "user_b");
CREATE INDEX "conversation_user_a_activity_idx" ON "conversation"("user_a", "updated_at" DESC, "id" DESC);
CREATE INDEX "conversation_user_b_activity_idx" ON "conversation"("user_b", "updated_at" DESC, "id" DESC);

CREATE TABLE "message" (
    "id" UUID NOT NULL,
    "conversation_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "sender_id" VARCHAR(128) NOT NULL,
    "recipient_id" VARCHAR(128) NOT NULL,
    "text" TEXT NOT NULL,
    "client_message_id" VARCHAR(128),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    "read_at" TIMESTAMPTZ(3),
    CONSTRAINT "message_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "message_seq_positive_check" CHECK ("seq" > 0)
);

CREATE UNIQUE INDEX "message_conversation_seq_key" ON "message"("conversation_id", "seq");
CREATE UNIQUE INDEX "message_sender_client_message_id_key" ON "message"("sender_id", "client_message_id");
-- Partial indexes stay as small as the backlog: catch-up on connect, receipts, unread counts.
CREATE INDEX "message_undelivered_by_recipient_idx" ON "message"("recipient_id", "created_at", "conversation_id", "seq") WHERE "delivered_at" IS NULL;
CREATE INDEX "message_undelivered_by_conversation_idx" ON "message"("conversation_id", "recipient_id", "seq") WHERE "delivered_at" IS NULL;
CREATE INDEX "message_unread_by_conversation_idx" ON "message"("conversation_id", "recipient_id", "seq") WHERE "read_at" IS NULL;

ALTER TABLE "message" ADD CONSTRAINT "message_conversation_id_fkey" FOREIGN KEY ("conversation_id") REFERENCES "conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;
