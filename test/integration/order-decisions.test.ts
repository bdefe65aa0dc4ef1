/**
 * How orders are decided, over one table of cases, asked of the decision function and of both
 * SQL stores (through their public writeOrders): the cases pin what a buyer sees, so a store
 * that decides some other way (in SQL, say) is held to the same answers.
 */
import { test, expect, describe, afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decideOrders, chunks, distinct, seedProducts } from "../../src/sinks/orders-logic.ts";
import { SqliteSink } from "../../src/sinks/sqlite.ts";
import { MysqlSink } from "../../src/sinks/mysql.ts";
import type { Order } from "../../src/core/records.ts";
import type { Store } from "../../src/sinks/types.ts";
import { createDb } from "../helpers/stores.ts";

/** [order_id, product_id, quantity], in offset order. */
type In = [string, string, number];

interface Case {
  name: string;
  /** Initial stock of every catalog product (P0001..P0009); P0099 is not in the catalog. */
  stock: number;
  /** Consecutive batches, each decided as one. */
  batches: In[][];
  /** Per batch, per order: "accepted", or "<status>: <reason>". */
  want: string[][];
  /** Stock after the last batch, for the products named. */
  stockAfter: Record<string, number>;
}

const CATALOG = 9;
const UNKNOWN = "P0099";

const CASES: Case[] = [
  {
    name: "exact fit: an order taking the last units is accepted, leaving 0 (breaks if have <= q rejects it)",
    stock: 3,
    batches: [
      [
        ["a", "P0001", 3],
        ["b", "P0001", 1],
      ],
    ],
    want: [["accepted", "rejected: insufficient stock"]],
    stockAfter: { P0001: 0 },
  },
  {
    name: "exact fit after earlier orders of the same batch took part of the stock",
    stock: 5,
    batches: [
      [
        ["a", "P0001", 2],
        ["b", "P0001", 3],
      ],
    ],
    want: [["accepted", "accepted"]],
    stockAfter: { P0001: 0 },
  },
  {
    name: "overdraw by one unit is rejected and takes nothing",
    stock: 3,
    batches: [[["a", "P0001", 4]]],
    want: [["rejected: insufficient stock"]],
    stockAfter: { P0001: 3 },
  },
  {
    name: "offset order: with stock 4, A (3) then B (3) accepts A and rejects B (breaks if decided in any other order)",
    stock: 4,
    batches: [
      [
        ["A", "P0001", 3],
        ["B", "P0001", 3],
      ],
    ],
    want: [["accepted", "rejected: insufficient stock"]],
    stockAfter: { P0001: 1 },
  },
  {
    name: "offset order: a later order that still fits is accepted after a rejected one",
    stock: 4,
    batches: [
      [
        ["A", "P0001", 1],
        ["B", "P0001", 4],
        ["C", "P0001", 3],
      ],
    ],
    want: [["accepted", "rejected: insufficient stock", "accepted"]],
    stockAfter: { P0001: 0 },
  },
  {
    name: "an order id repeated within one batch keeps its first occurrence (product, quantity and decision)",
    stock: 4,
    batches: [
      [
        ["X", "P0001", 1],
        ["X", "P0002", 3],
        ["Y", "P0002", 4],
      ],
    ],
    want: [["accepted", "duplicate: repeated in the same batch", "accepted"]],
    stockAfter: { P0001: 3, P0002: 0 },
  },
  {
    name: "a repeated order id whose first occurrence was rejected stays rejected; the repeat takes nothing",
    stock: 2,
    batches: [
      [
        ["X", "P0001", 5],
        ["X", "P0001", 1],
        ["Z", "P0001", 2],
      ],
    ],
    want: [["rejected: insufficient stock", "duplicate: repeated in the same batch", "accepted"]],
    stockAfter: { P0001: 0 },
  },
  {
    name: "duplicates across batches: an order recorded earlier (accepted or rejected) is never decided again",
    stock: 3,
    batches: [
      [
        ["A", "P0001", 2],
        ["R", "P0001", 9],
      ],
      [
        ["R", "P0001", 1],
        ["A", "P0001", 1],
        ["B", "P0001", 1],
      ],
      [
        ["B", "P0001", 1],
        ["C", "P0001", 1],
      ],
    ],
    want: [
      ["accepted", "rejected: insufficient stock"],
      ["duplicate: already recorded as rejected", "duplicate: already recorded as accepted", "accepted"],
      ["duplicate: already recorded as accepted", "rejected: insufficient stock"],
    ],
    stockAfter: { P0001: 0 },
  },
  {
    name: "many products in one batch: each product's stock is its own, decided in offset order",
    stock: 2,
    batches: [
      [
        ["o1", "P0001", 1],
        ["o2", "P0002", 2],
        ["o3", "P0001", 1],
        ["o4", "P0003", 3],
        ["o5", "P0002", 1],
        ["o6", "P0001", 1],
        ["o7", "P0004", 2],
        ["o8", "P0005", 1],
        ["o9", "P0003", 2],
        ["o10", "P0005", 2],
      ],
    ],
    want: [
      [
        "accepted",
        "accepted",
        "accepted",
        "rejected: insufficient stock",
        "rejected: insufficient stock",
        "rejected: insufficient stock",
        "accepted",
        "accepted",
        "accepted",
        "rejected: insufficient stock",
      ],
    ],
    stockAfter: { P0001: 0, P0002: 0, P0003: 0, P0004: 0, P0005: 1, P0006: 2 },
  },
  {
    name: "an unknown product or a quantity that is not a positive integer is rejected with its reason and takes nothing",
    stock: 2,
    batches: [
      [
        ["u", UNKNOWN, 1],
        ["z", "P0001", 0],
        ["n", "P0001", -1],
        ["ok", "P0001", 2],
      ],
    ],
    want: [["rejected: unknown product", "rejected: invalid quantity", "rejected: invalid quantity", "accepted"]],
    stockAfter: { P0001: 0 },
  },
];

function order([order_id, product_id, quantity]: In, i: number): Order {
  return { order_id, customer_id: `c${i}`, product_id, quantity, amount: 1.5, currency: "EUR", created_at: 1_735_689_600_000 + i };
}

const shown = (r: { status: string; reason?: string }) => (r.status === "accepted" ? "accepted" : `${r.status}: ${r.reason}`);

describe("decideOrders: the decision function itself", () => {
  for (const c of CASES) {
    test(c.name, () => {
      const existing = new Map<string, string>();
      const stock = new Map<string, number>(Array.from({ length: CATALOG }, (_, i) => [`P000${i + 1}`, c.stock]));
      const got: string[][] = [];
      for (const batch of c.batches) {
        const orders = batch.map(order);
        const before = new Map(stock);
        // The stores hand it the stock of the batch's known products only.
        const known = new Map(
          distinct(orders.map((o) => o.product_id))
            .filter((p) => stock.has(p))
            .map((p) => [p, stock.get(p)!]),
        );
        const d = decideOrders(orders, existing, known);
        got.push(d.results.map(shown));
        expect(d.results.map((r) => r.order_id)).toEqual(orders.map((o) => o.order_id));
        // rows: the orders recorded now (first occurrences of new ids), in input order, with their decision.
        const fresh = orders.filter((o, i) => !existing.has(o.order_id) && orders.findIndex((p) => p.order_id === o.order_id) === i);
        expect(d.rows.map((r) => r.order)).toEqual(fresh);
        expect(d.rows.map((r) => (r.status === "accepted" ? "accepted" : `rejected: ${r.reason}`))).toEqual(
          d.results.filter((r) => r.status !== "duplicate").map(shown),
        );
        // decrement: per product, the accepted quantities; stockAfter: what is left of every known product.
        const taken = new Map<string, number>();
        for (const r of d.rows) if (r.status === "accepted") taken.set(r.order.product_id, (taken.get(r.order.product_id) ?? 0) + r.order.quantity);
        expect(Object.fromEntries(d.decrement)).toEqual(Object.fromEntries(taken));
        expect(Object.fromEntries(d.stockAfter)).toEqual(Object.fromEntries([...known].map(([p, s]) => [p, s - (taken.get(p) ?? 0)])));
        for (const r of d.rows) existing.set(r.order.order_id, r.status);
        for (const [p, s] of d.stockAfter) stock.set(p, s);
        for (const [p, s] of stock) expect(s).toBe(before.get(p)! - (taken.get(p) ?? 0));
      }
      expect(got).toEqual(c.want);
      for (const [p, s] of Object.entries(c.stockAfter)) expect({ p, s: stock.get(p) }).toEqual({ p, s });
    });
  }

  test("the input is left as it was: the existing and stock maps are not changed", () => {
    const existing = new Map([["old", "accepted"]]);
    const stock = new Map([["P0001", 2]]);
    decideOrders([order(["old", "P0001", 1], 0), order(["new", "P0001", 2], 1)], existing, stock);
    expect([...existing]).toEqual([["old", "accepted"]]);
    expect([...stock]).toEqual([["P0001", 2]]);
  });
});

const dir = mkdtempSync(join(tmpdir(), "ingest-orders-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run a case through a store's writeOrders, batch by batch, and read the stock back. */
async function throughStore(store: Store, c: Case): Promise<void> {
  await store.start();
  try {
    const got: string[][] = [];
    for (const batch of c.batches) got.push((await store.writeOrders(batch.map(order))).results.map(shown));
    expect(got).toEqual(c.want);
    const after = Object.fromEntries((await store.getProducts(Object.keys(c.stockAfter))).map((p) => [p.product_id, p.stock]));
    expect(after).toEqual(c.stockAfter);
  } finally {
    await store.close();
  }
}

describe("SQLite store: the same cases through writeOrders", () => {
  CASES.forEach((c, i) => {
    test(c.name, () => throughStore(new SqliteSink({ path: join(dir, `case${i}.sqlite`), initialStock: c.stock, productCount: CATALOG }), c));
  });
});

describe("MariaDB store: the same cases through writeOrders", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const db = await createDb("orders_case");
      try {
        await throughStore(new MysqlSink({ url: db.url, initialStock: c.stock, productCount: CATALOG }), c);
      } finally {
        await db.drop();
      }
    });
  }
});

describe("the catalog and the batching helpers", () => {
  test("seedProducts: P0001..P{count}, each with the initial stock, version 0, a price 1.00..200.99", () => {
    const ps = seedProducts(3, 7, 42);
    expect(ps.map((p) => [p.product_id, p.name, p.stock, p.version, p.updated_at])).toEqual([
      ["P0001", "Product 1", 7, 0, 42],
      ["P0002", "Product 2", 7, 0, 42],
      ["P0003", "Product 3", 7, 0, 42],
    ]);
    expect(ps.map((p) => p.price)).toEqual([80.19, 159.38, 38.57]); // (100 + n * 7919 % 20000) / 100
    expect(seedProducts(0, 1)).toEqual([]);
    expect(seedProducts(9999, 0).at(-1)!.product_id).toBe("P9999");
  });

  test("seedProducts refuses a count outside 0..9999 or a stock that is not a non-negative integer", () => {
    for (const n of [-1, 10000, 1.5, NaN]) expect(() => seedProducts(n, 1)).toThrow(`productCount must be 0..9999, got ${n}`);
    for (const s of [-1, 0.5, NaN]) expect(() => seedProducts(1, s)).toThrow(`initialStock must be a non-negative integer, got ${s}`);
  });

  test("chunks: pieces of at most n in order; distinct: first-seen order", () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2], 2)).toEqual([[1, 2]]);
    expect(chunks([], 3)).toEqual([]);
    expect(distinct(["b", "a", "b", "c", "a"])).toEqual(["b", "a", "c"]);
  });
});
