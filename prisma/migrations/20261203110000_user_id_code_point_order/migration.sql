-- The pair order must not depend on the database's collation (CONTRACT §3.4): the service orders
-- the pair by code point, and "C" compares UTF-8 bytes, which is code point order. Under a
-- linguistic collation (en-US: 'alice' < 'Bob') the CHECK refused pairs the service ordered the
-- other way, and the insert answered INTERNAL.
ALTER TABLE "conversation" DROP CONSTRAINT "conversation_ordered_pair_check";

-- Rows stored under the old collation: swap the pairs that "C" orders the other way. The swapped
-- pair cannot exist already, since the old CHECK allowed only one order of each pair.
UPDATE "conversation" SET "user_a" = "user_b", "user_b" = "user_a"
  WHERE "user_a" COLLATE "C" > "user_b" COLLATE "C";

-- Rebuilds the unique pair index and both activity indexes with the new collation.
ALTER TABLE "conversation"
  ALTER COLUMN "user_a" SET DATA TYPE VARCHAR(128) COLLATE "C",
  ALTER COLUMN "user_b" SET DATA TYPE VARCHAR(128) COLLATE "C";

ALTER TABLE "conversation" ADD CONSTRAINT "conversation_ordered_pair_check" CHECK ("user_a" < "user_b");
