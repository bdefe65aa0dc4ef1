/**
 * Store-independent parts of the order semantics, so MySQL and SQLite decide exactly alike:
 * a batch is decided in offset order against the stock locked at the start of its transaction,
 * then applied as one aggregated decrement per product.
 */
import type { Order, Product } from "../core/records.ts";
import type { OrderResult } from "./types.ts";
import { PRODUCT_COUNT, productId } from "../core/records.ts";

export const REASON_INSUFFICIENT = "insufficient stock";
export const REASON_UNKNOWN_PRODUCT = "unknown product";
export const REASON_BAD_QUANTITY = "invalid quantity";

export interface OrderRow {
  order: Order;
  status: "accepted" | "rejected";
  reason: string | null;
}

export interface Decision {
  results: OrderResult[];
  /** New orders to insert, in input order. */
  rows: OrderRow[];
  /** product_id -> total quantity accepted in this batch (only products with a change). */
  decrement: Map<string, number>;
  /** product_id -> stock after this batch, for every product looked up. */
  stockAfter: Map<string, number>;
}

/**
 * Decide a batch. `existing` maps order ids already stored to their recorded status; `stock`
 * holds the current stock of the batch's known products (absent = unknown product).
 */
export function decideOrders(orders: readonly Order[], existing: ReadonlyMap<string, string>, stock: ReadonlyMap<string, number>): Decision {
  const results: OrderResult[] = new Array(orders.length);
  const rows: OrderRow[] = [];
  const decrement = new Map<string, number>();
  const stockAfter = new Map(stock);
  const seen = new Set<string>();
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i]!;
    const prior = existing.get(o.order_id);
    if (prior !== undefined) {
      results[i] = { order_id: o.order_id, status: "duplicate", reason: `already recorded as ${prior}` };
      continue;
    }
    if (seen.has(o.order_id)) {
      results[i] = { order_id: o.order_id, status: "duplicate", reason: "repeated in the same batch" };
      continue;
    }
    seen.add(o.order_id);
    let reason: string | null = null;
    const have = stockAfter.get(o.product_id);
    if (!Number.isSafeInteger(o.quantity) || o.quantity <= 0) reason = REASON_BAD_QUANTITY;
    else if (have === undefined) reason = REASON_UNKNOWN_PRODUCT;
    else if (have < o.quantity) reason = REASON_INSUFFICIENT;
    if (reason === null) {
      stockAfter.set(o.product_id, have! - o.quantity);
      decrement.set(o.product_id, (decrement.get(o.product_id) ?? 0) + o.quantity);
      rows.push({ order: o, status: "accepted", reason: null });
      results[i] = { order_id: o.order_id, status: "accepted" };
    } else {
      rows.push({ order: o, status: "rejected", reason });
      results[i] = { order_id: o.order_id, status: "rejected", reason };
    }
  }
  return { results, rows, decrement, stockAfter };
}

/** Distinct values in first-seen order. */
export function distinct<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

/** The seeded catalog: P0001..P{count}, deterministic names and prices. */
export function seedProducts(count = PRODUCT_COUNT, initialStock: number, now = Date.now()): Product[] {
  if (!Number.isSafeInteger(count) || count < 0 || count > 9999) throw new RangeError(`productCount must be 0..9999, got ${count}`);
  if (!Number.isSafeInteger(initialStock) || initialStock < 0) throw new RangeError(`initialStock must be a non-negative integer, got ${initialStock}`);
  const out: Product[] = [];
  for (let n = 1; n <= count; n++) {
    // Prices 1.00..200.99, spread deterministically over the catalog.
    const cents = 100 + ((n * 7919) % 20000);
    out.push({ product_id: productId(n), name: `Product ${n}`, price: cents / 100, stock: initialStock, version: 0, updated_at: now });
  }
  return out;
}

/** Split into chunks of at most n. */
export function chunks<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
