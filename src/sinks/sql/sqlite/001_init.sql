-- ingest schema v1 (SQLite). Applied once at start by src/sinks/migrate.ts inside one
-- BEGIN IMMEDIATE transaction together with its schema_migrations row.
-- Timestamps are epoch milliseconds (INTEGER), as in the MySQL schema.

CREATE TABLE IF NOT EXISTS users (
  id          INTEGER NOT NULL PRIMARY KEY,
  first_name  TEXT    NOT NULL,
  last_name   TEXT    NOT NULL,
  email       TEXT    NOT NULL,
  age         INTEGER NOT NULL,
  country     TEXT    NOT NULL,
  city        TEXT    NOT NULL,
  signup_ts   INTEGER NOT NULL,
  is_active   INTEGER NOT NULL CHECK (is_active IN (0, 1)),
  score       REAL    NOT NULL,
  phone       TEXT    NULL
);

CREATE TABLE IF NOT EXISTS products (
  product_id  TEXT    NOT NULL PRIMARY KEY,
  name        TEXT    NOT NULL,
  price       REAL    NOT NULL,
  stock       INTEGER NOT NULL CHECK (stock >= 0),
  version     INTEGER NOT NULL DEFAULT 0,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS orders (
  order_id     TEXT    NOT NULL PRIMARY KEY,
  customer_id  TEXT    NOT NULL,
  product_id   TEXT    NOT NULL,
  quantity     INTEGER NOT NULL,
  amount       REAL    NOT NULL,
  currency     TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  status       TEXT    NOT NULL CHECK (status IN ('accepted', 'rejected')),
  reason       TEXT    NULL,
  processed_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE INDEX IF NOT EXISTS orders_product ON orders (product_id);
