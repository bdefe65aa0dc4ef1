/**
 * The bulk write paths of the sinks against the real stores: users through LOAD DATA LOCAL
 * (tsvField/usersTsv escaping) and through one MSET per batch in Redis, byte for byte.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { MysqlSink, tsvField, usersTsv } from "../../src/sinks/mysql.ts";
import { RedisSink } from "../../src/sinks/redis.ts";
import type { User } from "../../src/core/records.ts";
import { claimRedisDb, createDb, type TestDb, type TestRedis } from "../helpers/stores.ts";

let db: TestDb;
let redis: TestRedis;
let mysql: MysqlSink;
let cache: RedisSink;

beforeAll(async () => {
  db = await createDb("sinkw");
  redis = await claimRedisDb();
  mysql = new MysqlSink({ url: db.url, productCount: 3 });
  await mysql.start();
  cache = new RedisSink({ url: redis.url });
  await cache.start();
});

afterAll(async () => {
  await mysql?.close();
  await cache?.close();
  await db?.drop();
  await redis?.drop();
});

const base: User = {
  id: 1,
  first_name: "A",
  last_name: "B",
  email: "a@b.c",
  age: 30,
  country: "FR",
  city: "Paris",
  signup_ts: 1_700_000_000_000,
  is_active: true,
  score: 1.5,
  phone: null,
};

// Every character LOAD DATA gives a meaning to, the text of its NULL marker, 4-byte UTF-8, and the edges (empty, only specials).
const nasty: User[] = [
  { ...base, id: 1, first_name: "tab\there", last_name: "new\nline", email: "back\\slash@x", city: "cr\r\nlf", phone: "\\N" },
  { ...base, id: 2, first_name: "", last_name: "\\", email: "nul\u0000byte@x", country: "\t", city: "Zoë 東京 😀 \u{1F9EA}", phone: "" },
  {
    ...base,
    id: 3,
    first_name: "\\t\\n literal",
    last_name: "'quote\" `tick`",
    email: "e@x",
    city: "a\\\tb\\\nc\\",
    phone: "NULL",
    is_active: false,
    score: -0.000123456789,
    age: -2147483648,
  },
  {
    ...base,
    id: Number.MAX_SAFE_INTEGER,
    first_name: "\n",
    last_name: "\t\t",
    email: "\\\\",
    score: 1.7976931348623157e308,
    signup_ts: -1,
    age: 2147483647,
    phone: "+1-555-0000",
  },
];

test("tsvField escapes exactly tab, newline, carriage return, backslash and NUL", () => {
  expect(tsvField("plain é 😀")).toBe("plain é 😀");
  expect(tsvField("a\tb\nc\rd\\e\u0000f")).toBe("a\\tb\\nc\\rd\\\\e\\0f");
  expect(usersTsv([{ ...base, phone: null }])).toBe("1\tA\tB\ta@b.c\t30\tFR\tParis\t1700000000000\t1\t1.5\t\\N\n");
  expect(usersTsv([{ ...base, phone: "\\N" }])).toEndWith("\t\\\\N\n");
});

test("users written through LOAD DATA LOCAL read back from MariaDB exactly (tabs, newlines, backslashes, NUL, \\N text vs NULL, unicode, numeric edges) (breaks if an escape is dropped)", async () => {
  await mysql.writeUsers(nasty);
  for (const u of nasty) expect(await mysql.getUser(u.id)).toEqual(u);
  const [rows] = (await db.conn.query("SELECT id, phone IS NULL AS n FROM users ORDER BY id")) as unknown as [{ id: number; n: number }[]];
  expect(rows.map((r) => Number(r.n))).toEqual([0, 0, 0, 0]);
});

test("a user repeated in one batch ends with its last value, and a later batch replaces earlier values (upsert, in offset order)", async () => {
  await mysql.writeUsers([
    { ...base, id: 10, city: "first" },
    { ...base, id: 11, city: "other" },
    { ...base, id: 10, city: "last", phone: "+1" },
  ]);
  expect(await mysql.getUser(10)).toEqual({ ...base, id: 10, city: "last", phone: "+1" });
  await mysql.writeUsers([{ ...base, id: 11, city: "again", phone: null }]);
  expect(await mysql.getUser(11)).toEqual({ ...base, id: 11, city: "again", phone: null });
  // Replays are idempotent.
  await mysql.writeUsers([{ ...base, id: 11, city: "again", phone: null }]);
  expect((await mysql.counts()).users).toBe(nasty.length + 2);
});

test("a value the table cannot hold fails the batch as a non-retriable error and writes none of it (strict sql_mode refuses it; on a non-strict server LOCAL only warns, and the sink turns the warning into the same error)", async () => {
  const tooLong = { ...base, id: 20, country: "x".repeat(65) };
  const err = await mysql.writeUsers([{ ...base, id: 21 }, tooLong]).catch((e) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as { retriable?: boolean }).retriable).toBe(false);
  expect(String(err.message)).toContain("country");
  expect(await mysql.getUser(21)).toBeNull();
});

test("users written to Redis in one MSET read back exactly, the last of a repeated key wins (breaks if values are mis-paired)", async () => {
  const batch = [...nasty, { ...base, id: 5, city: "first" }, { ...base, id: 5, city: "last" }];
  await cache.writeUsers(batch);
  for (const u of nasty) expect(await cache.getJson<User>(`user:${u.id}`)).toEqual(u);
  expect((await cache.getJson<User>("user:5"))?.city).toBe("last");
});

test("with a TTL, users are still written (SET ... EX, MSET has no expiry) and expire", async () => {
  const withTtl = new RedisSink({ url: redis.url, ttlSeconds: 100 });
  await withTtl.start();
  try {
    await withTtl.writeUsers([{ ...base, id: 77 }]);
    expect(await redis.client.ttl("user:77")).toBeGreaterThan(90);
    expect(await withTtl.getJson<User>("user:77")).toEqual({ ...base, id: 77 });
  } finally {
    await withTtl.close();
  }
});

test("orders through LOAD DATA LOCAL: ids with tabs, newlines, backslashes and unicode are stored byte for byte, rejected orders keep their reason, accepted a NULL one", async () => {
  const ids = ["tab\tid", "nl\nid", "back\\slash", "\\N", "Zoë😀", "plain"];
  const orders = ids.map((order_id, i) => ({
    order_id,
    customer_id: `c\t${i}`,
    product_id: i === 5 ? "P9999" : "P0001",
    quantity: 1,
    amount: 0.1 + i,
    currency: "EUR",
    created_at: 1_735_689_600_000 + i,
  }));
  const r = await mysql.writeOrders(orders);
  expect(r.results.map((x) => x.status)).toEqual(["accepted", "accepted", "accepted", "accepted", "accepted", "rejected"]);
  const [rows] = (await db.conn.query(
    "SELECT CONVERT(order_id USING utf8mb4) AS id, customer_id, amount, status, reason FROM orders ORDER BY created_at",
  )) as unknown as [Record<string, unknown>[]];
  expect(rows.map((x) => [x.id, x.customer_id, x.amount, x.status, x.reason])).toEqual(
    orders.map((o, i) => [o.order_id, o.customer_id, o.amount, i === 5 ? "rejected" : "accepted", i === 5 ? "unknown product" : null]),
  );
  // A replay decides nothing again.
  const again = await mysql.writeOrders(orders);
  expect(again.results.every((x) => x.status === "duplicate")).toBe(true);
  expect((await mysql.getProduct("P0001"))!.stock).toBe(1_000_000 - 5);
});

test("two consumers writing the same orders at once: each order recorded once, stock taken once (breaks if a LOAD DATA duplicate is skipped instead of retried)", async () => {
  const other = new MysqlSink({ url: db.url, productCount: 3 });
  await other.start();
  try {
    const before = (await mysql.getProduct("P0002"))!.stock;
    let taken = 0;
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 300 }, (_, i) => ({
        order_id: `race-${round}-${i}`,
        customer_id: "c",
        product_id: "P0002",
        quantity: 1 + (i % 3),
        amount: 1,
        currency: "EUR",
        created_at: 1,
      }));
      const [a, b] = await Promise.all([mysql.writeOrders(batch), other.writeOrders(batch)]);
      for (let i = 0; i < batch.length; i++) {
        const st = [a.results[i]!.status, b.results[i]!.status].sort();
        expect(st).toEqual(["accepted", "duplicate"]);
        taken += batch[i]!.quantity;
      }
    }
    expect((await mysql.getProduct("P0002"))!.stock).toBe(before - taken);
    const [[n]] = (await db.conn.query("SELECT COUNT(*) AS n FROM orders WHERE order_id LIKE 'race-%'")) as unknown as [[{ n: number }]];
    expect(Number(n.n)).toBe(1500);
  } finally {
    await other.close();
  }
});

test("without LOAD DATA (a MySQL 8 server with local_infile off) the multi-row INSERT path writes the same users and orders", async () => {
  const plain = new MysqlSink({ url: db.url, productCount: 3, loadData: false });
  await plain.start();
  try {
    const users = nasty.map((u) => ({ ...u, id: u.id === Number.MAX_SAFE_INTEGER ? u.id - 1 : u.id + 1000 }));
    await plain.writeUsers(users);
    for (const u of users) expect(await plain.getUser(u.id)).toEqual(u);
    const before = (await plain.getProduct("P0003"))!.stock;
    const r = await plain.writeOrders([
      { order_id: "plain\t1", customer_id: "c", product_id: "P0003", quantity: 2, amount: 1, currency: "EUR", created_at: 1 },
    ]);
    expect(r.results[0]!.status).toBe("accepted");
    expect((await plain.getProduct("P0003"))!.stock).toBe(before - 2);
  } finally {
    await plain.close();
  }
});
