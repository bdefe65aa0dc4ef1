-- order_id compares byte for byte, as Kafka, SQLite and the consumer's own duplicate check do.
-- Under 001's utf8mb4_unicode_ci, ids differing only in case, accents or trailing spaces
-- ('A1' and 'a1', 'café' and 'cafe') were one primary key: the second order's INSERT failed
-- with ER_DUP_ENTRY on every retry and the consumer stopped making progress. 256 bytes hold
-- the 64 UTF-16 units records.ts allows (at most 3 bytes each in UTF-8).
ALTER TABLE orders MODIFY order_id VARBINARY(256) NOT NULL;
