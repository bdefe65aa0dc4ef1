/**
 * Consumer faults: a store (MariaDB, Redis) cut off mid-run through a TCP proxy this test owns,
 * then restored. The consumer must log the outage once, pause, resume, and end with every record
 * exactly once, stock consistent, the cache equal to the store, and its commits never ahead of
 * the stored rows while it runs.
 */
import { test, expect, beforeAll, afterAll } from "bun:test";
import { startBroker, uniqueName, FAST_GROUP_PROPS, type TestBroker } from "../helpers/broker.ts";
import { ingestArgv, spawnIngest } from "../helpers/cli.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import {
  checkStores,
  claimRedisDb,
  committedAheadOfStored,
  createDb,
  groupLag,
  makeDataset,
  orderIdPositions,
  produceLines,
  recordPositions,
  topicKeys,
  MYSQL,
  REDIS,
} from "../helpers/stores.ts";

const fast = Object.entries(FAST_GROUP_PROPS).flatMap(([k, v]) => ["-X", `${k}=${v}`]);
const STOCK = 40; // small, so stock runs out and some orders are rejected
const USERS = 1500;
const ORDERS = 4500;
let broker: TestBroker;

beforeAll(() => {
  broker = startBroker({ brokers: 3 });
});
afterAll(() => broker.stop());

test("the TCP proxy carries 20 MB each way under backpressure, and cut() drops connections until restore()", async () => {
  const proxy = await startTcpProxy(REDIS.host, REDIS.port);
  const r = await claimRedisDb();
  const { createClient } = await import("redis");
  const c = createClient({ url: `redis://${proxy.address}/${r.db}`, socket: { reconnectStrategy: () => 100 } });
  c.on("error", () => {});
  try {
    await c.connect();
    const big = Buffer.alloc(20_000_000, "ab").toString();
    await c.set("big", big);
    expect(await c.get("big")).toBe(big);
    expect(proxy.counters.bytesUp).toBeGreaterThan(20_000_000);
    expect(proxy.counters.bytesDown).toBeGreaterThan(20_000_000);
    proxy.cut();
    expect(proxy.counters.killed).toBe(1);
    await expect(c.get("big")).rejects.toThrow();
    await Bun.sleep(300);
    expect(proxy.counters.refused).toBeGreaterThan(0);
    proxy.restore();
    for (let i = 0; i < 50 && !c.isReady; i++) await Bun.sleep(100);
    expect((await c.get("big"))?.length).toBe(big.length);
  } finally {
    await c.quit().catch(() => undefined);
    proxy.close();
    await r.drop();
  }
}, 30_000);

/**
 * Run one consumer over users+orders (poison every 1,000) with `store` reached through a proxy,
 * cut it once rows are flowing, sample commits-vs-rows during the outage, restore, and return
 * what the tests check.
 */
async function outageRun(store: "mysql" | "redis") {
  const db = await createDb("reltest");
  const redis = await claimRedisDb();
  const proxy = await startTcpProxy(store === "mysql" ? MYSQL.host : REDIS.host, store === "mysql" ? MYSQL.port : REDIS.port);
  try {
    const ds = makeDataset({ users: USERS, orders: ORDERS, poisonEvery: 1000, seed: store === "mysql" ? 1 : 2 });
    const users = uniqueName("users");
    const orders = uniqueName("orders");
    broker.createTopic(users, 4);
    broker.createTopic(orders, 4);
    await produceLines(broker.bootstrap, users, ds.usersLines);
    await produceLines(broker.bootstrap, orders, ds.ordersLines);
    const total = ds.usersLines.length + ds.ordersLines.length;
    const positions = await recordPositions(broker.bootstrap, [users, orders]);
    const orderIds = await orderIdPositions(broker.bootstrap, orders);
    const kinds = new Map<string, "users" | "orders">([
      [users, "users"],
      [orders, "orders"],
    ]);
    const group = uniqueName("g");
    const env = {
      MYSQL_URL: store === "mysql" ? `mysql://root@${proxy.address}/${db.name}` : db.url,
      REDIS_URL: store === "redis" ? `redis://${proxy.address}/${redis.db}` : redis.url,
      LOG_LEVEL: "info",
    };
    // Small batches and transactions (merged, the queued orders would go in as one) and two
    // lanes: slow enough that the cut lands mid-run.
    const p = spawnIngest(
      [
        "consume",
        "--group",
        group,
        "--topics",
        `${users},${orders}`,
        "--sink",
        "mysql,redis",
        "--workers",
        "2",
        "--batch-size",
        "150",
        "--max-write-records",
        "150",
        "--commit-interval-ms",
        "100",
        "--initial-stock",
        String(STOCK),
        "--max-messages",
        String(total),
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { env },
    );
    const stderr = new Response(p.stderr).text();
    const stored = async () => {
      const [[r]] = (await db.conn.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'orders'", [
        db.name,
      ])) as unknown as [{ n: number }[]];
      if (!Number(r!.n)) return 0;
      const [[o]] = (await db.conn.query("SELECT COUNT(*) AS n FROM orders")) as unknown as [{ n: number }[]];
      return Number(o!.n);
    };
    for (let i = 0; i < 300 && (await stored()) < 1000; i++) await Bun.sleep(50);
    const before = await stored();
    proxy.cut();
    const samples: number[] = [];
    // Longer than max.poll.interval.ms (7 s): a consumer that stopped polling while paused would
    // drop out of the group and every later commit would fail.
    const t0 = performance.now();
    while (performance.now() - t0 < 8000) {
      await Bun.sleep(400);
      const lag = await groupLag(ingestArgv, broker.bootstrap, group, [users, orders]);
      samples.push(await committedAheadOfStored(lag, positions, orderIds, db.conn, kinds));
    }
    const duringCut = await stored();
    const killed = proxy.counters.killed;
    proxy.restore();
    const timer = setTimeout(() => p.kill("SIGKILL"), 40_000);
    const code = await p.exited;
    clearTimeout(timer);
    const log = await stderr;
    const check = await checkStores(db.conn, ds, STOCK, redis.client);
    const lag = await groupLag(ingestArgv, broker.bootstrap, group, [users, orders]);
    const dlq = [...(await topicKeys(broker.bootstrap, `${users}.dlq`)), ...(await topicKeys(broker.bootstrap, `${orders}.dlq`))];
    return { code, log, check, lag, dlq, ds, before, duringCut, samples, killed, total };
  } finally {
    proxy.close();
    await redis.drop();
    await db.drop();
  }
}

function expectExact(r: Awaited<ReturnType<typeof outageRun>>) {
  expect(r.code).toBe(0);
  expect(r.killed).toBeGreaterThan(0); // the cut really dropped live connections
  expect(r.before).toBeLessThan(ORDERS); // and it came mid-run
  // Exactly once in MySQL, stock consistent, Redis equal to MySQL.
  expect(r.check).toMatchObject({
    users: USERS,
    distinctUsers: USERS,
    orders: ORDERS,
    distinctOrders: ORDERS,
    lostUsers: 0,
    lostOrders: 0,
    duplicated: 0,
    stockBad: 0,
    redisMismatch: 0,
  });
  expect(r.check.rejected).toBeGreaterThan(0);
  // The DLQ holds exactly the poison records.
  expect(r.dlq.sort()).toEqual([...r.ds.poisonKeys].sort());
  // Never ahead while running; at the end committed == high watermark everywhere.
  expect(r.samples.every((n) => n === 0)).toBe(true);
  expect(r.lag.total_lag).toBe(0);
  for (const p of r.lag.partitions) expect(p.committed).toBe(p.high);
  // Logged once per state change, not per message.
  const lines = r.log.split("\n");
  expect(lines.filter((l) => l.includes("a store failed; pausing")).length).toBe(1);
  expect(lines.filter((l) => l.includes("stores answer again: resuming")).length).toBe(1);
}

test("MariaDB cut off mid-run, then restored: the consumer pauses, resumes, nothing lost or doubled", async () => {
  const r = await outageRun("mysql");
  // While MariaDB was unreachable nothing could be stored.
  expect(r.duringCut).toBeLessThan(ORDERS);
  expectExact(r);
}, 60_000);

test("Redis cut off mid-run, then restored: the cache ends equal to the store", async () => {
  const r = await outageRun("redis");
  expectExact(r);
}, 60_000);

test("the Redis sink while Redis is cut off: writes fail at once (no hang, no queue), and the first write after it is back reconnects", async () => {
  const { RedisSink } = await import("../../src/sinks/redis.ts");
  const { SinkError } = await import("../../src/sinks/errors.ts");
  const proxy = await startTcpProxy(REDIS.host, REDIS.port);
  const r = await claimRedisDb();
  const sink = new RedisSink({ url: `redis://${proxy.address}/${r.db}` });
  const user = (id: number) => ({
    id,
    first_name: "A",
    last_name: "B",
    email: `u${id}@x.org`,
    age: 30,
    country: "FR",
    city: "Paris",
    signup_ts: 1,
    is_active: true,
    score: 1.5,
    phone: null,
  });
  try {
    await sink.start();
    await sink.writeUsers([user(1)]);
    proxy.cut();
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const err = await sink.writeUsers([user(2)]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SinkError);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(await sink.ping()).toBe(false);
    }
    expect(await r.client.get("user:2")).toBeNull();
    proxy.restore();
    // Retried as the consumer does (it backs off from 50 ms): within a few seconds it is back.
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      ok = await sink.writeUsers([user(2)]).then(
        () => true,
        () => false,
      );
      if (!ok) await Bun.sleep(100);
    }
    expect(ok).toBe(true);
    expect(JSON.parse((await r.client.get("user:2"))!)).toMatchObject({ id: 2, email: "u2@x.org" });
    expect(await sink.ping()).toBe(true);
  } finally {
    await sink.close();
    proxy.close();
    await r.drop();
  }
}, 30_000);

test("the cache keeps the newest product version when an older write arrives late", async () => {
  const { RedisSink } = await import("../../src/sinks/redis.ts");
  const r = await claimRedisDb();
  const sink = new RedisSink({ url: r.url });
  try {
    await sink.start();
    const p = { product_id: "P0001", name: "Product 1", price: 1, stock: 5, version: 7, updated_at: 1 };
    await sink.putProducts([p]);
    await sink.putProducts([{ ...p, stock: 9, version: 6 }]); // committed earlier, arrived later
    expect(JSON.parse((await r.client.get("product:P0001"))!)).toMatchObject({ stock: 5, version: 7 });
    await sink.putProducts([{ ...p, stock: 3, version: 8 }]);
    expect(JSON.parse((await r.client.get("product:P0001"))!)).toMatchObject({ stock: 3, version: 8 });
  } finally {
    await sink.close();
    await r.drop();
  }
});

test("a replayed order batch (all duplicates) still hands the cache its products' current rows", async () => {
  const { MysqlSink } = await import("../../src/sinks/mysql.ts");
  const db = await createDb("reltest");
  const sink = new MysqlSink({ url: db.url, initialStock: STOCK });
  try {
    await sink.start();
    const orders = [
      { order_id: "a", customer_id: "1", product_id: "P0002", quantity: 2, amount: 1, currency: "EUR", created_at: 1 },
      { order_id: "b", customer_id: "1", product_id: "P0003", quantity: 1, amount: 1, currency: "EUR", created_at: 2 },
    ];
    const first = await sink.writeOrders(orders);
    // A crash after the SQL commit and before the Redis write: the replay sees only duplicates.
    const again = await sink.writeOrders(orders);
    expect(again.results.map((x) => x.status)).toEqual(["duplicate", "duplicate"]);
    expect(again.touched).toEqual([]);
    const byId = (ps: { product_id: string; stock: number; version: number }[] = []) => Object.fromEntries(ps.map((p) => [p.product_id, [p.stock, p.version]]));
    expect(byId(again.products)).toEqual(byId(first.products));
    expect(byId(again.products)).toEqual({ P0002: [STOCK - 2, 1], P0003: [STOCK - 1, 1] });
  } finally {
    await sink.close();
    await db.drop();
  }
});
