/**
 * MySQL / MariaDB store (mysql2/promise pool).
 *
 * users: one multi-row INSERT ... ON DUPLICATE KEY UPDATE per chunk of rows (VALUES() rather
 * than the 8.0.19 row alias, which MariaDB does not parse).
 * orders: one transaction per batch: look up which order ids exist, lock the batch's products
 * (FOR UPDATE, in key order so concurrent consumers cannot deadlock on each other's lock order),
 * decide every order in offset order in memory, insert the new orders with their status, and apply
 * one aggregated, guarded decrement per product. Placeholders everywhere (mysql2 escapes the
 * values client side for query(), which lets one statement carry thousands of rows).
 */
import { Readable } from "node:stream";
import { createPool, type Pool, type PoolConnection } from "mysql2/promise";
import { IngestError } from "../core/errors.ts";
import { log, redactUrl } from "../observability/log.ts";
import { SinkError, describeError, mysqlError } from "./errors.ts";
import { migrateMysql } from "./migrate.ts";
import { chunks, decideOrders, distinct, seedProducts, type OrderRow } from "./orders-logic.ts";
import { DEFAULT_INITIAL_STOCK, type OrderBatchResult, type Store, type StoreOptions } from "./types.ts";
import type { Order, Product, User } from "../core/records.ts";

export interface MysqlSinkOptions extends StoreOptions {
  /** mysql://user:pass@host:3306/database */
  url: string;
  /** Pool size. Default 4. */
  poolSize?: number;
  /** Per-statement timeout, so a silent network (no RST) fails the batch instead of hanging. Default 30 s. */
  queryTimeoutMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** Users and decided orders by LOAD DATA LOCAL INFILE from memory (default) rather than multi-row INSERTs. */
  loadData?: boolean;
}

const USER_COLS = "id, first_name, last_name, email, age, country, city, signup_ts, is_active, score, phone";
const UPSERT_USERS =
  `INSERT INTO users (${USER_COLS}) VALUES ? ON DUPLICATE KEY UPDATE ` +
  USER_COLS.split(", ")
    .slice(1)
    .map((c) => `${c} = VALUES(${c})`)
    .join(", ");
// REPLACE applies the lines in file order (a key repeated in a batch ends with its last value),
// and users has no other unique key, so it is the upsert above in one statement.
const LOAD_USERS =
  `LOAD DATA LOCAL INFILE 'ingest-users.tsv' REPLACE INTO TABLE users CHARACTER SET utf8mb4 ` +
  `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${USER_COLS})`;
const ORDER_COLS = "order_id, customer_id, product_id, quantity, amount, currency, created_at, status, reason, processed_at";
const LOAD_ORDERS =
  `LOAD DATA LOCAL INFILE 'ingest-orders.tsv' INTO TABLE orders CHARACTER SET utf8mb4 ` +
  `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${ORDER_COLS})`;
const PRODUCT_COLS = "product_id, name, price, stock, version, updated_at";

/** Transient conflicts worth an immediate retry of the whole transaction. */
const RACE_CODES = new Set(["ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT", "ER_DUP_ENTRY"]);

/**
 * The users of a batch as LOAD DATA text (tab-separated, one line per user, in batch order),
 * built straight from the records: no per-value SQL escaping. Strings escape only what LOAD
 * DATA's default ESCAPED BY '\\' gives a meaning to; a null phone is \N.
 */
export function usersTsv(users: readonly User[]): string {
  let out = "";
  for (let i = 0; i < users.length; i++) {
    const u = users[i]!;
    out += `${u.id}\t${tsvField(u.first_name)}\t${tsvField(u.last_name)}\t${tsvField(u.email)}\t${u.age}\t${tsvField(u.country)}\t${tsvField(u.city)}\t${u.signup_ts}\t${u.is_active ? 1 : 0}\t${u.score}\t${u.phone === null || u.phone === undefined ? "\\N" : tsvField(u.phone)}\n`;
  }
  return out;
}

const TSV_SPECIAL = /[\t\n\r\\\0]/;
const TSV_SPECIALS = /[\t\n\r\\\0]/g;
const TSV_ESCAPES: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "\0": "\\0" };

/** One string field of LOAD DATA text: most have nothing to escape, so test before replacing. */
export function tsvField(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(TSV_SPECIALS, (c) => TSV_ESCAPES[c]!) : s;
}

/** LOAD DATA LOCAL's file, from memory, as packets of at most 1 MiB (well under max_allowed_packet). */
function infile(text: string): () => Readable {
  return () => {
    const buf = Buffer.from(text, "utf8");
    const parts: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 1 << 20) parts.push(buf.subarray(i, i + (1 << 20)));
    return Readable.from(parts, { objectMode: false });
  };
}

/** Decided orders as LOAD DATA text, columns of ORDER_COLS. */
export function ordersTsv(rows: readonly OrderRow[], now: number): string {
  let out = "";
  for (let i = 0; i < rows.length; i++) {
    const { order: o, status, reason } = rows[i]!;
    out += `${tsvField(o.order_id)}\t${tsvField(o.customer_id)}\t${tsvField(o.product_id)}\t${o.quantity}\t${o.amount}\t${tsvField(o.currency)}\t${o.created_at}\t${status}\t${reason === null ? "\\N" : tsvField(reason)}\t${now}\n`;
  }
  return out;
}

export function userRow(u: User): unknown[] {
  return [u.id, u.first_name, u.last_name, u.email, u.age, u.country, u.city, u.signup_ts, u.is_active ? 1 : 0, u.score, u.phone ?? null];
}

export function toUser(r: Record<string, unknown>): User {
  return {
    id: Number(r.id),
    first_name: String(r.first_name),
    last_name: String(r.last_name),
    email: String(r.email),
    age: Number(r.age),
    country: String(r.country),
    city: String(r.city),
    signup_ts: Number(r.signup_ts),
    is_active: Boolean(Number(r.is_active)),
    score: Number(r.score),
    phone: r.phone === null || r.phone === undefined ? null : String(r.phone),
  };
}

export function toProduct(r: Record<string, unknown>): Product {
  return {
    product_id: String(r.product_id),
    name: String(r.name),
    price: Number(r.price),
    stock: Number(r.stock),
    version: Number(r.version),
    updated_at: Number(r.updated_at),
  };
}

export class MysqlSink implements Store {
  readonly name = "mysql" as const;
  readonly target: string;
  private pool: Pool | undefined;
  private readonly chunkRows: number;
  private readonly timeout: number;
  private loadData: boolean;
  /** The stock decrement through JSON_TABLE (MariaDB, where it was measured); else the CASE form. */
  private jsonTable = false;

  constructor(private readonly opts: MysqlSinkOptions) {
    this.target = redactUrl(opts.url);
    this.chunkRows = opts.chunkRows ?? 2000;
    this.timeout = opts.queryTimeoutMs ?? 30_000;
    this.loadData = opts.loadData ?? true;
    // 11 placeholders per user row; a statement holds at most 65,535.
    if (!(this.chunkRows >= 1 && this.chunkRows <= 5000)) throw new IngestError(`mysql: chunkRows must be 1..5000, got ${this.chunkRows}`);
  }

  async start(): Promise<void> {
    let url: URL;
    try {
      url = new URL(this.opts.url);
    } catch {
      throw new IngestError(`mysql: '${this.target}' is not a URL like mysql://user:pass@host:3306/database`);
    }
    if (url.protocol !== "mysql:") throw new IngestError(`mysql: '${this.target}' must start with mysql://`);
    this.pool = createPool({
      uri: this.opts.url,
      connectionLimit: this.opts.poolSize ?? 4,
      connectTimeout: this.opts.connectTimeoutMs ?? 5000,
      charset: "utf8mb4_unicode_ci",
      decimalNumbers: true,
      supportBigNumbers: true,
      enableKeepAlive: true,
      multipleStatements: false,
    });
    // Without a listener, an idle connection dropping would be an unhandled 'error' event.
    this.pool.on("connection", (c) => c.on("error", (e: Error) => log.warn({ sink: "mysql", err: describeError(e).message }, "mysql connection error")));
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (e) {
      await this.pool.end().catch(() => undefined);
      this.pool = undefined;
      throw new SinkError("mysql", `cannot connect to ${this.target}: ${describeError(e).message}`, { code: describeError(e).code, cause: e });
    }
    try {
      const products = seedProducts(this.opts.productCount, this.opts.initialStock ?? DEFAULT_INITIAL_STOCK);
      await migrateMysql(conn, undefined, async () => {
        // Only missing products are created; existing stock is never reset by a restart.
        for (const part of chunks(products, this.chunkRows)) {
          await conn.query(`INSERT INTO products (${PRODUCT_COLS}) VALUES ? ON DUPLICATE KEY UPDATE product_id = product_id`, [
            part.map((p) => [p.product_id, p.name, p.price, p.stock, p.version, p.updated_at]),
          ]);
        }
      });
    } catch (e) {
      conn.release();
      await this.close();
      if (e instanceof IngestError) throw e;
      throw mysqlError("schema migration", this.target, e);
    }
    try {
      // MySQL 8 ships with local_infile off: then the multi-row INSERTs, as before.
      const [[v]] = (await conn.query("SELECT @@GLOBAL.local_infile AS li, VERSION() AS version")) as unknown as [[{ li: number | string; version: string }]];
      if (this.loadData && Number(v.li) !== 1) {
        this.loadData = false;
        log.info(
          { sink: "mysql", target: this.target },
          "mysql: the server has local_infile off: writing by multi-row INSERT (set local_infile=1 for LOAD DATA LOCAL)",
        );
      }
      this.jsonTable = /mariadb/i.test(v.version);
    } catch (e) {
      conn.release();
      await this.close();
      throw mysqlError("server settings", this.target, e);
    }
    conn.release();
    log.debug({ sink: "mysql", target: this.target, loadData: this.loadData, jsonTable: this.jsonTable }, "mysql sink ready");
  }

  private get p(): Pool {
    if (!this.pool) throw new SinkError("mysql", "not started (call start() first)", { retriable: false });
    return this.pool;
  }

  private q(c: Pool | PoolConnection, sql: string, values?: unknown[]) {
    return c.query({ sql, timeout: this.timeout }, values);
  }

  /** Run fn in a transaction on one connection; a broken connection is destroyed, not returned to the pool. */
  private async tx<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    const c = await this.p.getConnection();
    let broken = false;
    try {
      await this.q(c, "START TRANSACTION");
      const out = await fn(c);
      await this.q(c, "COMMIT");
      return out;
    } catch (e) {
      broken = Boolean((e as { fatal?: boolean }).fatal);
      if (!broken) await this.q(c, "ROLLBACK").catch(() => (broken = true));
      throw e;
    } finally {
      if (broken) c.destroy();
      else c.release();
    }
  }

  async writeUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) return;
    if (this.loadData) return this.loadUsers(users);
    const parts = chunks(users.map(userRow), this.chunkRows);
    try {
      if (parts.length === 1) await this.q(this.p, UPSERT_USERS, [parts[0]]);
      else
        await this.tx(async (c) => {
          for (const part of parts) await this.q(c, UPSERT_USERS, [part]);
        });
    } catch (e) {
      throw mysqlError(`upsert of ${users.length} users`, this.target, e);
    }
  }

  /**
   * One LOAD DATA LOCAL of the batch, in a transaction: LOCAL turns a value the table refuses
   * into a warning (truncated, converted) instead of an error, so any warning rolls the batch
   * back and fails it as the multi-row INSERT's error would have (records.ts bounds every field
   * by the schema, so this is a backstop).
   */
  private async loadUsers(users: readonly User[]): Promise<void> {
    const text = usersTsv(users);
    try {
      await this.tx(async (c) => {
        const [res] = (await c.query({ sql: LOAD_USERS, timeout: this.timeout, infileStreamFactory: infile(text) } as never)) as unknown as [
          { warningStatus: number },
        ];
        if (res.warningStatus > 0) {
          const [w] = (await this.q(c, "SHOW WARNINGS LIMIT 3")) as unknown as [{ Code: number; Message: string }[]];
          throw new SinkError("mysql", `upsert of ${users.length} users refused: ${w.map((x) => `${x.Code} ${x.Message}`).join("; ")}`, {
            retriable: false,
            code: "ER_TRUNCATED_WRONG_VALUE",
          });
        }
      });
    } catch (e) {
      throw mysqlError(`upsert of ${users.length} users`, this.target, e);
    }
  }

  async writeOrders(orders: readonly Order[]): Promise<OrderBatchResult> {
    if (orders.length === 0) return { results: [], touched: [], products: [] };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tx((c) => this.ordersTx(c, orders));
      } catch (e) {
        const code = (e as { code?: string }).code;
        // A concurrent consumer took the same order id or product locks: redo the batch from the top.
        if (attempt < 5 && code && RACE_CODES.has(code)) {
          log.debug({ sink: "mysql", code, attempt }, "order batch conflicted with a concurrent writer; retrying");
          continue;
        }
        throw mysqlError(`write of ${orders.length} orders`, this.target, e);
      }
    }
  }

  private async ordersTx(c: PoolConnection, orders: readonly Order[]): Promise<OrderBatchResult> {
    const existing = new Map<string, string>();
    for (const ids of chunks(distinct(orders.map((o) => o.order_id)), this.chunkRows)) {
      // order_id is VARBINARY (002_order_id_binary.sql): read it back as text.
      const [rows] = (await this.q(c, "SELECT CONVERT(order_id USING utf8mb4) AS order_id, status FROM orders WHERE order_id IN (?)", [ids])) as unknown as [
        { order_id: string; status: string }[],
      ];
      for (const r of rows) existing.set(r.order_id, r.status);
    }
    // Every product of the batch, duplicates' too: a replay after a crash between the SQL commit
    // and the cache write must hand the cache the current rows, or Redis keeps the old stock.
    const productIds = distinct(orders.map((o) => o.product_id)).sort();
    const current = new Map<string, Product>();
    for (const ids of chunks(productIds, this.chunkRows)) {
      const [rows] = (await this.q(c, `SELECT ${PRODUCT_COLS} FROM products WHERE product_id IN (?) ORDER BY product_id FOR UPDATE`, [ids])) as unknown as [
        Record<string, unknown>[],
      ];
      for (const r of rows) current.set(String(r.product_id), toProduct(r));
    }
    const d = decideOrders(orders, existing, new Map([...current].map(([id, p]) => [id, p.stock])));
    const now = Date.now();
    if (this.loadData && d.rows.length > 0) await this.loadOrders(c, d.rows, now);
    else {
      for (const part of chunks(d.rows, this.chunkRows)) {
        const values = part.map(({ order: o, status, reason }) => [
          o.order_id,
          o.customer_id,
          o.product_id,
          o.quantity,
          o.amount,
          o.currency,
          o.created_at,
          status,
          reason,
          now,
        ]);
        await this.q(c, `INSERT INTO orders (${ORDER_COLS}) VALUES ?`, [values]);
      }
    }
    const touched = [...d.decrement.keys()].sort();
    for (const ids of chunks(touched, this.chunkRows)) {
      // One statement per chunk of products; the WHERE guard re-checks stock so it can never go
      // negative even if an engine ignores the CHECK constraint.
      // The decrements as one JSON parameter joined by primary key: a CASE of n branches is
      // evaluated per row (n^2 comparisons), and each placeholder costs client-side escaping.
      let res: { affectedRows: number };
      if (this.jsonTable) {
        const dec = JSON.stringify(ids.map((id) => [id, d.decrement.get(id)!]));
        [res] = (await this.q(
          c,
          `UPDATE products p JOIN JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH '$[0]', q INT PATH '$[1]')) d ON p.product_id = d.id
           SET p.stock = p.stock - d.q, p.version = p.version + 1, p.updated_at = ? WHERE p.stock >= d.q`,
          [dec, now],
        )) as unknown as [{ affectedRows: number }];
      } else {
        const cases = ids.map(() => "WHEN ? THEN ?").join(" ");
        const pairs = ids.flatMap((id) => [id, d.decrement.get(id)!]);
        [res] = (await this.q(
          c,
          `UPDATE products SET stock = stock - (CASE product_id ${cases} END), version = version + 1, updated_at = ?
           WHERE product_id IN (?) AND stock >= (CASE product_id ${cases} END)`,
          [...pairs, now, ids, ...pairs],
        )) as unknown as [{ affectedRows: number }];
      }
      if (res.affectedRows !== ids.length) {
        throw new SinkError("mysql", `stock of ${ids.length - res.affectedRows} product(s) changed under lock; batch rolled back`, {
          code: "ER_LOCK_DEADLOCK",
        });
      }
    }
    const changed = new Set(touched);
    const products = [...current.values()].map((p) =>
      changed.has(p.product_id) ? { ...p, stock: d.stockAfter.get(p.product_id)!, version: p.version + 1, updated_at: now } : p,
    );
    return { results: d.results, touched, products };
  }

  /**
   * The decided orders in one LOAD DATA LOCAL, inside the batch's transaction. LOCAL skips a row
   * whose order_id exists (a concurrent consumer recorded it since our lookup) with a warning
   * instead of failing, which would leave its stock taken: any warning fails the transaction,
   * a duplicate as the race it is (retried from the top), anything else as a data error.
   */
  private async loadOrders(c: PoolConnection, rows: readonly OrderRow[], now: number): Promise<void> {
    const [res] = (await c.query({ sql: LOAD_ORDERS, timeout: this.timeout, infileStreamFactory: infile(ordersTsv(rows, now)) } as never)) as unknown as [
      { warningStatus: number },
    ];
    if (res.warningStatus === 0) return;
    const [w] = (await this.q(c, "SHOW WARNINGS LIMIT 3")) as unknown as [{ Code: number; Message: string }[]];
    const text = w.map((x) => `${x.Code} ${x.Message}`).join("; ");
    if (w.some((x) => x.Code === 1062)) throw new SinkError("mysql", `order id recorded concurrently: ${text}`, { code: "ER_DUP_ENTRY" });
    throw new SinkError("mysql", `write of ${rows.length} orders refused: ${text}`, { retriable: false, code: "ER_TRUNCATED_WRONG_VALUE" });
  }

  async getUser(id: number): Promise<User | null> {
    const [rows] = (await this.q(this.p, `SELECT ${USER_COLS} FROM users WHERE id = ?`, [id])) as unknown as [Record<string, unknown>[]];
    return rows[0] ? toUser(rows[0]) : null;
  }

  async getProduct(id: string): Promise<Product | null> {
    const [rows] = (await this.q(this.p, `SELECT ${PRODUCT_COLS} FROM products WHERE product_id = ?`, [id])) as unknown as [Record<string, unknown>[]];
    return rows[0] ? toProduct(rows[0]) : null;
  }

  async getProducts(ids: readonly string[]): Promise<Product[]> {
    if (ids.length === 0) return [];
    const out: Product[] = [];
    for (const part of chunks(distinct(ids), this.chunkRows)) {
      const [rows] = (await this.q(this.p, `SELECT ${PRODUCT_COLS} FROM products WHERE product_id IN (?)`, [part])) as unknown as [Record<string, unknown>[]];
      for (const r of rows) out.push(toProduct(r));
    }
    return out;
  }

  async counts(): Promise<{ users: number; orders: number; products: number }> {
    const [rows] = (await this.q(
      this.p,
      "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM orders) AS orders, (SELECT COUNT(*) FROM products) AS products",
    )) as unknown as [Record<string, unknown>[]];
    const r = rows[0]!;
    return { users: Number(r.users), orders: Number(r.orders), products: Number(r.products) };
  }

  async ping(): Promise<boolean> {
    if (!this.pool) return false;
    try {
      await this.pool.query({ sql: "SELECT 1", timeout: 2000 });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }
}
