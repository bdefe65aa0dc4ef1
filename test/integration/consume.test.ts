import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { createConnection, type Connection } from "mysql2/promise";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { startBroker, uniqueName, FAST_GROUP_PROPS, type TestBroker } from "../helpers/broker.ts";
import { runIngest, spawnIngest, ingestArgv, ROOT } from "../helpers/cli.ts";
import { claimRedisDb } from "../helpers/stores.ts";

const dir = mkdtempSync(join(tmpdir(), "ingest-consume-"));
const fast = Object.entries(FAST_GROUP_PROPS).flatMap(([k, v]) => ["-X", `${k}=${v}`]);
const USERS = 5000;
const ORDERS = 6000;
const STOCK = 30; // small, so some orders are rejected for stock
let broker: TestBroker;
let db: Connection;
let dbName: string;
let mysqlUrl: string;

beforeAll(async () => {
  broker = startBroker({ brokers: 3 });
  dbName = `ingest_test_${Date.now().toString(36)}`;
  db = await createConnection({ host: "127.0.0.1", port: 3306, user: "root" });
  await db.query(`CREATE DATABASE ${dbName}`);
  await db.query(`USE ${dbName}`);
  mysqlUrl = `mysql://root@127.0.0.1:3306/${dbName}`;
  expect((await runIngest(["gen", "users", "--rows", String(USERS), "--out", join(dir, "users.csv")])).code).toBe(0);
  expect((await runIngest(["gen", "orders", "--rows", String(ORDERS), "--customers", String(USERS), "--out", join(dir, "orders.csv")])).code).toBe(0);
});
afterAll(async () => {
  await db.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await db.end();
  broker.stop();
});

async function produceTopics(users: string, orders: string) {
  broker.createTopic(users, 4);
  broker.createTopic(orders, 4);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const o = await runIngest([
    "produce",
    "--file",
    join(dir, "orders.csv"),
    "--topic",
    orders,
    "--schema",
    "data/orders.avsc",
    "--key",
    "customer_id",
    "-b",
    broker.bootstrap,
  ]);
  expect(o.stderr).toContain("produce OK");
}

/** Stock must equal the initial stock minus the accepted orders' quantities, never negative. */
async function checkStock(conn: Connection = db): Promise<{ accepted: number; rejected: number }> {
  const [rows] = (await conn.query(
    `SELECT p.product_id, p.stock, COALESCE(SUM(CASE WHEN o.status = 'accepted' THEN o.quantity END), 0) AS taken
     FROM products p LEFT JOIN orders o ON o.product_id = p.product_id GROUP BY p.product_id, p.stock`,
  )) as [{ product_id: string; stock: number; taken: number }[], unknown];
  for (const r of rows) {
    expect(r.stock).toBeGreaterThanOrEqual(0);
    expect(Number(r.stock) + Number(r.taken)).toBe(STOCK);
  }
  const [st] = (await conn.query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")) as [{ status: string; n: number }[], unknown];
  const n = (s: string) => Number(st.find((x) => x.status === s)?.n ?? 0);
  return { accepted: n("accepted"), rejected: n("rejected") };
}

/** A database of the test's own (the test stands alone), dropped afterwards. */
async function withOwnDb(suffix: string, run: (conn: Connection, url: string, name: string) => Promise<void>): Promise<void> {
  const name = `${dbName}_${suffix}`;
  await db.query(`CREATE DATABASE ${name}`);
  const conn = await createConnection({ host: "127.0.0.1", port: 3306, user: "root", database: name });
  try {
    await run(conn, `mysql://root@127.0.0.1:3306/${name}`, name);
  } finally {
    await conn.end();
    await db.query(`DROP DATABASE IF EXISTS ${name}`);
  }
}

describe("consume into MariaDB", () => {
  test("users and orders end up exactly once, with stock consistent and never negative", async () => {
    const users = uniqueName("users");
    const orders = uniqueName("orders");
    await produceTopics(users, orders);
    const group = uniqueName("g");
    const summary = join(dir, "c1.json");
    const r = await runIngest(
      [
        "consume",
        "--group",
        group,
        "--topics",
        `${users},${orders}`,
        "--sink",
        "mysql",
        "--workers",
        "4",
        "--initial-stock",
        String(STOCK),
        "--max-messages",
        String(USERS + ORDERS),
        "--summary-json",
        summary,
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { env: { MYSQL_URL: mysqlUrl }, timeoutMs: 90_000 },
    );
    expect(r.stderr).toContain("consume done");
    expect(r.code).toBe(0);
    const [[u]] = (await db.query("SELECT COUNT(*) AS n FROM users")) as [{ n: number }[], unknown];
    expect(Number(u!.n)).toBe(USERS);
    const [[o]] = (await db.query("SELECT COUNT(*) AS n FROM orders")) as [{ n: number }[], unknown];
    expect(Number(o!.n)).toBe(ORDERS);
    // One user compared field by field with the CSV.
    const csv = Papa.parse<Record<string, string>>(readFileSync(join(dir, "users.csv"), "utf8"), { header: true, skipEmptyLines: true }).data;
    const [[row]] = (await db.query("SELECT * FROM users WHERE id = 2")) as [Record<string, unknown>[], unknown];
    expect(row!.last_name).toBe(csv[1]!.last_name);
    expect(row!.email).toBe(csv[1]!.email);
    const s = await checkStock();
    expect(s.accepted + s.rejected).toBe(ORDERS);
    expect(s.rejected).toBeGreaterThan(0); // the small stock ran out somewhere
    const j = JSON.parse(readFileSync(summary, "utf8"));
    expect(j.ordersAccepted).toBe(s.accepted);
    // Everything is committed: lag 0.
    const lag = await runIngest(["lag", "--group", group, "--topic", `${users},${orders}`, "--json", "-b", broker.bootstrap]);
    expect(JSON.parse(lag.stdout).total_lag).toBe(0);
    // The independent client agrees on the counts.
    const cli = Bun.spawnSync([
      "mariadb",
      "-h",
      "127.0.0.1",
      "-u",
      "root",
      "-N",
      "-e",
      `SELECT COUNT(*) FROM ${dbName}.orders; SELECT MIN(stock) >= 0 FROM ${dbName}.products`,
    ]);
    expect(cli.stdout.toString().trim().split("\n")).toEqual([String(ORDERS), "1"]);
  }, 120_000);

  test("consuming the same topics again (a new group, from the beginning) changes nothing: idempotent", async () => {
    const [[before]] = (await db.query("SELECT SUM(stock) AS s, (SELECT COUNT(*) FROM orders) AS n FROM products")) as [{ s: number; n: number }[], unknown];
    const users = uniqueName("users");
    const orders = uniqueName("orders");
    await produceTopics(users, orders);
    const r = await runIngest(
      [
        "consume",
        "--group",
        uniqueName("g"),
        "--topics",
        `${users},${orders}`,
        "--sink",
        "mysql",
        "--initial-stock",
        String(STOCK),
        "--max-messages",
        String(USERS + ORDERS),
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { env: { MYSQL_URL: mysqlUrl }, timeoutMs: 90_000 },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`duplicate ${ORDERS}`));
    const [[after]] = (await db.query("SELECT SUM(stock) AS s, (SELECT COUNT(*) FROM orders) AS n FROM products")) as [{ s: number; n: number }[], unknown];
    expect(after).toEqual(before!);
    await checkStock();
  }, 120_000);

  test("SIGKILL mid-run, then a restart: every order once, stock consistent, commits never ahead of rows", async () => {
    await withOwnDb("kill", async (kdb, url, name) => {
      const big = join(dir, "orders-big.csv");
      expect((await runIngest(["gen", "orders", "--rows", "30000", "--customers", "1000", "--seed", "77", "--out", big])).code).toBe(0);
      const orders = uniqueName("orders");
      broker.createTopic(orders, 4);
      expect(
        (await runIngest(["produce", "--file", big, "--topic", orders, "--schema", "data/orders.avsc", "--key", "customer_id", "-b", broker.bootstrap])).code,
      ).toBe(0);
      const group = uniqueName("g");
      const args = [
        "consume",
        "--group",
        group,
        "--topics",
        orders,
        "--sink",
        "mysql",
        "--workers",
        "4",
        "--batch-size",
        "500",
        // Small transactions, so the kill lands between many of them (merged, 30k could be one).
        "--max-write-records",
        "1000",
        "--commit-interval-ms",
        "100",
        "--initial-stock",
        String(STOCK),
        "-b",
        broker.bootstrap,
        ...fast,
      ];
      const p = spawnIngest(args, { env: { MYSQL_URL: url } });
      // Kill once some orders are stored.
      for (let i = 0; i < 200; i++) {
        await Bun.sleep(100);
        const [[c]] = (await kdb.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'orders'", [name])) as [
          { n: number }[],
          unknown,
        ];
        if (Number(c!.n) === 0) continue;
        const [[o]] = (await kdb.query("SELECT COUNT(*) AS n FROM orders")) as [{ n: number }[], unknown];
        if (Number(o!.n) > 3000) break;
      }
      p.kill("SIGKILL");
      await p.exited;
      const [[stored]] = (await kdb.query("SELECT COUNT(*) AS n FROM orders")) as [{ n: number }[], unknown];
      const lag = JSON.parse((await runIngest(["lag", "--group", group, "--topic", orders, "--json", "-b", broker.bootstrap])).stdout);
      const committed = lag.partitions.reduce((s: number, x: { committed: number | null }) => s + (x.committed ?? 0), 0);
      expect(committed).toBeLessThanOrEqual(Number(stored!.n));
      expect(Number(stored!.n)).toBeLessThan(30000);

      // The killed member keeps its partitions until session.timeout.ms (6 s here) expires, then a
      // rebalance hands them over: idle longer than that before calling it done.
      const r = await runIngest([...args, "--idle-exit-ms", "9000"], { env: { MYSQL_URL: url }, timeoutMs: 90_000 });
      expect(r.code).toBe(0);
      const [[all]] = (await kdb.query("SELECT COUNT(*) AS n, COUNT(DISTINCT order_id) AS d FROM orders")) as [{ n: number; d: number }[], unknown];
      expect(Number(all!.n)).toBe(30000);
      expect(Number(all!.d)).toBe(30000);
      await checkStock(kdb);
      const lag2 = JSON.parse((await runIngest(["lag", "--group", group, "--topic", orders, "--json", "-b", broker.bootstrap])).stdout);
      expect(lag2.total_lag).toBe(0);
    });
  }, 180_000);

  test("while MariaDB is busy (products locked elsewhere), a lane's queued order batches merge into few transactions up to --max-write-records, stock exact", async () => {
    await withOwnDb("merge", async (mdb, url) => {
      const users = uniqueName("users");
      const orders = uniqueName("orders");
      await produceTopics(users, orders);
      const consume = (topic: string, n: number, extra: string[]) => [
        "consume",
        "--group",
        uniqueName("g"),
        "--topics",
        topic,
        "--sink",
        "mysql",
        "--workers",
        "4",
        "--batch-size",
        "500",
        "--initial-stock",
        String(STOCK),
        "--max-messages",
        String(n),
        "-b",
        broker.bootstrap,
        ...fast,
        ...extra,
      ];
      // The users first: the tables and the catalog exist before the products are locked.
      expect((await runIngest(consume(users, USERS, []), { env: { MYSQL_URL: url }, timeoutMs: 60_000 })).code).toBe(0);
      const run = async (maxWrite: number) => {
        await mdb.query("DELETE FROM orders");
        await mdb.query("UPDATE products SET stock = ?", [STOCK]);
        await mdb.beginTransaction();
        await mdb.query("SELECT product_id FROM products FOR UPDATE");
        const summary = join(dir, `merge-${maxWrite}.json`);
        const p = spawnIngest(consume(orders, ORDERS, ["--max-write-records", String(maxWrite), "--summary-json", summary]), { env: { MYSQL_URL: url } });
        // Every lane's first transaction waits on the locks while all 6,000 orders are fetched.
        await Bun.sleep(4000);
        await mdb.rollback();
        expect(await p.exited).toBe(0);
        const j = JSON.parse(readFileSync(summary, "utf8"));
        expect(j.bySink.mysql).toBe(ORDERS);
        expect(await checkStock(mdb)).toEqual({ accepted: j.ordersAccepted, rejected: ORDERS - j.ordersAccepted });
        return { writes: j.writesBySink.mysql as number };
      };
      // 12 fetches of 500 over 4 lanes: about 48 transactions without merging. Merged: each lane's
      // first (waiting) one, then one with the rest of its orders: 8.
      const merged = await run(20_000);
      expect(merged.writes).toBeGreaterThanOrEqual(4);
      expect(merged.writes).toBeLessThanOrEqual(12);
      // Bounded: the first transactions hold at most one fetch (500), the other 5,500+ orders go
      // in transactions of at most 1,000: at least 4 + 6.
      const bounded = await run(1000);
      expect(bounded.writes).toBeGreaterThanOrEqual(10);
      // Each run's stock matched its accepted orders (run). Which orders win the last units can
      // differ between runs: lanes (customers) race for a product's stock; only a partition's
      // orders are decided in offset order.
    });
  }, 120_000);
});

test("order ids differing only in case, accents or a trailing space are distinct orders in MariaDB, and a replay changes nothing", async () => {
  // Under 001_init's utf8mb4_unicode_ci they were one primary key: the second INSERT failed with
  // ER_DUP_ENTRY on every retry and the consumer never got past it.
  const name = `${dbName}_ids`;
  await db.query(`CREATE DATABASE ${name}`);
  const url = `mysql://root@127.0.0.1:3306/${name}`;
  try {
    const orders = uniqueName("orders");
    broker.createTopic(orders, 2);
    const ids = ["case-A", "CASE-a", "café", "cafe", "trail", "trail "];
    const lines = ids.map(
      (id, i) =>
        `k${i}:${JSON.stringify({ order_id: id, customer_id: `k${i}`, product_id: "P0007", quantity: i + 1, amount: 1, currency: "EUR", created_at: 1735689600000 })}`,
    );
    expect(
      Bun.spawnSync(["kcat", "-P", "-b", broker.bootstrap, "-t", orders, "-K:"], { stdin: new TextEncoder().encode(lines.join("\n") + "\n") }).exitCode,
    ).toBe(0);
    const args = [
      "--topics",
      orders,
      "--sink",
      "mysql",
      "--initial-stock",
      "100",
      "--max-messages",
      String(ids.length),
      "--from-beginning",
      "-b",
      broker.bootstrap,
      ...fast,
    ];
    for (const round of [0, 1]) {
      const r = await runIngest(["consume", "--group", uniqueName("g"), ...args], { env: { MYSQL_URL: url }, timeoutMs: 30_000 });
      expect(r.stderr).toContain(round === 0 ? "orders accepted 6 rejected 0 duplicate 0" : "orders accepted 0 rejected 0 duplicate 6");
      expect(r.code).toBe(0);
    }
    // Read back with the independent client: six orders, stock taken once (1+2+...+6 = 21).
    const cli = Bun.spawnSync([
      "mariadb",
      "-h",
      "127.0.0.1",
      "-u",
      "root",
      "-N",
      "-e",
      `SELECT CONCAT('[', order_id, ']') FROM ${name}.orders ORDER BY customer_id; SELECT stock FROM ${name}.products WHERE product_id = 'P0007'`,
    ]);
    expect(cli.stdout.toString().trim().split("\n")).toEqual([...ids.map((id) => `[${id}]`), "79"]);
  } finally {
    await db.query(`DROP DATABASE IF EXISTS ${name}`);
  }
}, 90_000);

test("a poison record goes to <topic>.dlq with its error and source in headers; the rest are written", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 1);
  const good =
    '{"id":1,"first_name":"A","last_name":"B","email":"a@x","age":3,"country":"FR","city":"P","signup_ts":1,"is_active":true,"score":1,"phone":null}';
  const input = `k1:${good}\nk2:{not json\nk3:{"id":"x"}\n`;
  expect(Bun.spawnSync(["kcat", "-P", "-b", broker.bootstrap, "-t", users, "-K:"], { stdin: new TextEncoder().encode(input) }).exitCode).toBe(0);
  const r = await runIngest(
    ["consume", "--group", uniqueName("g"), "--topics", users, "--sink", "stdout", "--max-messages", "3", "-b", broker.bootstrap, ...fast],
    { timeoutMs: 60_000 },
  );
  expect(r.code).toBe(0);
  expect(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id),
  ).toEqual([1]);
  // The DLQ topic may have several partitions: kcat's order is not the records' order.
  const dlq = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", `${users}.dlq`, "-e", "-q", "-f", "%k|%s|%h\n"])
    .stdout.toString()
    .trim()
    .split("\n")
    .sort();
  expect(dlq.length).toBe(2);
  expect(dlq[0]).toMatch(
    new RegExp(`^k2\\|\\{not json\\|ingest.error=undecodable json.*ingest.source.topic=${users},ingest.source.partition=0,ingest.source.offset=1$`),
  );
  expect(dlq[1]).toMatch(/^k3\|\{"id":"x"\}\|ingest.error=user: id must be an integer/);
}, 60_000);

// The stdout sink is at-least-once, like any sink: a record taken after a commit that the broker
// refused is written again after the rebalance. The embedded broker (librdkafka 2.0.2's mock)
// makes that common here: when the group leader's SyncGroup arrives before a follower's, the mock
// completes the sync without the follower, answers its late SyncGroup INVALID_REQUEST, and the
// follower rejoins, so the group can cycle through rebalances for a while and refuse commits
// ("Group rebalance in progress"). Exactly-once in the stores is the MariaDB tests' job (idempotent
// sinks); here: nothing lost, both members got work, and the final commits cover everything.
test("two consumers in one group split the partitions; every record is written, and the group commits to the end", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 6);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const group = uniqueName("g");
  const args = (n: string) => [
    "consume",
    "--group",
    group,
    "--topics",
    users,
    "--sink",
    "stdout",
    "--idle-exit-ms",
    "4000",
    "--summary-json",
    join(dir, `two-${n}.json`),
    "-b",
    broker.bootstrap,
    ...fast,
  ];
  const a = spawnIngest(args("a"));
  const b = spawnIngest(args("b"));
  const [outA, outB] = await Promise.all([new Response(a.stdout).text(), new Response(b.stdout).text()]);
  expect(await a.exited).toBe(0);
  expect(await b.exited).toBe(0);
  const ids = [...outA.trim().split("\n"), ...outB.trim().split("\n")].filter(Boolean).map((l) => JSON.parse(l).id);
  expect(new Set(ids).size).toBe(USERS);
  expect(ids.length).toBeGreaterThanOrEqual(USERS);
  const sa = JSON.parse(readFileSync(join(dir, "two-a.json"), "utf8"));
  const sb = JSON.parse(readFileSync(join(dir, "two-b.json"), "utf8"));
  expect(sa.written).toBeGreaterThan(0);
  expect(sb.written).toBeGreaterThan(0);
  const lag = JSON.parse((await runIngest(["lag", "--group", group, "--topic", users, "--json", "-b", broker.bootstrap])).stdout);
  expect(lag.total_lag).toBe(0);
}, 90_000);

describe("--from-beginning start", () => {
  // librdkafka 2.0.2 queries an explicit start offset at assign; a partition whose leader is not
  // yet set then waits a fixed 500 ms before the query is retried. The consumer takes topic
  // handles before joining so that leaders are known by the assignment (see Consumer.subscribe).
  test("every partition's start offset is queried with its leader known (no 500 ms retry)", async () => {
    const topic = uniqueName("starts");
    broker.createTopic(topic, 48);
    const input = Array.from({ length: 480 }, (_, i) => `k${i}:v${i}`).join("\n") + "\n";
    expect(Bun.spawnSync(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-K:"], { stdin: new TextEncoder().encode(input) }).exitCode).toBe(0);
    const r = await runIngest(
      [
        "consume",
        "--group",
        uniqueName("g"),
        "--topics",
        topic,
        "--format",
        "raw",
        "--sink",
        "none",
        "--from-beginning",
        "--max-messages",
        "480",
        "--summary-json",
        join(dir, "starts.json"),
        "-b",
        broker.bootstrap,
        "-X",
        "debug=topic",
        ...fast,
      ],
      { env: { LOG_LEVEL: "debug" }, timeoutMs: 60_000 },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "starts.json"), "utf8")).written).toBe(480);
    // librdkafka's debug log: every partition joined its leader's broker thread before the
    // assignment (deterministic; the race it prevents shows in only some runs), and no offset
    // query waited for a leader.
    const beforeAssign = r.stderr.slice(0, r.stderr.indexOf("partitions assigned"));
    expect(beforeAssign.length).toBeGreaterThan(0);
    const joined = new Set([...beforeAssign.matchAll(new RegExp(`Topic ${topic} \\[(\\d+)\\]: joining broker`, "g"))].map((m) => m[1]));
    expect(joined.size).toBe(48);
    expect(r.stderr).toContain("querying for logical offset BEGINNING");
    expect(r.stderr).not.toContain("no current leader for partition");
  }, 60_000);
});

describe("--format raw: values passed on undecoded", () => {
  test("stdout prints every value exactly as produced, any topic name, nothing is poison", async () => {
    const topic = uniqueName("events");
    broker.createTopic(topic, 2);
    const values = ["{not json", "plain text é✓", '{"id":1}', "", "x".repeat(5000)];
    const input = values.map((v, i) => `k${i}:${v}`).join("\n") + "\n";
    expect(Bun.spawnSync(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-K:"], { stdin: new TextEncoder().encode(input) }).exitCode).toBe(0);
    const r = await runIngest(
      [
        "consume",
        "--group",
        uniqueName("g"),
        "--topics",
        topic,
        "--format",
        "raw",
        "--sink",
        "stdout",
        "--max-messages",
        String(values.length),
        "--summary-json",
        join(dir, "raw.json"),
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(0, -1).sort()).toEqual([...values].sort());
    const sum = JSON.parse(readFileSync(join(dir, "raw.json"), "utf8"));
    expect([sum.written, sum.poison]).toEqual([values.length, 0]);
  }, 60_000);

  test("many small batches (their buffers reused): every value printed intact, as kcat reads them", async () => {
    const users = uniqueName("users");
    broker.createTopic(users, 3);
    expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
    const r = await runIngest(
      [
        "consume",
        "--group",
        uniqueName("g"),
        "--topics",
        users,
        "--format",
        "raw",
        "--sink",
        "stdout",
        "--batch-size",
        "97",
        "--workers",
        "3",
        "--max-messages",
        String(USERS),
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(0);
    const k = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", users, "-e", "-q", "-f", "%s\n"]);
    const expected = k.stdout.toString().split("\n").slice(0, -1).sort();
    expect(expected.length).toBe(USERS);
    expect(r.stdout.split("\n").slice(0, -1).sort()).toEqual(expected);
  }, 60_000);

  test("a store sink with --format raw is a usage error (exit 2)", async () => {
    const r = await runIngest(["consume", "--format", "raw", "--sink", "mysql", "--topics", "users", "-b", broker.bootstrap]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--format raw");
    expect(r.stderr).toContain("not mysql");
  });

  test("stdout closed under it (| head -1): stops with exit 1 naming EPIPE, does not retry forever", async () => {
    const users = uniqueName("users");
    broker.createTopic(users, 1);
    expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
    const argv = ingestArgv(
      "consume",
      "--group",
      uniqueName("g"),
      "--topics",
      users,
      "--format",
      "raw",
      "--sink",
      "stdout",
      "--from-beginning",
      "--max-messages",
      String(USERS),
      "-b",
      broker.bootstrap,
      ...fast,
    );
    const p = Bun.spawn(["bash", "-c", `"\${@:2}" 2>"$1" | head -1 >/dev/null; exit \${PIPESTATUS[0]}`, "_", join(dir, "epipe.err"), ...argv]);
    expect(await p.exited).toBe(1);
    const err = readFileSync(join(dir, "epipe.err"), "utf8");
    expect(err).toContain("EPIPE");
    expect(err).toContain("STOPPED WITH UNWRITTEN RECORDS");
  }, 60_000);
});

test("a final offset commit the broker refuses: exit 1 saying so; a restart re-reads, retries a rebalance refusal, commits (nothing lost)", async () => {
  // Its own broker: the pushed OffsetCommit errors must meet this consumer's commit only.
  const own = startBroker({ brokers: 1 });
  try {
    const topic = uniqueName("events");
    own.createTopic(topic, 1);
    const input = Array.from({ length: 50 }, (_, i) => `k${i}:v${i}`).join("\n") + "\n";
    expect(Bun.spawnSync(["kcat", "-P", "-b", own.bootstrap, "-t", topic, "-K:"], { stdin: new TextEncoder().encode(input) }).exitCode).toBe(0);
    const group = uniqueName("g");
    const args = [
      "consume",
      "--group",
      group,
      "--topics",
      topic,
      "--format",
      "raw",
      "--sink",
      "none",
      "--max-messages",
      "50",
      "--commit-interval-ms",
      "3600000",
      "-b",
      own.bootstrap,
      ...fast,
    ];
    own.cluster.pushRequestErrors(8 /* OffsetCommit */, [12 /* OFFSET_METADATA_TOO_LARGE: not retriable */]);
    const r = await runIngest(args, { timeoutMs: 60_000 });
    expect(r.stderr).toContain("final offset commit failed");
    expect(r.code).toBe(1);
    // A refusal that passes (a rebalance in progress) is retried: exit 0, all committed.
    own.cluster.pushRequestErrors(8, [27 /* REBALANCE_IN_PROGRESS */, 27]);
    const again = await runIngest([...args, "--summary-json", join(dir, "recommit.json")], { timeoutMs: 60_000 });
    expect(again.code).toBe(0);
    const sum = JSON.parse(readFileSync(join(dir, "recommit.json"), "utf8"));
    expect(sum.written).toBe(50);
    expect(sum.committed).toEqual([{ topic, partition: 0, offset: 50 }]);
  } finally {
    own.stop();
  }
}, 90_000);

test("the group consumer's fetches wait up to 20 ms for 64 KiB by default (librdkafka: 1 byte, 500 ms), and -X overrides them", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 1);
  for (const [extra, want] of [
    [[], ["65536", "20"]],
    [
      ["-X", "fetch.wait.max.ms=100", "-X", "fetch.min.bytes=1"],
      ["1", "100"],
    ],
  ] as const) {
    const r = await runIngest(["consume", "--sink", "none", "--topics", users, "--idle-exit-ms", "300", "-b", broker.bootstrap, ...fast, ...extra], {
      env: { LOG_LEVEL: "debug" },
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(0);
    // Each client logs its configuration when it is created; the group consumer's has group.id.
    const conf = r.stderr
      .split("\n")
      .filter((l) => l.includes("kafka client") && l.includes("created") && l.includes('"group.id"'))
      .map((l) => JSON.parse(l).conf as Record<string, string>);
    expect(conf.map((c) => [c["fetch.min.bytes"], c["fetch.wait.max.ms"]])).toEqual([[...want]]);
  }
}, 60_000);

test("a store that cannot be reached at start is a clear error naming it", async () => {
  const r = await runIngest(["consume", "--sink", "mysql", "--topics", "users", "-b", broker.bootstrap], {
    env: { MYSQL_URL: "mysql://root:secret@127.0.0.1:1/none" },
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error: .*mysql.*127\.0\.0\.1:1/m);
  expect(r.stderr).not.toContain("secret");
});

test("an empty --sink (e.g. an unset variable) is a usage error, not a run that commits records written nowhere", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 1);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const group = uniqueName("g");
  const r = await runIngest(["consume", "--sink", "", "--group", group, "--topics", users, "--max-messages", String(USERS), "-b", broker.bootstrap, ...fast], {
    timeoutMs: 30_000,
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toBe("error: --sink: expected one or more of mysql|redis|sqlite|stdout|none, got nothing\n");
  const lag = await runIngest(["lag", "--group", group, "--topic", users, "--json", "-b", broker.bootstrap]);
  expect(JSON.parse(lag.stdout).partitions[0].committed).toBeNull(); // nothing committed
}, 60_000);

test("a bad flag value stops consume before the store is opened: no SQLite file is created", async () => {
  const file = join(dir, `${uniqueName("db")}.sqlite`);
  for (const bad of [["--batch-size", "0"], ["--idle-exit-ms", "5s"], ["--max-in-flight=-5"]]) {
    const r = await runIngest(["consume", "--sink", "sqlite", "--sqlite-path", file, "--topics", "users", ...bad, "-b", broker.bootstrap]);
    expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
    expect(r.stderr).toStartWith(`error: ${bad[0]!.split("=")[0]}: `);
    expect(existsSync(file)).toBe(false);
  }
});

test("--summary-json that cannot be written (a directory, a missing directory) fails at start, not after consuming (was exit 70)", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 1);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const group = uniqueName("g");
  for (const [path, why] of [
    [dir, "it is a directory"],
    [join(dir, "nope", "s.json"), `directory ${join(dir, "nope")} does not exist`],
  ] as const) {
    const r = await runIngest(
      [
        "consume",
        "--sink",
        "none",
        "--group",
        group,
        "--topics",
        users,
        "--max-messages",
        String(USERS),
        "--summary-json",
        path,
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { timeoutMs: 30_000 },
    );
    expect({ path, code: r.code }).toEqual({ path, code: 2 });
    expect(r.stderr).toBe(`error: --summary-json: cannot write ${path}: ${why}\n`);
  }
  const lag = await runIngest(["lag", "--group", group, "--topic", users, "--json", "-b", broker.bootstrap]);
  expect(JSON.parse(lag.stdout).partitions[0].committed).toBeNull(); // nothing was consumed
}, 90_000);

test("--metrics-port already in use is one line naming it, exit 2 (was exit 70 with a stack trace)", async () => {
  const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  try {
    const r = await runIngest(
      ["consume", "--sink", "none", "--topics", "users", "--metrics-port", String(taken.port), "--idle-exit-ms", "1", "-b", broker.bootstrap],
      { timeoutMs: 20_000 },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith(`error: --metrics-port: cannot listen on 127.0.0.1:${taken.port}: `);
    expect(r.stderr).not.toContain("    at ");
  } finally {
    taken.stop(true);
  }
});

test("an empty --group is a usage error for lag (was a SIGSEGV) and consume", async () => {
  for (const cmd of [
    ["lag", "--topic", "users"],
    ["consume", "--sink", "none", "--topics", "users"],
  ]) {
    const r = await runIngest([...cmd, "--group", "", "-b", broker.bootstrap], { timeoutMs: 20_000 });
    expect({ cmd, code: r.code }).toEqual({ cmd, code: 2 });
    expect(r.stderr).toBe("error: --group: must not be empty\n");
  }
});

test("an empty topic list is a usage error for consume (was exit 1 from librdkafka) and lag (was a total lag of 0, exit 0)", async () => {
  for (const [cmd, flag] of [
    [["consume", "--sink", "none"], "--topics"],
    [["lag"], "--topic"],
  ] as const) {
    const r = await runIngest([...cmd, flag, ",", "-b", broker.bootstrap], { timeoutMs: 20_000 });
    expect({ cmd, code: r.code }).toEqual({ cmd, code: 2 });
    expect(r.stderr).toBe(`error: ${flag}: expected one or more topic names, got nothing\n`);
  }
});

test("a REDIS_URL with nothing listening, or one that is not a URL, is a clear error at start (no hang, no stack trace)", async () => {
  for (const [url, why] of [
    ["redis://:secret@127.0.0.1:1", /ECONNREFUSED/],
    ["garbage", /Invalid URL/],
  ] as const) {
    const t0 = performance.now();
    const r = await runIngest(["consume", "--sink", "redis", "--topics", "users", "-b", broker.bootstrap], { env: { REDIS_URL: url }, timeoutMs: 20_000 });
    expect({ url, code: r.code }).toEqual({ url, code: 1 });
    expect(r.stderr).toMatch(/^error: redis: cannot connect to /m);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).not.toContain("secret");
    expect(r.stderr).not.toContain("    at ");
    expect(performance.now() - t0).toBeLessThan(10_000);
  }
}, 30_000);

test("the embedded default: SQLite plus the Redis write-through cache agree on every user and product", async () => {
  const users = uniqueName("users");
  const orders = uniqueName("orders");
  await produceTopics(users, orders);
  const file = join(dir, `${uniqueName("db")}.sqlite`);
  // A Redis db of its own: product keys (product:P0001...) are the same in every test, and the
  // cache keeps the highest version it has seen, so a shared db would hold another test's rows.
  const redis = await claimRedisDb();
  const cli = (...args: string[]) => Bun.spawnSync(["redis-cli", "-n", String(redis.db), ...args]).stdout.toString();
  try {
    const r = await runIngest(
      [
        "consume",
        "--group",
        uniqueName("g"),
        "--topics",
        `${users},${orders}`,
        "--sink",
        "sqlite,redis",
        "--sqlite-path",
        file,
        "--initial-stock",
        String(STOCK),
        "--max-messages",
        String(USERS + ORDERS),
        "-b",
        broker.bootstrap,
        ...fast,
      ],
      { env: { REDIS_URL: redis.url }, timeoutMs: 90_000 },
    );
    expect(r.code).toBe(0);
    const { Database } = await import("bun:sqlite");
    const sq = new Database(file, { readonly: true });
    try {
      expect((sq.query("SELECT COUNT(*) AS n FROM users").get() as { n: number }).n).toBe(USERS);
      expect((sq.query("SELECT COUNT(*) AS n FROM orders").get() as { n: number }).n).toBe(ORDERS);
      const bad = sq
        .query(
          `SELECT COUNT(*) AS n FROM products p WHERE p.stock < 0 OR p.stock + COALESCE((SELECT SUM(quantity) FROM orders o WHERE o.product_id = p.product_id AND o.status = 'accepted'), 0) != ${STOCK}`,
        )
        .get() as { n: number };
      expect(bad.n).toBe(0);
      // Redis holds the same user and the same stock, checked with redis-cli.
      const u = JSON.parse(cli("get", "user:17"));
      expect(u.email).toBe((sq.query("SELECT email FROM users WHERE id = 17").get() as { email: string }).email);
      const touched = sq.query("SELECT product_id, stock FROM products WHERE version > 0 ORDER BY product_id LIMIT 20").all() as {
        product_id: string;
        stock: number;
      }[];
      expect(touched.length).toBeGreaterThan(0);
      for (const p of touched) expect(JSON.parse(cli("get", `product:${p.product_id}`)).stock).toBe(p.stock);
    } finally {
      sq.close();
    }
  } finally {
    await redis.drop();
  }
}, 120_000);

test("on a terminal: a live status line (written, rate, per sink, lag, dlq, in flight) and a summary rated from first record to last write; JSON lines when piped or with --log-format json", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 2);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const summary = join(dir, `${uniqueName("s")}.json`);
  const args = (group: string, extra: string[]) => [
    "consume",
    "--sink",
    "none",
    "--group",
    group,
    "--topics",
    users,
    "--idle-exit-ms",
    "1500",
    "--summary-json",
    summary,
    "-b",
    broker.bootstrap,
    ...fast,
    ...extra,
  ];
  // util-linux script(1) gives the run a pseudo-terminal; what it drew comes back on stdout.
  const onTty = (a: string[]) => {
    const cmd = ingestArgv(...a)
      .map((x) => `'${x.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: "info" } });
    expect(r.exitCode).toBe(0);
    return r.stdout.toString();
  };
  const drawn = onTty(args(uniqueName("g"), []));
  expect(drawn).toMatch(/\r\x1b\[2Kconsume [\d,]+ written, [\d,]+\/s \| none [\d,]+ \| lag [\d,]+ \| dlq 0 \| in flight [\d,]+/);
  expect(drawn).toContain(`consume done (idle for 1500 ms): received ${USERS.toLocaleString("en-US")}`);
  expect(drawn).toMatch(/msg\/s over [\d.]+ s \(first record to last write; ran [\d.]+ s\)/);
  // Log lines are for a person: no JSON, no per-partition arrays.
  expect(drawn).toMatch(/\d\d:\d\d:\d\d INFO +consume: started/);
  expect(drawn).not.toContain('{"level"');
  // The rate's time ends at the last write: the 1.5 s idle wait is not in it.
  const s = JSON.parse(readFileSync(summary, "utf8")) as { seconds: number; wallSeconds: number; written: number; msgs_per_s: number };
  expect(s.written).toBe(USERS);
  expect(s.wallSeconds - s.seconds).toBeGreaterThanOrEqual(1.4);
  expect(s.msgs_per_s).toBe(Math.round(s.written / s.seconds));
  // --log-format json on a terminal, and a pipe: JSON lines as before, no live line.
  const json = onTty(args(uniqueName("g"), ["--log-format", "json"]));
  expect(json).not.toContain("\x1b[2K");
  expect(json).toContain('"msg":"consume: started"');
  const piped = await runIngest(args(uniqueName("g"), []), { env: { LOG_LEVEL: "info" }, timeoutMs: 60_000 });
  expect(piped.code).toBe(0);
  expect(piped.stderr).not.toContain("\x1b[2K");
  const progress = piped.stderr.split("\n").filter((l) => l.includes('"consume: progress"'));
  expect(progress.length).toBeGreaterThan(0);
  // Per-partition detail only at debug level.
  for (const l of progress) expect(l).not.toMatch(/lag_by_partition|"committed"/);
}, 90_000);

test("--mysql-url and --redis-url are flags as well as variables (the flag wins), passwords masked wherever shown", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 1);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const flagUrl = mysqlUrl.replace("mysql://root@", "mysql://root:@");
  const r = await runIngest(
    [
      "consume",
      "--sink",
      "mysql",
      "--mysql-url",
      flagUrl,
      "--group",
      uniqueName("g"),
      "--topics",
      users,
      "--max-messages",
      String(USERS),
      "--log-format",
      "json",
      "-b",
      broker.bootstrap,
      ...fast,
    ],
    {
      env: { MYSQL_URL: "mysql://root:envsecret@127.0.0.1:1/none", LOG_LEVEL: "info" },
      timeoutMs: 60_000,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain(`"mysql":"${flagUrl.replace("root:@", "root:***@")}"`);
  expect(r.stderr).not.toContain("envsecret");
  for (const [flag, value] of [
    ["--mysql-url", "http://u:flagsecret@h:1/db"],
    ["--redis-url", "mysql://u:flagsecret@h:1"],
    ["--mysql-url", "not a url"],
  ] as const) {
    for (const cmd of ["consume", "serve"]) {
      const bad = await runIngest([cmd, flag, value, "-b", broker.bootstrap], { timeoutMs: 20_000 });
      expect({ cmd, flag, code: bad.code }).toEqual({ cmd, flag, code: 2 });
      expect(bad.stderr).toStartWith(`error: ${flag}: expected a URL like `);
      expect(bad.stderr).not.toContain("flagsecret");
    }
  }
}, 90_000);
