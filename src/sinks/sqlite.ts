import { Database } from "bun:sqlite";
import { migrateSqlite } from "./migrate.ts";
import { decideOrders, distinct, seedProducts } from "./orders-logic.ts";
import { toUser, toProduct } from "./mysql.ts";
import { SinkError } from "./errors.ts";
import { DEFAULT_INITIAL_STOCK, type OrderBatchResult, type Store, type StoreOptions } from "./types.ts";
import type { Order, Product, User } from "../core/records.ts";

export interface SqliteSinkOptions extends StoreOptions {
  path: string;
}

const USER_COLS = "id, first_name, last_name, email, age, country, city, signup_ts, is_active, score, phone";
const PRODUCT_COLS = "product_id, name, price, stock, version, updated_at";

/**
 * The embedded store (bun:sqlite, WAL): the default when no MYSQL_URL is given, with the same
 * semantics as MySQL (the order decisions are shared code): one transaction per batch, orders
 * idempotent on order_id, stock never negative.
 */
export class SqliteSink implements Store {
  readonly name = "sqlite" as const;
  readonly target: string;
  private db: Database | undefined;

  constructor(private readonly opts: SqliteSinkOptions) {
    this.target = `sqlite:${opts.path}`;
  }

  async start(): Promise<void> {
    try {
      this.db = new Database(this.opts.path, { create: true });
      this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
      const products = seedProducts(this.opts.productCount, this.opts.initialStock ?? DEFAULT_INITIAL_STOCK);
      migrateSqlite(this.db, undefined, () => {
        // Only missing products are created; existing stock is never reset by a restart.
        const ins = this.db!.prepare(`INSERT OR IGNORE INTO products (${PRODUCT_COLS}) VALUES (?, ?, ?, ?, ?, ?)`);
        for (const p of products) ins.run(p.product_id, p.name, p.price, p.stock, p.version, p.updated_at);
      });
    } catch (e) {
      throw new SinkError("sqlite", `cannot open ${this.opts.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  private get d(): Database {
    if (!this.db) throw new SinkError("sqlite", "not started (call start() first)", { retriable: false });
    return this.db;
  }

  async writeUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) return;
    const up = this.d.prepare(
      `INSERT INTO users (${USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET ` +
        USER_COLS.split(", ")
          .slice(1)
          .map((c) => `${c} = excluded.${c}`)
          .join(", "),
    );
    this.d.transaction(() => {
      for (const u of users)
        up.run(u.id, u.first_name, u.last_name, u.email, u.age, u.country, u.city, u.signup_ts, u.is_active ? 1 : 0, u.score, u.phone ?? null);
    })();
  }

  async writeOrders(orders: readonly Order[]): Promise<OrderBatchResult> {
    if (orders.length === 0) return { results: [], touched: [], products: [] };
    const db = this.d;
    return db
      .transaction(() => {
        const existing = new Map<string, string>();
        const findOrder = db.prepare("SELECT status FROM orders WHERE order_id = ?");
        for (const id of distinct(orders.map((o) => o.order_id))) {
          const r = findOrder.get(id) as { status: string } | null;
          if (r) existing.set(id, r.status);
        }
        const getProduct = db.prepare(`SELECT ${PRODUCT_COLS} FROM products WHERE product_id = ?`);
        const current = new Map<string, Product>();
        // Every product of the batch, duplicates' too (see MysqlSink.ordersTx).
        for (const id of distinct(orders.map((o) => o.product_id))) {
          const r = getProduct.get(id) as Record<string, unknown> | null;
          if (r) current.set(id, toProduct(r));
        }
        const d = decideOrders(orders, existing, new Map([...current].map(([id, p]) => [id, p.stock])));
        const now = Date.now();
        const ins = db.prepare(
          "INSERT INTO orders (order_id, customer_id, product_id, quantity, amount, currency, created_at, status, reason, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        for (const { order: o, status, reason } of d.rows)
          ins.run(o.order_id, o.customer_id, o.product_id, o.quantity, o.amount, o.currency, o.created_at, status, reason, now);
        const dec = db.prepare("UPDATE products SET stock = stock - ?, version = version + 1, updated_at = ? WHERE product_id = ? AND stock >= ?");
        const touched = [...d.decrement.keys()].sort();
        for (const id of touched) {
          const n = d.decrement.get(id)!;
          if (dec.run(n, now, id, n).changes !== 1) throw new SinkError("sqlite", `stock of ${id} changed during the batch`);
        }
        const changed = new Set(touched);
        const products = [...current.values()].map((p) =>
          changed.has(p.product_id) ? { ...p, stock: d.stockAfter.get(p.product_id)!, version: p.version + 1, updated_at: now } : p,
        );
        return { results: d.results, touched, products };
      })
      .immediate();
  }

  async getUser(id: number): Promise<User | null> {
    const r = this.d.prepare(`SELECT ${USER_COLS} FROM users WHERE id = ?`).get(id) as Record<string, unknown> | null;
    return r ? toUser(r) : null;
  }

  async getProduct(id: string): Promise<Product | null> {
    const r = this.d.prepare(`SELECT ${PRODUCT_COLS} FROM products WHERE product_id = ?`).get(id) as Record<string, unknown> | null;
    return r ? toProduct(r) : null;
  }

  async getProducts(ids: readonly string[]): Promise<Product[]> {
    const out: Product[] = [];
    for (const id of distinct(ids)) {
      const p = await this.getProduct(id);
      if (p) out.push(p);
    }
    return out;
  }

  async counts(): Promise<{ users: number; orders: number; products: number }> {
    const r = this.d
      .prepare("SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM orders) AS orders, (SELECT COUNT(*) FROM products) AS products")
      .get() as Record<string, number>;
    return { users: r.users!, orders: r.orders!, products: r.products! };
  }

  async ping(): Promise<boolean> {
    return this.db !== undefined;
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}
