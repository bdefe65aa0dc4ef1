import { createClient } from "redis";
import { SinkError } from "./errors.ts";
import { redactUrl } from "../observability/log.ts";
import type { Order, OrderBatchResult, Product, Sink, User } from "./types.ts";

function connectClient(url: string) {
  return createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: (n: number) => Math.min(2000, 50 * 2 ** n) } });
}
type RedisClient = ReturnType<typeof connectClient>;

export interface RedisSinkOptions {
  url: string;
  /** Seconds a cached entry lives (0 = no expiry, the default: it is refreshed on every write). */
  ttlSeconds?: number;
}

/**
 * The write-through cache. Keys: `user:{id}` and `product:{id}`, each a JSON string of the row.
 * Users are written in one pipeline per batch; after the SQL store committed an order batch, the
 * touched products are refreshed from the rows it committed (one pipeline), so a read right after
 * sees the new stock. A crash between the SQL commit and this write is repaired by the replay
 * that follows it (nothing is committed to Kafka before both are written).
 */
export class RedisSink implements Sink {
  readonly name = "redis" as const;
  readonly target: string;
  private client: RedisClient | undefined;

  constructor(private readonly opts: RedisSinkOptions) {
    this.target = redactUrl(opts.url);
  }

  async start(): Promise<void> {
    const c = connectClient(this.opts.url);
    // Errors surface on the next command; without a listener node-redis would throw them globally.
    c.on("error", () => {});
    try {
      await c.connect();
      await c.ping();
    } catch (e) {
      await c.disconnect().catch(() => undefined);
      throw new SinkError("redis", `cannot connect to ${this.target}: ${(e as Error).message}`, { cause: e });
    }
    this.client = c;
  }

  private get c() {
    if (!this.client) throw new SinkError("redis", "not started (call start() first)", { retriable: false });
    return this.client;
  }

  private setOpts() {
    return this.opts.ttlSeconds ? { EX: this.opts.ttlSeconds } : undefined;
  }

  async writeUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) return;
    const m = this.c.multi();
    for (const u of users) m.set(`user:${u.id}`, JSON.stringify(u), this.setOpts());
    try {
      await m.execAsPipeline();
    } catch (e) {
      throw new SinkError("redis", `write of ${users.length} users to ${this.target}: ${(e as Error).message}`, { cause: e });
    }
  }

  async writeOrders(orders: readonly Order[], upstream?: OrderBatchResult): Promise<OrderBatchResult> {
    const products = upstream?.products ?? [];
    if (products.length) await this.putProducts(products);
    return upstream ?? { results: orders.map((o) => ({ order_id: o.order_id, status: "unchecked" as const })), touched: [] };
  }

  async putProducts(products: readonly Product[]): Promise<void> {
    const m = this.c.multi();
    for (const p of products) m.set(`product:${p.product_id}`, JSON.stringify(p), this.setOpts());
    try {
      await m.execAsPipeline();
    } catch (e) {
      throw new SinkError("redis", `refresh of ${products.length} products in ${this.target}: ${(e as Error).message}`, { cause: e });
    }
  }

  async getJson<T>(key: string): Promise<T | null> {
    const v = await this.c.get(key);
    return v === null ? null : (JSON.parse(v) as T);
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.c.set(key, JSON.stringify(value), this.setOpts());
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.c.ping()) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.quit().catch(() => undefined);
  }
}
