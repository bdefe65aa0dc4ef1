import { RedisClient } from "bun";
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

/**
 * Bun's built-in client (measured against node-redis on this path: docs/benchmarks-consume.md,
 * "Why the users targets are out of reach"). No offline queue and no automatic reconnect: while
 * Redis is unreachable a command fails at once, so the consumer sees the outage (pause, log,
 * back off) and serve falls through to the store, rather than both waiting; the next command
 * after a failure reconnects (ready()). Bun's own reconnect would retry for ~30 s inside a
 * connect() at start, so a REDIS_URL pointing at nothing would hang instead of failing.
 */
/** After a failed reconnect, commands fail at once for this long before the next attempt. */
const RECONNECT_PAUSE_MS = 1000;

function connectClient(url: string): RedisClient {
  return new RedisClient(url, { enableOfflineQueue: false, autoReconnect: false, connectionTimeout: 5000 });
}

/**
 * Why a TCP connection to the URL's host and port fails (ECONNREFUSED, ENOTFOUND...), or null:
 * Bun's client reports any failure to connect as "Connection closed".
 */
async function tcpReason(url: string): Promise<string | null> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    if (u.protocol.includes("unix")) return null;
    host = u.hostname.replace(/^\[|\]$/g, "");
    port = Number(u.port || 6379);
  } catch {
    return null;
  }
  try {
    const sock = await Bun.connect({ hostname: host, port, socket: { data() {} } });
    sock.end();
    return null;
  } catch (e) {
    const err = e as { code?: string; message: string };
    return `${err.code ?? err.message} ${host}:${port}`;
  }
}

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
  /** A reconnect in progress, shared by every command that finds the connection gone. */
  private connecting: Promise<void> | undefined;
  /** When the last reconnect failed: for a second after it, commands fail at once (no connect wait each). */
  private failedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: RedisSinkOptions) {
    this.target = redactUrl(opts.url);
  }

  async start(): Promise<void> {
    let c: RedisClient | undefined;
    try {
      // Bun's client takes a bare word for a host name: say what was expected instead.
      if (!URL.canParse(this.opts.url)) throw new Error("Invalid URL: expected redis://[user:password@]host[:port][/db] (or rediss://, redis+unix://)");
      c = connectClient(this.opts.url); // throws on a URL it cannot use
      await c.connect();
      await c.send("PING", []);
    } catch (e) {
      c?.close();
      const why = await tcpReason(this.opts.url);
      throw new SinkError("redis", `cannot connect to ${this.target}: ${(e as Error).message}${why ? ` (${why})` : ""}`, { cause: e });
    }
    this.client = c;
  }

  /** The client, connected: after a lost connection the first command to need it reconnects. */
  private async ready(): Promise<RedisClient> {
    const c = this.client;
    if (!c) throw new SinkError("redis", "not started (call start() first)", { retriable: false });
    if (c.connected) return c;
    if (!this.connecting && performance.now() - this.failedAt < RECONNECT_PAUSE_MS) throw new Error("not connected (reconnecting)");
    this.connecting ??= c
      .connect()
      .catch((e) => {
        this.failedAt = performance.now();
        throw e;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    await this.connecting;
    return c;
  }

  private async send(command: string, args: string[]): Promise<unknown> {
    return (await this.ready()).send(command, args);
  }

  async writeUsers(users: readonly User[]): Promise<void> {
    if (users.length === 0) return;
    try {
      const c = await this.ready();
      if (this.opts.ttlSeconds) {
        // MSET has no expiry: one SET ... EX per user, pipelined (sent without waiting for each).
        const ttl = String(this.opts.ttlSeconds);
        await Promise.all(users.map((u) => c.send("SET", [`user:${u.id}`, JSON.stringify(u), "EX", ttl])));
      } else {
        // One MSET per batch: a client's cost is per command and per argument, a server's per
        // key. Keys repeated in the batch end with their last value, as MSET sets in argument order.
        const args: string[] = new Array(2 * users.length);
        for (let i = 0; i < users.length; i++) {
          const u = users[i]!;
          args[2 * i] = `user:${u.id}`;
          args[2 * i + 1] = JSON.stringify(u);
        }
        await c.send("MSET", args);
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
    const args = [PUT_IF_NEWER, String(products.length)];
    for (const p of products) args.push(`product:${p.product_id}`);
    args.push(String(this.opts.ttlSeconds ?? 0));
    for (const p of products) args.push(JSON.stringify(p), String(p.version));
    try {
      await this.send("EVAL", args);
    } catch (e) {
      throw new SinkError("redis", `refresh of ${products.length} products in ${this.target}: ${(e as Error).message}`, { cause: e });
    }
  }

  async getJson<T>(key: string): Promise<T | null> {
    const v = (await this.send("GET", [key])) as string | null;
    return v === null ? null : (JSON.parse(v) as T);
  }

  async putJson(key: string, value: unknown): Promise<void> {
    const args = [key, JSON.stringify(value)];
    if (this.opts.ttlSeconds) args.push("EX", String(this.opts.ttlSeconds));
    await this.send("SET", args);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.send("PING", [])) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    c?.close();
  }
}
