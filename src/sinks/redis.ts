import { createClient } from "redis";
import { SinkError } from "./errors.ts";
import { redactUrl } from "../observability/log.ts";
import type { Order, Product, User } from "../core/records.ts";
import type { OrderBatchResult, Sink } from "./types.ts";

/** KEYS: product keys; ARGV: ttl seconds (0 = none), then value and version per key. */
const PUT_IF_NEWER = `
local ttl = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  local v = tonumber(ARGV[2 * i + 1])
  local cur = redis.call('GET', k)
  local older = false
  if cur then
    local ok, d = pcall(cjson.decode, cur)
    if ok and type(d) == 'table' and tonumber(d.version) and tonumber(d.version) > v then older = true end
  end
  if not older then
    if ttl > 0 then redis.call('SET', k, ARGV[2 * i], 'EX', ttl) else redis.call('SET', k, ARGV[2 * i]) end
  end
end
return 0
`;

function connectClient(url: string, giveUp: () => boolean) {
  // No offline queue: while Redis is unreachable a command fails at once instead of waiting for
  // the reconnect, so the consumer sees the outage (pause, log, back off) and serve falls through
  // to the store, rather than both hanging silently. While starting (giveUp) the first failure
  // ends connect(): otherwise it retries forever and a REDIS_URL pointing at nothing hangs.
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5000, reconnectStrategy: (n: number, cause: Error) => (giveUp() ? cause : Math.min(2000, 50 * 2 ** n)) },
  });
}
type RedisClient = ReturnType<typeof connectClient>;

export interface RedisSinkOptions {
  url: string;
  /** Seconds a cached entry lives (0 = no expiry, the default: it is refreshed on every write). */
  ttlSeconds?: number;
}

/**
 * The write-through cache. Keys: `user:{id}` and `product:{id}`, each a JSON string of the row.
 * Users are written in one MSET per batch (a pipeline of SET ... EX with a TTL); after the SQL store committed an order batch, the
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
    let starting = true;
    let c: RedisClient | undefined;
    try {
      c = connectClient(this.opts.url, () => starting); // throws on a URL it cannot parse
      // Errors surface on the next command; without a listener node-redis would throw them globally.
      c.on("error", () => {});
      await c.connect();
      await c.ping();
    } catch (e) {
      await c?.disconnect().catch(() => undefined);
      throw new SinkError("redis", `cannot connect to ${this.target}: ${(e as Error).message}`, { cause: e });
    } finally {
      starting = false;
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
    try {
      if (this.opts.ttlSeconds) {
        // MSET has no expiry: one SET ... EX per user, pipelined.
        const m = this.c.multi();
        for (const u of users) m.set(`user:${u.id}`, JSON.stringify(u), this.setOpts());
        await m.execAsPipeline();
      } else {
        // One MSET per batch: node-redis's cost is per command (encoding, queueing, a promise
        // each), not per argument. Keys repeated in the batch end with their last value, as
        // MSET sets in argument order.
        const args: string[] = new Array(1 + 2 * users.length);
        args[0] = "MSET";
        for (let i = 0; i < users.length; i++) {
          const u = users[i]!;
          args[1 + 2 * i] = `user:${u.id}`;
          args[2 + 2 * i] = JSON.stringify(u);
        }
        await this.c.sendCommand(args);
      }
    } catch (e) {
      throw new SinkError("redis", `write of ${users.length} users to ${this.target}: ${(e as Error).message}`, { cause: e });
    }
  }

  async writeOrders(orders: readonly Order[], upstream?: OrderBatchResult): Promise<OrderBatchResult> {
    const products = upstream?.products ?? [];
    if (products.length) await this.putProducts(products);
    return upstream ?? { results: orders.map((o) => ({ order_id: o.order_id, status: "unchecked" as const })), touched: [] };
  }

  /**
   * Set each product unless the cache already holds a newer version of it: lanes and consumers
   * commit to SQL in one order but reach Redis in another, and a late, older write must not win.
   */
  async putProducts(products: readonly Product[]): Promise<void> {
    if (products.length === 0) return;
    const args = [String(this.opts.ttlSeconds ?? 0)];
    for (const p of products) args.push(JSON.stringify(p), String(p.version));
    try {
      await this.c.eval(PUT_IF_NEWER, { keys: products.map((p) => `product:${p.product_id}`), arguments: args });
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
