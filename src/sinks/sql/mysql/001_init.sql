-- ingest schema v1 (MySQL 8 / MariaDB 10.5+). Applied once at start by src/sinks/migrate.ts and
-- recorded in schema_migrations; IF NOT EXISTS keeps a re-run after a crash mid-file harmless
-- (MySQL DDL commits implicitly, so a file is not atomic).
-- Timestamps are epoch milliseconds in BIGINT: exact round trip of the Avro timestamp-millis
-- fields, no session time-zone conversion.

CREATE TABLE IF NOT EXISTS users (
  id          BIGINT       NOT NULL PRIMARY KEY,
  first_name  VARCHAR(255) NOT NULL,
  last_name   VARCHAR(255) NOT NULL,
  email       VARCHAR(320) NOT NULL,
  age         INT          NOT NULL,
  country     VARCHAR(64)  NOT NULL,
  city        VARCHAR(255) NOT NULL,
  signup_ts   BIGINT       NOT NULL,
  is_active   BOOLEAN      NOT NULL,
  score       DOUBLE       NOT NULL,
  phone       VARCHAR(64)  NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS products (
  product_id  VARCHAR(64)    NOT NULL PRIMARY KEY,
  name        VARCHAR(255)   NOT NULL,
  price       DECIMAL(12,2)  NOT NULL,
  stock       INT            NOT NULL,
  version     BIGINT         NOT NULL DEFAULT 0,
  updated_at  BIGINT         NOT NULL,
  CONSTRAINT products_stock_nonnegative CHECK (stock >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS orders (
  order_id     VARCHAR(64)   NOT NULL PRIMARY KEY,
  customer_id  VARCHAR(64)   NOT NULL,
  product_id   VARCHAR(64)   NOT NULL,
  quantity     INT           NOT NULL,
  amount       DOUBLE        NOT NULL,
  currency     VARCHAR(8)    NOT NULL,
  created_at   BIGINT        NOT NULL,
  status       VARCHAR(16)   NOT NULL,
  reason       VARCHAR(255)  NULL,
  processed_at BIGINT        NOT NULL,
  CONSTRAINT orders_status_valid CHECK (status IN ('accepted', 'rejected')),
  KEY orders_customer (customer_id),
  KEY orders_product (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
