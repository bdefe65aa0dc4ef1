/**
 * The contract between the consumer / HTTP server and the stores they write to.
 *
 * The consumer hands each active sink one batch of decoded records at a time. A batch write
 * either succeeds as a whole or throws; the consumer then retries the same batch, so every write
 * is idempotent (users are upserts keyed by id, orders are keyed by order_id and an order already
 * recorded is reported as a duplicate and never applied to stock again).
 */
import type { User, Order, Product } from "../core/records.ts";

/**
 * accepted / rejected: decided now and recorded with that status (a rejected order is stored
 * too, with its reason). duplicate: the order_id was already recorded (by an earlier attempt of
 * this batch, another consumer, or earlier in the same batch) and nothing was applied.
 * unchecked: no stock-keeping store is active (e.g. --sink stdout), nothing was decided.
 */
export type OrderStatus = "accepted" | "rejected" | "duplicate" | "unchecked";

export interface OrderResult {
  order_id: string;
  status: OrderStatus;
  /** Why rejected ('insufficient stock', 'unknown product', ...), or the recorded status of a duplicate. */
  reason?: string;
}

export interface OrderBatchResult {
  /** One per input order, in input order. */
  results: OrderResult[];
  /** Distinct product ids whose stock this batch changed. */
  touched: string[];
  /**
   * Current rows of every product the batch names (changed or not) as committed by this batch
   * (read under the transaction's row locks), so a cache can refresh without another query, and a
   * replayed batch of duplicates still repairs a cache write lost to a crash. Only stores fill it.
   */
  products?: Product[];
}

export type SinkName = "mysql" | "redis" | "sqlite" | "stdout" | "none";
export const SINK_NAMES: readonly SinkName[] = ["mysql", "redis", "sqlite", "stdout", "none"];

export interface Sink {
  readonly name: SinkName;
  /**
   * Where it writes, safe to log (passwords redacted), e.g. "mysql://root:***@db:3306/app".
   */
  readonly target: string;
  /** Connect, check reachability, apply migrations; throws IngestError naming the store and target. */
  start(): Promise<void>;
  /** Idempotent upsert of a batch; resolves only when the whole batch is durable in this sink. */
  writeUsers(users: readonly User[]): Promise<void>;
  /**
   * Idempotent write of a batch of orders. `upstream` is the result of the authoritative store
   * for this same batch when one ran first (a cache uses its committed product rows).
   */
  writeOrders(orders: readonly Order[], upstream?: OrderBatchResult): Promise<OrderBatchResult>;
  /** --format raw: values as received, undecoded (only sinks that can take bytes have it). */
  writeRaw?(values: RawValues): Promise<void>;
  /** True when the store answers now (used by health checks); never throws. */
  ping(): Promise<boolean>;
  /** Release connections; safe to call twice. */
  close(): Promise<void>;
}

/** A SQL store (MySQL or SQLite): decides orders against stock and answers reads. */
export interface Store extends Sink {
  readonly name: "mysql" | "sqlite";
  getUser(id: number): Promise<User | null>;
  getProduct(id: string): Promise<Product | null>;
  /** Current rows of these products, in one query; unknown ids are left out. */
  getProducts(ids: readonly string[]): Promise<Product[]>;
  /** Numbers of rows, for tests, health and the end-of-run summary. */
  counts(): Promise<{ users: number; orders: number; products: number }>;
}

/** Options shared by the SQL stores. */
export interface StoreOptions {
  /** Stock given to each seeded product when it is first created (never reset later). Default 1,000,000. */
  initialStock?: number;
  /** Products P0001..P{count} are seeded when missing. Default 1000. */
  productCount?: number;
  /** Rows per multi-row INSERT statement. Default 2000. */
  chunkRows?: number;
}

export const DEFAULT_INITIAL_STOCK = 1_000_000;

/**
 * --format raw: a sub-batch's values as byte ranges of the fetched batch's one buffer, in order
 * (no view object per record); a null value has length -1.
 */
export class RawValues {
  readonly start: number[] = [];
  readonly len: number[] = [];
  constructor(readonly data: Uint8Array) {}
  get length(): number {
    return this.start.length;
  }
}
