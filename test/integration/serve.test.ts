import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { createConnection } from "mysql2/promise";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consumer } from "../../src/kafka/index.ts";
import { startBroker, uniqueName, type TestBroker } from "../helpers/broker.ts";
import { spawnIngest, runIngest } from "../helpers/cli.ts";

let broker: TestBroker;
let orders: string;
let users: string;
let base: string;
let proc: ReturnType<typeof spawnIngest>;

/** Start `ingest serve` on a free port (against the shared broker by default); resolves with its URL (printed on stdout). */
async function serve(args: string[], env: Record<string, string> = {}, bootstrap = broker.bootstrap) {
  const p = spawnIngest(["serve", "--port", "0", "-b", bootstrap, ...args], { env });
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const line = new TextDecoder().decode(value);
  const m = /listening on (http:\/\/\S+)/.exec(line);
  if (!m) throw new Error(`serve did not start: ${line} ${await new Response(p.stderr).text()}`);
  return { p, url: m[1]! };
}

beforeAll(async () => {
  broker = startBroker({ brokers: 3 });
  orders = uniqueName("orders");
  users = uniqueName("users");
  broker.createTopic(orders, 4);
  broker.createTopic(users, 2);
  const s = await serve(["--orders-topic", orders, "--users-topic", users, "--max-batch", "50", "--max-body", "64KiB"]);
  proc = s.p;
  base = s.url;
});
afterAll(async () => {
  proc.kill("SIGTERM");
  await proc.exited;
  broker.stop();
});

const post = (path: string, body: unknown, type = "application/json") =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": type }, body: typeof body === "string" ? body : JSON.stringify(body) });
const order = { customer_id: "CUST001", product_id: "PROD123", quantity: 5, amount: 99.99 };

test("POST /order: 202 with the order id, partition and offset; the message is in Kafka, keyed by customer", async () => {
  const res = await post("/order", order);
  expect(res.status).toBe(202);
  const body = (await res.json()) as { order_id: string; partition: number; offset: number };
  expect(body.order_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(body.partition).toBeGreaterThanOrEqual(0);
  expect(body.offset).toBeGreaterThanOrEqual(0);
  const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), log_level: "3" });
  c.assign([{ topic: orders, partition: body.partition, offset: body.offset }]);
  let got;
  for (let i = 0; i < 200 && !got; i++) {
    const b = c.consume(10);
    if (b.count)
      got = {
        key: new TextDecoder().decode(b.data.subarray(b.keyStart[0]!, b.keyStart[0]! + b.keyLen[0]!)),
        value: JSON.parse(new TextDecoder().decode(b.data.subarray(b.valStart[0]!, b.valStart[0]! + b.valLen[0]!))),
        offset: b.offset[0],
      };
    else await Bun.sleep(20);
  }
  c.close();
  expect(got!.key).toBe("CUST001");
  expect(got!.offset).toBe(body.offset);
  expect(got!.value).toMatchObject({ ...order, order_id: body.order_id, currency: "USD" });
  expect(typeof got!.value.created_at).toBe("number");
});

test("POST /orders/batch: all acknowledged; one invalid item rejects the whole batch, listing each bad index and field", async () => {
  const before = broker.retained(orders);
  const ok = await post("/orders/batch", [order, { ...order, customer_id: "CUST002" }, { ...order, quantity: 1 }]);
  expect(ok.status).toBe(202);
  const b = (await ok.json()) as { count: number; orders: { order_id: string; partition: number; offset: number }[] };
  expect(b.count).toBe(3);
  expect(new Set(b.orders.map((o) => o.order_id)).size).toBe(3);
  expect(broker.retained(orders)).toBe(before + 3);

  const bad = await post("/orders/batch", [order, { ...order, quantity: -1 }, order, { ...order, amount: "x", product_id: "" }]);
  expect(bad.status).toBe(400);
  const e = (await bad.json()) as { error: string; details: { index: number; field: string }[] };
  expect(e.details.map((d) => [d.index, d.field])).toEqual([
    [1, "quantity"],
    [3, "product_id"],
    [3, "amount"],
  ]);
  expect(broker.retained(orders)).toBe(before + 3); // nothing of the bad batch was published
});

test("POST /orders/batch once the partition count is known (batches ordered by partition): keyed placement and per-customer order kept", async () => {
  const batch = (round: number) => Array.from({ length: 50 }, (_, i) => ({ ...order, customer_id: `C${(i * 7) % 11}`, quantity: round * 100 + i + 1 }));
  const first = await post("/orders/batch", batch(0));
  expect(first.status).toBe(202);
  // The broker-check worker is asked for the count at the first publish to a topic; /health shows it.
  let partitions: Record<string, number> = {};
  for (let i = 0; i < 100 && !partitions[orders]; i++) {
    partitions = ((await (await fetch(`${base}/health`)).json()) as { broker: { partitions: Record<string, number> } }).broker.partitions;
    if (!partitions[orders]) await Bun.sleep(20);
  }
  expect(partitions[orders]).toBe(4);
  const sent: { customer: string; seq: number; partition: number; offset: number }[] = [];
  for (let round = 1; round <= 4; round++) {
    const res = await post("/orders/batch", batch(round));
    expect(res.status).toBe(202);
    const b = (await res.json()) as { orders: { partition: number; offset: number }[] };
    b.orders.forEach((o, i) => sent.push({ customer: batch(round)[i]!.customer_id, seq: round * 100 + i, ...o }));
  }
  // Each customer's orders on the partition CRC-32 of its id gives (librdkafka's default), in the order sent.
  expect(sent.filter((x) => x.partition !== Bun.hash.crc32(x.customer) % 4).length).toBe(0);
  for (const c of new Set(sent.map((x) => x.customer))) {
    const mine = sent.filter((x) => x.customer === c);
    expect(mine.every((x, k) => k === 0 || (x.offset > mine[k - 1]!.offset && x.seq > mine[k - 1]!.seq))).toBe(true);
  }
});

test("orders in forms the fast path leaves to the general one (escapes, numeric ids, exponents, null currency) are published the same way", async () => {
  // Each pair: the plain form (fast path) and an equivalent odd form (general path).
  const odd = [
    '{"customer_id":"\\u0043UST9","product_id":"P1","quantity":2,"amount":1.50}',
    '{"customer_id":77,"product_id":"P2","quantity":1E1,"amount":5e-1,"currency":null}',
  ];
  const plain = [
    '{"customer_id":"CUST9","product_id":"P1","quantity":2,"amount":1.5}',
    '{"customer_id":"77","product_id":"P2","quantity":10,"amount":0.5,"currency":"USD"}',
  ];
  // fetch.wait.max.ms: each read re-assigns, and a fetch otherwise waits up to 500 ms for data.
  const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), log_level: "3", "fetch.wait.max.ms": "10" });
  const read = async (partition: number, offset: number) => {
    c.assign([{ topic: orders, partition, offset }]);
    for (let i = 0; i < 200; i++) {
      const b = c.consume(10);
      if (b.count) {
        const d = new TextDecoder();
        return {
          key: d.decode(b.data.subarray(b.keyStart[0]!, b.keyStart[0]! + b.keyLen[0]!)),
          value: JSON.parse(d.decode(b.data.subarray(b.valStart[0]!, b.valStart[0]! + b.valLen[0]!))),
        };
      }
      await Bun.sleep(20);
    }
    throw new Error("not read back");
  };
  try {
    for (let i = 0; i < odd.length; i++) {
      const got = [];
      for (const text of [plain[i]!, odd[i]!]) {
        const one = await post("/order", text);
        expect(one.status).toBe(202);
        const a = (await one.json()) as { order_id: string; partition: number; offset: number };
        const batch = await post("/orders/batch", `[${text},${text}]`);
        expect(batch.status).toBe(202);
        const b = (await batch.json()) as { count: number; orders: { order_id: string; partition: number; offset: number }[] };
        expect(b.count).toBe(2);
        for (const r of [a, ...b.orders]) {
          const m = await read(r.partition, r.offset);
          expect(m.value.order_id).toBe(r.order_id);
          const { order_id, created_at, ...rest } = m.value;
          expect(typeof created_at).toBe("number");
          got.push({ key: m.key, rest: JSON.stringify(rest) });
        }
      }
      expect(new Set(got.map((g) => JSON.stringify(g))).size).toBe(1); // all six alike, byte for byte
    }
  } finally {
    c.close();
  }
}, 30_000);

describe("bad input answers 4xx with a JSON {error, details}, never 500", () => {
  const cases: [string, () => Promise<Response>, number, RegExp?][] = [
    ["not JSON", () => post("/order", "{nope"), 400, /not valid JSON/],
    ["JSON but an array", () => post("/order", [order]), 400, /invalid order/],
    ["JSON null", () => post("/order", "null"), 400],
    ["missing customer_id", () => post("/order", { ...order, customer_id: undefined }), 400],
    ["empty customer_id", () => post("/order", { ...order, customer_id: "" }), 400],
    ["customer_id too long", () => post("/order", { ...order, customer_id: "C".repeat(65) }), 400],
    ["customer_id with spaces", () => post("/order", { ...order, customer_id: "a b" }), 400],
    ["quantity 0", () => post("/order", { ...order, quantity: 0 }), 400],
    ["quantity negative", () => post("/order", { ...order, quantity: -3 }), 400],
    ["quantity fractional", () => post("/order", { ...order, quantity: 1.5 }), 400],
    ["quantity a string", () => post("/order", { ...order, quantity: "5" }), 400],
    ["amount negative", () => post("/order", { ...order, amount: -1 }), 400],
    ["amount three decimals", () => post("/order", { ...order, amount: 1.005 }), 400],
    ["amount huge", () => post("/order", { ...order, amount: 1e300 }), 400],
    ["bad currency", () => post("/order", { ...order, currency: "dollars" }), 400],
    ["unknown field", () => post("/order", { ...order, coupon: "FREE" }), 400, /unknown field/],
    ["wrong content type", () => post("/order", JSON.stringify(order), "text/plain"), 415],
    ["body over --max-body", () => post("/order", { ...order, pad: "x".repeat(70_000) }), 413],
    ["batch not an array", () => post("/orders/batch", order), 400],
    ["empty batch", () => post("/orders/batch", []), 400],
    [
      "batch over --max-batch",
      () =>
        post(
          "/orders/batch",
          Array.from({ length: 51 }, () => order),
        ),
      413,
    ],
    ["GET on /order", () => fetch(`${base}/order`), 405],
    ["unknown path", () => fetch(`${base}/nope`), 404],
    ["user without email", () => post("/users", { id: 1, first_name: "A", last_name: "B", age: 3, country: "FR", city: "P" }), 400],
    ["user id not an integer", () => post("/users", { id: "x", first_name: "A", last_name: "B", email: "a@b", age: 3, country: "FR", city: "P" }), 400],
    ["deeply nested JSON", () => post("/order", "[".repeat(5000) + "]".repeat(5000)), 400],
    [
      "invalid UTF-8 body",
      () => fetch(`${base}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }),
      400,
    ],
  ];
  for (const [name, send, status, re] of cases) {
    test(`${name}: ${status}`, async () => {
      const res = await send();
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: string; details: unknown };
      expect(typeof body.error).toBe("string");
      expect("details" in body).toBe(true);
      if (re) expect(body.error + JSON.stringify(body.details)).toMatch(re);
    });
  }
  test("405 names the allowed methods", async () => {
    const res = await fetch(`${base}/health`, { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  });
});

test("POST /users publishes the user keyed by id; GET /health and /metrics report", async () => {
  const res = await post("/users", { id: 42, first_name: "Ann", last_name: "Lee", email: "ann@example.com", age: 30, country: "FR", city: "Paris" });
  expect(res.status).toBe(202);
  expect(((await res.json()) as { id: number }).id).toBe(42);
  expect(broker.retained(users)).toBe(1);
  const h = await fetch(`${base}/health`);
  expect(h.status).toBe(200);
  expect(((await h.json()) as { broker: { reachable: boolean } }).broker.reachable).toBe(true);
  const m = await (await fetch(`${base}/metrics`)).text();
  expect(m).toMatch(/ingest_http_requests_total\{route="\/order",status="202"\} \d+/);
  expect(m).toMatch(/ingest_http_request_duration_seconds_bucket\{route="\/order",le="\+Inf"\} \d+/);
  expect(m).toMatch(/ingest_http_produced_total \d+/);
});

test("a bad flag value is a usage error before the store is opened: no SQLite file is created", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "ingest-serve-")), "reads.db");
  for (const bad of [
    ["--port", "abc"],
    ["--ack", "later"],
    ["--max-batch", "0"],
  ]) {
    const r = await runIngest(["serve", "--sqlite-path", file, ...bad, "-b", broker.bootstrap], { timeoutMs: 20_000 });
    expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
    expect(r.stderr).toStartWith(`error: ${bad[0]}: `);
    expect(existsSync(file)).toBe(false);
  }
});

test("GET /users/:id without a store: 503 with the reason", async () => {
  const r = await fetch(`${base}/users/1`);
  expect(r.status).toBe(503);
  expect(((await r.json()) as { details: string }).details).toMatch(/MYSQL_URL/);
});

test("serve's producer gives up on a message after 30 s by default (not librdkafka's 300 s), and -X overrides it", async () => {
  const local = startBroker({ brokers: 1, topics: { orders: 1 } });
  try {
    for (const [extra, want] of [
      [[], "30000"],
      [["-X", "message.timeout.ms=4000"], "4000"],
    ] as const) {
      const p = spawnIngest(["serve", "--port", "0", "-b", local.bootstrap, ...extra], { env: { LOG_LEVEL: "debug" } });
      // The producer logs its configuration (secrets redacted) when it is created, before listening.
      await p.stdout.getReader().read();
      p.kill("SIGTERM");
      await p.exited;
      const conf = (await new Response(p.stderr).text())
        .split("\n")
        .filter((l) => l.includes("kafka client") && l.includes("created") && l.includes('"linger.ms"'))
        .map((l) => JSON.parse(l).conf as Record<string, string>);
      expect(conf.map((c) => c["message.timeout.ms"])).toEqual([want]);
    }
  } finally {
    local.stop();
  }
}, 30_000);

test("with the broker down, /health turns 503 and no request waits for the broker check (it runs off the event loop)", async () => {
  const local = startBroker({ brokers: 1, topics: { orders: 1 } });
  const { p, url } = await serve([], {}, local.bootstrap);
  try {
    expect((await fetch(`${url}/health`)).status).toBe(200);
    local.cluster.setBrokerDown(1);
    // The check runs every 5 s and, with the broker down, takes its whole 1 s timeout: run on
    // the event loop, it held every request for that second.
    const seen = new Set<number>();
    let slowest = 0;
    for (const until = Date.now() + 7000; Date.now() < until; await Bun.sleep(20)) {
      const t = performance.now();
      const r = await fetch(`${url}/health`);
      await r.arrayBuffer();
      slowest = Math.max(slowest, performance.now() - t);
      seen.add(r.status);
    }
    expect(seen.has(503)).toBe(true);
    expect(slowest).toBeLessThan(500);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
    local.stop();
  }
}, 30_000);

test("a full producer queue answers 503 with Retry-After, and recovers", async () => {
  const local = startBroker({ brokers: 1, topics: { orders: 1 } });
  const s = await (async () => {
    const p = spawnIngest(["serve", "--port", "0", "-b", local.bootstrap, "--max-queued", "5", "-X", "message.timeout.ms=4000"]);
    const { value } = await p.stdout.getReader().read();
    return { p, url: /listening on (\S+)/.exec(new TextDecoder().decode(value))![1]! };
  })();
  try {
    local.cluster.setBrokerDown(1); // nothing drains
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${s.url}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) }),
      ),
    );
    const codes = results.map((r) => r.status);
    expect(codes.filter((c) => c === 503).length).toBeGreaterThanOrEqual(15);
    const r503 = results.find((r) => r.status === 503)!;
    expect(r503.headers.get("retry-after")).toBe("1");
    // The held ones fail when message.timeout.ms passes: 502, not a silent loss.
    expect(codes.filter((c) => c === 502).length + codes.filter((c) => c === 503).length).toBe(20);
    local.cluster.setBrokerUp(1);
    await Bun.sleep(500);
    const ok = await fetch(`${s.url}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) });
    expect(ok.status).toBe(202);
  } finally {
    s.p.kill("SIGTERM");
    await s.p.exited;
    local.stop();
  }
}, 30_000);

test("--ack delivered answers only after the delivery report, --ack queued at hand-off; concurrent orders each get their own offset", async () => {
  const local = startBroker({ brokers: 1, topics: { orders: 2 } });
  const start = async (ack: string) => {
    const p = spawnIngest(["serve", "--port", "0", "-b", local.bootstrap, "--ack", ack]);
    const { value } = await p.stdout.getReader().read();
    return { p, url: /listening on (\S+)/.exec(new TextDecoder().decode(value))![1]! };
  };
  const delivered = await start("delivered");
  const queued = await start("queued");
  const postTo = (url: string, customer: string) =>
    fetch(`${url}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...order, customer_id: customer }) });
  try {
    // Warm both (connections, metadata) before the broker slows down.
    expect((await postTo(delivered.url, "W1")).status).toBe(202);
    expect((await postTo(queued.url, "W1")).status).toBe(202);
    local.cluster.setBrokerRtt(1, 400); // every acknowledgement now takes ~0.4 s
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => postTo(delivered.url, `C${i}`)));
    const waited = performance.now() - t0;
    expect(rs.map((r) => r.status)).toEqual(Array(8).fill(202));
    const bodies = (await Promise.all(rs.map((r) => r.json()))) as { order_id: string; partition: number; offset: number }[];
    expect(waited).toBeGreaterThanOrEqual(350); // not answered before the broker acknowledged
    for (const b of bodies) {
      expect(b.partition).toBeGreaterThanOrEqual(0);
      expect(b.offset).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(bodies.map((b) => b.order_id)).size).toBe(8);
    expect(new Set(bodies.map((b) => `${b.partition}:${b.offset}`)).size).toBe(8); // each its own report
    const q0 = performance.now();
    const q = await postTo(queued.url, "Q1");
    expect(q.status).toBe(202);
    expect(((await q.json()) as { status: string }).status).toBe("queued");
    expect(performance.now() - q0).toBeLessThan(350);
  } finally {
    for (const s of [delivered, queued]) {
      s.p.kill("SIGTERM");
      await s.p.exited;
    }
    local.stop();
  }
}, 30_000);

test("SIGTERM with requests in flight: they finish (202), then the server exits 0", async () => {
  const local = startBroker({ brokers: 1, topics: { orders: 1 } });
  const { p, url } = await serve([], {}, local.bootstrap);
  try {
    local.cluster.setBrokerRtt(1, 800); // acknowledgements take ~0.8 s
    const inflight = Array.from({ length: 10 }, () =>
      fetch(`${url}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) }),
    );
    await Bun.sleep(150);
    p.kill("SIGTERM");
    const codes = (await Promise.all(inflight)).map((r) => r.status);
    expect(codes).toEqual(Array(10).fill(202));
    expect(await p.exited).toBe(0);
    expect(local.retained("orders")).toBe(10);
  } finally {
    local.stop();
  }
}, 30_000);

test("cache-aside reads: Redis first, then MariaDB, filling Redis on a miss", async () => {
  const db = `ingest_serve_${Date.now().toString(36)}`;
  const conn = await createConnection({ host: "127.0.0.1", user: "root" });
  await conn.query(`CREATE DATABASE ${db}`);
  const mysql = `mysql://root@127.0.0.1:3306/${db}`;
  const id = 900_000_000 + Math.floor(Math.random() * 99_999_999);
  Bun.spawnSync(["redis-cli", "del", `user:${id}`, "product:P0001"]); // the shared Redis may hold a row from elsewhere
  try {
    // Write a user through consume into the store only, then read it over HTTP.
    const t = uniqueName("users");
    broker.createTopic(t, 1);
    const user = `{"id":${id},"first_name":"Zoë","last_name":"Ng","email":"z@x.test","age":40,"country":"SE","city":"Göteborg","signup_ts":1,"is_active":true,"score":2.5,"phone":null}`;
    Bun.spawnSync(["kcat", "-P", "-b", broker.bootstrap, "-t", t, "-K:"], { stdin: new TextEncoder().encode(`${id}:${user}\n`) });
    const c = await runIngest(["consume", "--topics", t, "--group", uniqueName("g"), "--sink", "mysql", "--max-messages", "1", "-b", broker.bootstrap], {
      env: { MYSQL_URL: mysql },
    });
    expect(c.code).toBe(0);
    expect(
      Bun.spawnSync(["redis-cli", "exists", `user:${id}`])
        .stdout.toString()
        .trim(),
    ).toBe("0");
    const s = await serve([], { MYSQL_URL: mysql, REDIS_URL: "redis://127.0.0.1:6379" });
    try {
      const u1 = await fetch(`${s.url}/users/${id}`);
      expect(u1.status).toBe(200);
      expect(u1.headers.get("x-cache")).toBe("miss");
      expect(await u1.json()).toMatchObject({ id, first_name: "Zoë", city: "Göteborg", phone: null });
      // The miss filled Redis (checked with redis-cli), and the next read is a hit.
      expect(JSON.parse(Bun.spawnSync(["redis-cli", "get", `user:${id}`]).stdout.toString()).city).toBe("Göteborg");
      const u2 = await fetch(`${s.url}/users/${id}`);
      expect(u2.headers.get("x-cache")).toBe("hit");
      expect((await fetch(`${s.url}/users/${id + 1}`)).status).toBe(404);
      const p = await fetch(`${s.url}/products/P0001`);
      expect(p.status).toBe(200);
      expect(((await p.json()) as { stock: number }).stock).toBe(1_000_000);
      expect((await fetch(`${s.url}/products/NOPE`)).status).toBe(404);
      expect(((await (await fetch(`${s.url}/health`)).json()) as { cache: { reachable: boolean } }).cache.reachable).toBe(true);
    } finally {
      s.p.kill("SIGTERM");
      await s.p.exited;
    }
  } finally {
    Bun.spawnSync(["redis-cli", "del", `user:${id}`, "product:P0001"]);
    await conn.query(`DROP DATABASE ${db}`);
    await conn.end();
  }
}, 60_000);

test("on a terminal: a live status line (request rate, p99, 503s, produced, in flight, queued) and readable log lines", async () => {
  const { ingestArgv, ROOT } = await import("../helpers/cli.ts");
  // util-linux script(1) gives serve a pseudo-terminal (exec: serve is script's child).
  const cmd = `exec ${ingestArgv("serve", "--port", "0", "--orders-topic", orders, "-b", broker.bootstrap)
    .map((x) => `'${x.replace(/'/g, "'\\''")}'`)
    .join(" ")}`;
  const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const reader = p.stdout.getReader();
  let out = "";
  const readUntil = async (re: RegExp) => {
    const deadline = Date.now() + 30_000;
    while (!re.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    return re.exec(out);
  };
  const url = (await readUntil(/listening on (http:\/\/[\d.:]+)/))?.[1];
  expect(url).toBeDefined();
  for (let i = 0; i < 20; i++)
    expect((await fetch(`${url}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(order) })).status).toBe(202);
  const live = /\r\x1b\[2Kserve http:\/\/127\.0\.0\.1:\d+ \| [\d,]+ req\/s, p99 [\d.]+ ms \| 503s 0 \| produced 20 \| in flight \d+ \| queued \d+/;
  expect(await readUntil(live)).not.toBeNull();
  // SIGINT to serve itself once the line was drawn: a graceful stop, exit 0.
  const pid = Number(
    Bun.spawnSync(["pgrep", "-P", String(p.pid)])
      .stdout.toString()
      .trim()
      .split("\n")[0],
  );
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, "SIGINT");
  await readUntil(/serve: stopped/);
  expect(await p.exited).toBe(0);
  expect(out).toMatch(/\d\d:\d\d:\d\d INFO +serve: listening/);
  expect(out).not.toContain('{"level"');
}, 60_000);
