/**
 * `bun run bench:consume`: `ingest consume` over a users + orders backlog, for each lane count
 * and each sink set, with the stores' own bulk ceilings measured in the same run.
 * Run `bun run bench:consume --help` for the options; README.md ("Consume benchmark") for the figures.
 */
import { parseArgs } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir, cpus } from "node:os";
import { createConnection, format, type Connection } from "mysql2/promise";
import { createClient } from "redis";
import Papa from "papaparse";
import { seedProducts } from "../src/sinks/orders-logic.ts";
import { usersTsv } from "../src/sinks/mysql.ts";
import type { User } from "../src/core/records.ts";
import { MYSQL_MIGRATIONS } from "../src/sinks/migrate.ts";
import { DEFAULT_INITIAL_STOCK } from "../src/sinks/types.ts";
import { CpuSampler, coresByRole, pidsOf, startedAt, type CpuWindow } from "./proc-cpu.ts";

const HELP = `Usage: bun run bench:consume [--quick] [--rows N] [--workers 4] [--paths LIST] [--bins A,B] [--rounds R]

Generates N users and N orders (ingest gen, seed 42), produces them once into topics users and
orders (24 partitions each, lz4) on a fresh 3-broker embedded broker, then for every --workers
value, every path and every --bins binary (alternating, so a before/after shares the machine's
noise) runs
  ingest consume --topics T --sink S --workers W --from-beginning --max-messages N
in a fresh consumer group (MySQL: a fresh database bench_<random> per run, dropped after; Redis:
db 7, flushed before each run). A path is topic:sinks, e.g. users:mysql, orders:mysql+redis.

In the same run, the stores' OWN tools write the same rows (no Kafka, no decoding, no ingest code
in the timed part; each into a fresh database with the sink's schema):
  mariadb CLI: the users as 1,000-row INSERT ... ON DUPLICATE KEY UPDATE statements from a file
               (the ceiling of users:mysql), and the users by LOAD DATA LOCAL INFILE;
               the orders as a DBA's set-based SQL with the sink's semantics, per batch of
               5,000: LOAD DATA into a temporary table, drop the ids already recorded
               (idempotent on order_id), one UPDATE taking each product's total guarded by
               stock >= it (never below zero), one INSERT ... SELECT, in one transaction
               (the ceiling of orders:mysql+redis)
  redis-benchmark -t set -P 100 -d <the users' mean JSON size> -r N -n N, and redis-cli --pipe
               replaying the sink's exact commands (one MSET of user:{id} JSON per 5,000 users)
               (the ceilings of users:redis)
users:mysql+redis is judged against the slower store's ceiling. A diagnostic, not a ceiling, is
also printed: the old figure of a mysql2/node-redis loop running the sink's statements.
Prints a table (msgs/s = written / seconds from the first message; CPU and µs of CPU per record
from the kernel's rusage of the whole consume process) and, from /proc sampled every 50 ms,
where the CPU went while records flowed (first record to last write): the consumer by thread
(its JavaScript thread, librdkafka's, the JIT's, the collector's and allocator's), the broker,
redis-server and mysqld, and the machine's busy, stolen and idle shares of all its cores.
Writes bench/results/<date>[-quick]-consume.json (with --rows/--workers/--paths/--bins:
<date>-custom-N-HHMM-consume.json, so a trial never replaces a published run).

Options:
  --quick           N=100,000, one round
  --rows N          users and orders each (default 1,000,000)
  --workers LIST    lane counts (default 4)
  --paths LIST      default users:none,users:mysql,users:redis,users:mysql+redis,orders:mysql+redis
  --bins LIST       ingest binaries to compare, alternating (default ./ingest); the first is "ingest"
  --rounds R        repeat the matrix and the ceilings R times, report medians (default 1)
  -h, --help        this help
`;

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    rows: { type: "string" },
    workers: { type: "string" },
    paths: { type: "string" },
    bins: { type: "string" },
    rounds: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const N = Number(values.rows ?? (values.quick ? 100_000 : 1_000_000));
const WORKERS = (values.workers ?? "4").split(",").map(Number);
const PATHS = (values.paths ?? "users:none,users:mysql,users:redis,users:mysql+redis,orders:mysql+redis").split(",");
const BINS = (values.bins ?? join(ROOT, "ingest")).split(",");
const ROUNDS = Number(values.rounds ?? 1);
const ingest = BINS[0]!;
const binName = (b: string, i: number) => (i === 0 ? "ingest" : b.split("/").pop()!);
if (
  !Number.isSafeInteger(N) ||
  N < 1 ||
  !Number.isSafeInteger(ROUNDS) ||
  ROUNDS < 1 ||
  WORKERS.some((w) => !Number.isSafeInteger(w) || w < 1) ||
  PATHS.some((p) => !/^(users|orders):[a-z+]+$/.test(p)) ||
  BINS.some((b) => !existsSync(b))
) {
  process.stderr.write(HELP);
  process.exit(2);
}
const REDIS_URL = "redis://127.0.0.1:6379/7";
// The consumer's default: 5000 records per fetched batch.
const BATCH = 5000;
const tmp = mkdtempSync(join(tmpdir(), "bench-consume-"));
const env = { ...process.env, LOG_LEVEL: "error" };

function run(cmd: string[], extraEnv: Record<string, string> = {}, stdin?: string) {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...env, ...extraEnv }, stdin: stdin ? Bun.file(stdin) : undefined });
  if (r.exitCode !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim().split("\n").slice(-3).join(" | ")}`);
  return r;
}

interface Broker {
  bootstrap: string;
  pid: number;
  stop: () => Promise<void>;
}
const STORE_PIDS = { redis: pidsOf("redis-server"), mysqld: [...pidsOf("mariadbd"), ...pidsOf("mysqld")] };

async function startBroker(): Promise<Broker> {
  const p = Bun.spawn([ingest, "broker", "--brokers", "3", "--topics", "users:24,orders:24"], { stdout: "pipe", stderr: "ignore", env });
  const { value } = await p.stdout.getReader().read();
  const bootstrap = new TextDecoder().decode(value).trim().split("\n")[0]!;
  return { bootstrap, pid: p.pid, stop: async () => void (p.kill("SIGTERM"), await p.exited) };
}

const held = (b: string, topic: string) =>
  (JSON.parse(run([ingest, "topic", "describe", topic, "--json", "-b", b]).stdout.toString()) as { partitions: { messages: number }[] }).partitions.reduce(
    (s, p) => s + p.messages,
    0,
  );

async function admin<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await createConnection({ host: "127.0.0.1", user: "root" });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A database of its own per run, so no run sees another's rows (or stock); with the sink's schema and products when asked. */
async function freshDb(schema = false): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  if (schema) {
    const c = await createConnection({ host: "127.0.0.1", user: "root", database: name, multipleStatements: true });
    for (const m of MYSQL_MIGRATIONS) await c.query(m.sql);
    await c.query("INSERT INTO products (product_id, name, price, stock, version, updated_at) VALUES ?", [
      seedProducts(1000, DEFAULT_INITIAL_STOCK).map((p) => [p.product_id, p.name, p.price, p.stock, p.version, p.updated_at]),
    ]);
    await c.end();
  }
  return { name, url: `mysql://root@127.0.0.1:3306/${name}`, drop: () => admin((c) => c.query(`DROP DATABASE ${name}`)).then(() => undefined) };
}

async function flushRedis() {
  const r = createClient({ url: REDIS_URL });
  await r.connect();
  await r.flushDb();
  await r.quit();
}

const chunks = <T>(a: readonly T[], n: number) => Array.from({ length: Math.ceil(a.length / n) }, (_, i) => a.slice(i * n, (i + 1) * n));
const toUser = (u: Record<string, string>): User => ({
  id: Number(u.id),
  first_name: u.first_name!,
  last_name: u.last_name!,
  email: u.email!,
  age: Number(u.age),
  country: u.country!,
  city: u.city!,
  signup_ts: Number(u.signup_ts),
  is_active: u.is_active === "true",
  score: Number(u.score),
  phone: u.phone || null,
});

const USER_COLS = "id, first_name, last_name, email, age, country, city, signup_ts, is_active, score, phone";
const ORDER_COLS = "order_id, customer_id, product_id, quantity, amount, currency, created_at, status, reason, processed_at";

interface Files {
  upsertSql: string;
  usersTsv: string;
  ordersSql: string;
  usersResp: string;
  valueBytes: number;
}

/**
 * The inputs of the stores' own tools, written before anything is timed: the same users and
 * orders the topics hold, in file order.
 */
function writeFiles(users: User[], orders: Record<string, string>[]): Files {
  const f: Files = {
    upsertSql: join(tmp, "users-upsert.sql"),
    usersTsv: join(tmp, "users.tsv"),
    ordersSql: join(tmp, "orders.sql"),
    usersResp: join(tmp, "users.resp"),
    valueBytes: 0,
  };
  const upd = USER_COLS.split(", ")
    .slice(1)
    .map((c) => `${c} = VALUES(${c})`)
    .join(", ");
  const up: string[] = [];
  for (const part of chunks(users, 1000)) {
    up.push(
      format(`INSERT INTO users (${USER_COLS}) VALUES ? ON DUPLICATE KEY UPDATE ${upd};`, [
        part.map((u) => [u.id, u.first_name, u.last_name, u.email, u.age, u.country, u.city, u.signup_ts, u.is_active ? 1 : 0, u.score, u.phone]),
      ]),
    );
  }
  writeFileSync(f.upsertSql, up.join("\n") + "\n");
  writeFileSync(f.usersTsv, usersTsv(users));
  // Orders: what a DBA would replay for the sink's semantics, set-based, per batch: the batch
  // by LOAD DATA into a temporary table, the ids already recorded dropped from it (idempotent on
  // order_id), each product's total taken in one guarded UPDATE (never below zero, with the
  // CHECK constraint), the rest inserted in one INSERT ... SELECT. Every order of this data is
  // accepted (1,000,000 initial stock per product) and its ids are distinct.
  const os: string[] = [
    "CREATE TEMPORARY TABLE b (order_id VARBINARY(256) NOT NULL, customer_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, quantity INT NOT NULL, amount DOUBLE NOT NULL, currency VARCHAR(8) NOT NULL, created_at BIGINT NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;",
  ];
  let marker = 1;
  for (const batch of chunks(orders, BATCH)) {
    const now = 1_900_000_000_000 + marker;
    const tsv = join(tmp, `orders-${marker++}.tsv`);
    writeFileSync(
      tsv,
      batch.map((o) => [o.order_id, o.customer_id, o.product_id, o.quantity, o.amount, o.currency, o.created_at].join("\t")).join("\n") + "\n",
    );
    os.push(
      `LOAD DATA LOCAL INFILE '${tsv}' INTO TABLE b CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n';`,
      "START TRANSACTION;",
      "DELETE b FROM b JOIN orders o ON o.order_id = b.order_id;",
      `UPDATE products p JOIN (SELECT product_id, SUM(quantity) AS q FROM b GROUP BY product_id) n USING (product_id) SET p.stock = p.stock - n.q, p.version = p.version + 1, p.updated_at = ${now} WHERE p.stock >= n.q;`,
      `INSERT INTO orders (${ORDER_COLS}) SELECT order_id, customer_id, product_id, quantity, amount, currency, created_at, 'accepted', NULL, ${now} FROM b;`,
      "COMMIT;",
      "DELETE FROM b;",
    );
  }
  writeFileSync(f.ordersSql, os.join("\n") + "\n");
  // The sink's exact Redis commands: one MSET of user:{id} and the user's JSON per batch.
  const bulk = (x: string) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`;
  const resp: string[] = [];
  let bytes = 0;
  for (const part of chunks(users, BATCH)) {
    let cmd = `*${1 + 2 * part.length}\r\n${bulk("MSET")}`;
    for (const u of part) {
      const v = JSON.stringify(u);
      bytes += Buffer.byteLength(v);
      cmd += bulk(`user:${u.id}`) + bulk(v);
    }
    resp.push(cmd);
  }
  writeFileSync(f.usersResp, resp.join(""));
  f.valueBytes = Math.round(bytes / users.length);
  return f;
}

/** Seconds the mariadb client takes to run a file into a fresh database with the sink's schema. */
async function mariadbReplay(file: string, sql?: string): Promise<number> {
  const db = await freshDb(true);
  try {
    const args = ["mariadb", "--local-infile=1", "-h", "127.0.0.1", "-u", "root", db.name];
    const t0 = performance.now();
    if (sql) run([...args, "-e", sql]);
    else run(args, {}, file);
    return (performance.now() - t0) / 1000;
  } finally {
    await db.drop();
  }
}

interface Ceilings {
  upsert: number;
  loadData: number;
  orders: number;
  redisBench: number | null;
  redisPipe: number | null;
  libMysqlUsers: number;
  libRedisUsers: number;
}

/** The stores' own tools on the same rows, in records per second. */
async function ceilings(f: Files, users: User[]): Promise<Ceilings> {
  const upsert = N / (await mariadbReplay(f.upsertSql));
  const loadData =
    N /
    (await mariadbReplay(
      "",
      `LOAD DATA LOCAL INFILE '${f.usersTsv}' REPLACE INTO TABLE users CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${USER_COLS})`,
    ));
  const orders = N / (await mariadbReplay(f.ordersSql));
  let redisBench: number | null = null;
  let redisPipe: number | null = null;
  if (existsSync("/usr/bin/redis-benchmark")) {
    await flushRedis();
    const r = Bun.spawnSync(
      [
        "redis-benchmark",
        "-h",
        "127.0.0.1",
        "-p",
        "6379",
        "--dbnum",
        "7",
        "-P",
        "100",
        "-t",
        "set",
        "-d",
        String(f.valueBytes),
        "-r",
        String(N),
        "-n",
        String(N),
        "-q",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const m = /SET: ([\d.]+) requests per second/.exec(r.stdout.toString());
    redisBench = m ? Number(m[1]) : null;
  }
  if (existsSync("/usr/bin/redis-cli")) {
    await flushRedis();
    const t0 = performance.now();
    run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "-n", "7", "--pipe"], {}, f.usersResp);
    redisPipe = N / ((performance.now() - t0) / 1000);
  }
  // Diagnostics only (the client libraries running statements in a loop, one connection).
  const libMysqlUsers = N / (await libMysql(users));
  const libRedisUsers = N / (await libRedis(users));
  await flushRedis();
  return { upsert, loadData, orders, redisBench, redisPipe, libMysqlUsers, libRedisUsers };
}

/** Diagnostic: mysql2 on one connection, the users as 2,000-row upserts in transactions of 5,000 (the old sink's statements). */
async function libMysql(users: User[]): Promise<number> {
  const db = await freshDb(true);
  const c = await createConnection({ uri: db.url });
  try {
    const upd = USER_COLS.split(", ")
      .slice(1)
      .map((k) => `${k} = VALUES(${k})`)
      .join(", ");
    const t0 = performance.now();
    for (const batch of chunks(users, BATCH)) {
      await c.query("START TRANSACTION");
      for (const part of chunks(batch, 2000)) {
        await c.query(`INSERT INTO users (${USER_COLS}) VALUES ? ON DUPLICATE KEY UPDATE ${upd}`, [
          part.map((u) => [u.id, u.first_name, u.last_name, u.email, u.age, u.country, u.city, u.signup_ts, u.is_active ? 1 : 0, u.score, u.phone]),
        ]);
      }
      await c.query("COMMIT");
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await c.end();
    await db.drop();
  }
}

/** Diagnostic: node-redis, the user JSON values SET in pipelines of 5,000 (the old sink's commands). */
async function libRedis(users: User[]): Promise<number> {
  await flushRedis();
  const r = createClient({ url: REDIS_URL });
  await r.connect();
  try {
    const t0 = performance.now();
    for (const batch of chunks(users, BATCH)) {
      const m = r.multi();
      for (const u of batch) m.set(`user:${u.id}`, JSON.stringify(u));
      await m.execAsPipeline();
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await r.flushDb();
    await r.quit();
  }
}

/**
 * The C baseline of the issue ("0.8 of a C consumer's rate without decoding"): bench's
 * c-bench reads one topic in a group without decoding, so it and ingest --sink none both read the
 * users topic alone, side by side. Null if c-bench is not built (bench/build.sh).
 */
async function cBaseline(bootstrap: string, round: number): Promise<Baseline | null> {
  const cBench = join(ROOT, "bench/build/c-bench");
  if (!existsSync(cBench)) return null;
  const c = run([cBench, "consume", "--brokers", bootstrap, "--topic", "users", "--messages", String(N), "--group", `bench-c-${round}-${Date.now()}`]);
  const cj = JSON.parse(
    c.stdout
      .toString()
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop()!,
  ) as { messages: number; seconds: number };
  // The same, also copying each key and value out of the message, as ingest must to hand them on.
  const cc = run([
    cBench,
    "consume",
    "--copy",
    "--brokers",
    bootstrap,
    "--topic",
    "users",
    "--messages",
    String(N),
    "--group",
    `bench-ccopy-${round}-${Date.now()}`,
  ]);
  const ccj = JSON.parse(
    cc.stdout
      .toString()
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop()!,
  ) as { messages: number; seconds: number };
  const sum = join(tmp, `consume-users-${round}.json`);
  run([
    ingest,
    "consume",
    "--group",
    `bench-users-${round}-${Date.now()}`,
    "--topics",
    "users",
    "--sink",
    "none",
    "--from-beginning",
    "--max-messages",
    String(N),
    "--summary-json",
    sum,
    "-b",
    bootstrap,
  ]);
  const ij = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number };
  // And the transport alone, like the C consumer: --format raw takes the values undecoded.
  run([
    ingest,
    "consume",
    "--group",
    `bench-raw-${round}-${Date.now()}`,
    "--topics",
    "users",
    "--sink",
    "none",
    "--format",
    "raw",
    "--from-beginning",
    "--max-messages",
    String(N),
    "--summary-json",
    sum,
    "-b",
    bootstrap,
  ]);
  const rj = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number };
  return { c: cj.messages / cj.seconds, cCopy: ccj.messages / ccj.seconds, ingest: ij.written / ij.seconds, raw: rj.written / rj.seconds };
}
interface Baseline {
  c: number;
  cCopy: number;
  ingest: number;
  raw: number;
}

interface Row {
  round: number;
  bin: string;
  path: string;
  workers: number;
  msgs_per_s: number;
  seconds: number;
  wall_s: number;
  cpu_s: number;
  cpu_us_per_record: number;
  written: number;
  /** CPU while records flowed (first record to last write), by process and consumer thread. */
  window?: CpuWindow;
  error?: string;
}

async function consumeRun(bin: string, name: string, broker: Broker, path: string, w: number, round: number): Promise<Row> {
  const [topic, sinks] = path.split(":") as [string, string];
  const db = sinks.includes("mysql") ? await freshDb() : null;
  if (sinks.includes("redis")) await flushRedis();
  const sum = join(tmp, `consume-${path}-${w}-${round}.json`);
  const t0 = performance.now();
  const base = { round, bin: name, path, workers: w };
  let sampler: CpuSampler | undefined;
  try {
    const p = Bun.spawn(
      [
        bin,
        "consume",
        "--group",
        `bench-${topic}-${sinks}-${w}-${round}-${Date.now()}`,
        "--topics",
        topic,
        "--sink",
        sinks.replaceAll("+", ","),
        "--workers",
        String(w),
        "--from-beginning",
        "--max-messages",
        String(N),
        "--summary-json",
        sum,
        "-b",
        broker.bootstrap,
      ],
      {
        cwd: ROOT,
        stdout: "ignore",
        stderr: "pipe",
        env: { ...env, ...(db ? { MYSQL_URL: db.url } : {}), ...(sinks.includes("redis") ? { REDIS_URL } : {}) },
      },
    );
    // The consumer by thread, the broker and the stores whole, the machine: what each used while records flowed.
    sampler = new CpuSampler(() => ({
      consume: { pids: [p.pid], threads: true },
      broker: { pids: [broker.pid], threads: false },
      "redis-server": { pids: STORE_PIDS.redis, threads: false },
      mysqld: { pids: STORE_PIDS.mysqld, threads: false },
    })).start();
    const started = startedAt(p.pid);
    const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    sampler.stop();
    if (code !== 0) throw new Error(`consume exited ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    const wall = (performance.now() - t0) / 1000;
    const ru = p.resourceUsage();
    // The summary's msgs_per_s is written / seconds, and seconds start at the first message (not at start-up).
    const j = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number; msgs_per_s: number; firstMessageAt: number; lastWriteAt: number };
    const cpu = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : NaN;
    // Its performance.now() counts from about its start (tens of ms after exec): the window of its
    // first record to its last write, on the kernel's clock.
    const window = sampler.window(started + j.firstMessageAt / 1000, started + j.lastWriteAt / 1000);
    const row: Row = {
      ...base,
      msgs_per_s: j.msgs_per_s,
      seconds: round2(j.seconds),
      wall_s: round2(wall),
      cpu_s: round2(cpu),
      cpu_us_per_record: round2((cpu / j.written) * 1e6),
      written: j.written,
      window,
    };
    if (j.written !== N) row.error = `wrote ${j.written} of ${N}`;
    return row;
  } catch (e) {
    sampler?.stop();
    return {
      ...base,
      msgs_per_s: NaN,
      seconds: NaN,
      wall_s: round2((performance.now() - t0) / 1000),
      cpu_s: NaN,
      cpu_us_per_record: NaN,
      written: 0,
      error: (e as Error).message,
    };
  } finally {
    await db?.drop();
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const fmt = (x: number | null) => (x !== null && Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const r2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const pct = (x: number) => `${Math.round(x * 100)}%`;

/** Per process / thread role, the median over runs of the cores used; the machine's shares likewise. */
function medianCores(ws: CpuWindow[]): { cores: Record<string, number>; machine: CpuWindow["machine"] } | null {
  if (!ws.length) return null;
  const per = ws.map((w) => coresByRole(w));
  const keys = [...new Set(per.flatMap((c) => Object.keys(c)))];
  const cores = Object.fromEntries(keys.map((k) => [k, round2(median(per.map((c) => c[k] ?? 0)))]));
  const machine = {
    busy: median(ws.map((w) => w.machine.busy)),
    steal: median(ws.map((w) => w.machine.steal)),
    idle: median(ws.map((w) => w.machine.idle)),
  };
  return { cores, machine };
}

const ROLE_ORDER = ["consume js", "consume librdkafka", "consume jit", "consume gc+alloc"];
function coresLine(w: CpuWindow | Record<string, number>, machine?: CpuWindow["machine"]): string {
  const cores = "cpu" in w && "machine" in w ? coresByRole(w as CpuWindow) : (w as Record<string, number>);
  const m = machine ?? ("machine" in w ? (w as CpuWindow).machine : undefined);
  const keys = Object.keys(cores).sort((a, b) => {
    const ia = ROLE_ORDER.indexOf(a);
    const ib = ROLE_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  const consume = keys.filter((k) => k.startsWith("consume ")).reduce((a, k) => a + cores[k]!, 0);
  return (
    `consume ${consume.toFixed(2)} (${keys
      .filter((k) => k.startsWith("consume "))
      .map((k) => `${k.slice(8)} ${cores[k]!.toFixed(2)}`)
      .join(", ")}); ` +
    keys
      .filter((k) => !k.startsWith("consume "))
      .map((k) => `${k} ${cores[k]!.toFixed(2)}`)
      .join(", ") +
    (m ? `; machine busy ${pct(m.busy)}, steal ${pct(m.steal)}, idle ${pct(m.idle)} of ${cpus().length} cores` : "")
  );
}

async function main() {
  if (!existsSync(ingest)) throw new Error(`${ingest} not found: bun run build first`);
  const usersCsv = join(tmp, "users.csv");
  const ordersCsv = join(tmp, "orders.csv");
  run([ingest, "gen", "users", "--rows", String(N), "--out", usersCsv, "--seed", "42"]);
  run([ingest, "gen", "orders", "--rows", String(N), "--out", ordersCsv, "--seed", "42"]);
  const users = Papa.parse<Record<string, string>>(readFileSync(usersCsv, "utf8"), { header: true, skipEmptyLines: true }).data.map(toUser);
  const orders = Papa.parse<Record<string, string>>(readFileSync(ordersCsv, "utf8"), { header: true, skipEmptyLines: true }).data;
  const files = writeFiles(users, orders);
  const broker = await startBroker();
  const rows: Row[] = [];
  const ceil: Ceilings[] = [];
  const baseline: Baseline[] = [];
  let produceS = 0;
  try {
    for (const [file, topic, key, schema] of [
      [usersCsv, "users", "id", "data/users.avsc"],
      [ordersCsv, "orders", "customer_id", "data/orders.avsc"],
    ] as const) {
      const sum = join(tmp, `produce-${topic}.json`);
      run([
        ingest,
        "produce",
        "--file",
        file,
        "--topic",
        topic,
        "--key",
        key,
        "--schema",
        join(ROOT, schema),
        "--compression",
        "lz4",
        "--no-progress",
        "--summary-json",
        sum,
        "-b",
        broker.bootstrap,
      ]);
      produceS += (JSON.parse(readFileSync(sum, "utf8")).seconds as { total: number }).total;
      const kept = held(broker.bootstrap, topic);
      if (kept !== N) throw new Error(`the broker holds ${kept} of ${N} ${topic} (the mock trims past ~5 MiB/partition): use fewer --rows`);
    }
    console.error(
      `bench:consume: ${fmt(N)} users + ${fmt(N)} orders (produced in ${produceS.toFixed(2)} s), workers ${WORKERS.join(",")}, paths ${PATHS.join(" ")}, bins ${BINS.join(" ")}, ${ROUNDS} round(s); ${cpus().length} cores`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const w of WORKERS) {
        for (const p of PATHS) {
          // Alternate the binaries path by path (and reverse their order every other round), so they share the machine's noise.
          const order = BINS.map((b, i) => [b, binName(b, i)] as const);
          if (round % 2 === 0) order.reverse();
          for (const [b, name] of order) {
            const row = await consumeRun(b, name, broker, p, w, round);
            rows.push(row);
            console.error(
              `  round ${round} ${name.padEnd(14)} workers ${w} ${p.padEnd(20)} ${fmt(row.msgs_per_s).padStart(9)} msg/s  ${r2(row.cpu_us_per_record)} µs CPU/record  (written ${fmt(row.written)}, wall ${row.wall_s} s)${row.error ? `  ERROR ${row.error}` : ""}`,
            );
            if (row.window) console.error(`    cores used while records flowed: ${coresLine(row.window)}`);
          }
        }
      }
      const b = await cBaseline(broker.bootstrap, round).catch((e) => (console.error(`  C baseline failed: ${(e as Error).message}`), null));
      if (b) baseline.push(b);
      // The stores' own tools after the matrix of the same round, with the broker idle (it holds only memory).
      const c = await ceilings(files, users);
      ceil.push(c);
      console.error(
        `  round ${round} ceilings: mariadb upsert ${fmt(c.upsert)} rows/s, LOAD DATA ${fmt(c.loadData)} rows/s, orders SQL ${fmt(c.orders)} orders/s, ` +
          `redis-benchmark -P 100 -d ${files.valueBytes} ${fmt(c.redisBench)} SET/s, redis-cli --pipe (MSET) ${fmt(c.redisPipe)} keys/s; diagnostics: mysql2 loop ${fmt(c.libMysqlUsers)}, node-redis loop ${fmt(c.libRedisUsers)}`,
      );
    }
  } finally {
    await broker.stop();
  }

  const cm = (k: keyof Ceilings) => median(ceil.map((c) => c[k] ?? NaN));
  const C = {
    upsert: cm("upsert"),
    loadData: cm("loadData"),
    orders: cm("orders"),
    redisBench: cm("redisBench"),
    redisPipe: cm("redisPipe"),
    libMysqlUsers: cm("libMysqlUsers"),
    libRedisUsers: cm("libRedisUsers"),
  };
  // Each path's ceiling: the store's own tool on the same rows; with two stores, the slower one's.
  const ceilingOf = (path: string): { value: number; what: string }[] => {
    const [topic, sinks] = path.split(":") as [string, string];
    if (topic === "orders") return sinks.includes("mysql") ? [{ value: C.orders, what: "mariadb orders SQL" }] : [];
    const out: { value: number; what: string }[] = [];
    const redisPipe = { value: C.redisPipe, what: "redis-cli --pipe" };
    if (sinks === "mysql") out.push({ value: C.upsert, what: "mariadb upsert" }, { value: C.loadData, what: "mariadb LOAD DATA" });
    if (sinks === "redis") out.push({ value: C.redisBench, what: "redis-benchmark -P 100" }, redisPipe);
    if (sinks === "mysql+redis")
      out.push(
        C.upsert <= C.redisPipe || !Number.isFinite(C.redisPipe)
          ? { value: C.upsert, what: "slower store: mariadb upsert" }
          : { ...redisPipe, what: "slower store: redis-cli --pipe" },
      );
    return out;
  };
  const med = WORKERS.flatMap((w) =>
    PATHS.flatMap((p) =>
      BINS.map((b, i) => binName(b, i)).map((bin) => {
        const rs = rows.filter((r) => r.workers === w && r.path === p && r.bin === bin);
        return {
          bin,
          path: p,
          workers: w,
          msgs_per_s: median(rs.map((r) => r.msgs_per_s)),
          seconds: round2(median(rs.map((r) => r.seconds))),
          cpu_s: round2(median(rs.map((r) => r.cpu_s))),
          cpu_us_per_record: round2(median(rs.map((r) => r.cpu_us_per_record))),
          errors: rs.filter((r) => r.error).length,
          cores: medianCores(rs.flatMap((r) => (r.window ? [r.window] : []))),
          vs: ceilingOf(p).map((c) => ({ what: c.what, ratio: median(rs.map((r) => r.msgs_per_s)) / c.value })),
        };
      }),
    ),
  );
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const lines = [
    `Measured ${when} UTC (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}), ${fmt(N)} users + ${fmt(N)} orders, embedded 3-broker mock, 24 partitions each, lz4; ${ROUNDS} round(s)${ROUNDS > 1 ? ", medians" : ""}.`,
    "",
    `Stores' own tools, same rows, same run: mariadb client 1,000-row INSERT ... ON DUPLICATE KEY UPDATE ${fmt(C.upsert)} users/s, LOAD DATA LOCAL INFILE ${fmt(C.loadData)} users/s, ` +
      `orders SQL (per batch of ${BATCH}: LOAD DATA into a temporary table, drop recorded ids, guarded decrement, INSERT ... SELECT) ${fmt(C.orders)} orders/s; redis-benchmark -t set -P 100 -d ${files.valueBytes} ${fmt(C.redisBench)} SET/s; ` +
      `redis-cli --pipe of the sink's MSETs ${fmt(C.redisPipe)} keys/s.`,
    `Diagnostic only (client libraries in a loop, not a ceiling): mysql2 2,000-row upserts ${fmt(C.libMysqlUsers)} users/s, node-redis pipelined SETs ${fmt(C.libRedisUsers)} users/s.`,
    "",
    "| binary | path | workers | msgs/s | vs the store's own tool | CPU s | µs CPU/record |",
    "| --- | --- | ---: | ---: | --- | ---: | ---: |",
    ...med.map(
      (m) =>
        `| ${m.bin} | ${m.path} | ${m.workers} | ${fmt(m.msgs_per_s)}${m.errors ? ` (${m.errors} failed)` : ""} | ${m.vs.map((v) => `${r2(v.ratio)} of ${v.what}`).join(", ") || "-"} | ${m.cpu_s} | ${m.cpu_us_per_record} |`,
    ),
    "",
    "msgs/s = records written / seconds from the first message to the last write; CPU s from the kernel's rusage of the whole process (start-up and group join included).",
    "",
    "Where the CPU went while records flowed (first record to last write; cores = CPU seconds / the window's seconds, sampled every 50 ms from /proc, medians):",
    "",
    ...med.filter((m) => m.cores).map((m) => `- ${m.bin} ${m.path}: ${coresLine(m.cores!.cores, m.cores!.machine)}`),
    "",
    baseline.length
      ? `Users topic alone, same broker: C consumer ${fmt(median(baseline.map((b) => b.c)))} msg/s, ingest --format raw --sink none ${fmt(median(baseline.map((b) => b.raw)))}, ingest --sink none decoding ${fmt(median(baseline.map((b) => b.ingest)))}.`
      : "C baseline skipped: bench/build/c-bench is not built (bash bench/build.sh).",
  ];
  console.log(lines.join("\n"));
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  // A run with its own --rows/--workers/--paths gets a name of its own, so a trial never replaces the published figures.
  const custom = values.rows || values.workers || values.paths || values.bins ? `-custom-${N}-${new Date().toISOString().slice(11, 16).replace(":", "")}` : "";
  const out = join(ROOT, "bench/results", `${date}${values.quick ? "-quick" : ""}${custom}-consume.json`);
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        rows: N,
        rounds: ROUNDS,
        cores: cpus().length,
        bins: BINS,
        produce_s: produceS,
        value_bytes: files.valueBytes,
        ceilings: C,
        ceiling_runs: ceil,
        c_baseline_users_topic: baseline,
        medians: med,
        runs: rows,
      },
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
      2,
    )}\n`,
  );
  console.error(`wrote ${out}`);
}

try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
