/**
 * `bun run bench:consume`: `ingest consume` over a users + orders backlog, for each lane count
 * and each sink set, with the stores' own bulk ceilings measured in the same run.
 * Run `bun run bench:consume --help` for the options; README.md ("Consume benchmark") for the figures.
 */
import { parseArgs } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir, cpus } from "node:os";
import { createConnection, type Connection } from "mysql2/promise";
import { createClient } from "redis";
import Papa from "papaparse";
import { seedProducts } from "../src/sinks/orders-logic.ts";
import { MYSQL_MIGRATIONS } from "../src/sinks/migrate.ts";
import { DEFAULT_INITIAL_STOCK } from "../src/sinks/types.ts";

const HELP = `Usage: bun run bench:consume [--quick] [--rows N] [--workers 1,2,4,10] [--sinks none,mysql,redis,mysql+redis] [--rounds R]

Generates N users and N orders (ingest gen, seed 42), produces them once into topics users and
orders (24 partitions each, lz4) on a fresh 3-broker embedded broker, then for every --workers
value and every sink set runs
  ingest consume --topics users,orders --sink S --workers W --from-beginning --max-messages 2N
in a fresh consumer group (MySQL: a fresh database bench_<random> per run, dropped after; Redis:
db 7, flushed before each run). In the same run it measures each store's own bulk ceiling on the
same rows, without Kafka and without decoding:
  MySQL: multi-row INSERT ... ON DUPLICATE KEY UPDATE of the users, and the orders with the sink's
         transaction per batch (existing-id lookup, products FOR UPDATE, insert, stock decrement)
  Redis: the N user:{id} JSON values SET in pipelines of the sink's batch size, and
         redis-benchmark -P 100 -t set -n N (tiny values; for reference only)
and, for the issue's "0.8 of a C consumer", native-bench's C consumer (no decoding; once as is,
payloads untouched, once copying each key and value out as a consumer that hands them on must), ingest
--format raw --sink none (no decoding either) and ingest --sink none (decoding and validating),
each reading the users topic alone, side by side (if native-bench/build.sh was run).
Prints a table (msgs/s = written / seconds from the first message; wall and CPU from
/usr/bin/time) and writes native-bench/results/<date>[-quick]-consume.json.

Options:
  --quick           N=100,000, workers 1,4, one round (about 2 minutes here)
  --rows N          users and orders each (default 1,000,000, the issue's figure: the matrix of 16
                    runs takes about 15 minutes on this 2-core machine, mostly the MySQL runs)
  --workers LIST    lane counts (default 1,2,4,10)
  --sinks LIST      sink sets (default none,mysql,redis,mysql+redis)
  --rounds R        repeat the matrix and the ceilings R times, report medians (default 1)
  -h, --help        this help
`;

const ROOT = join(import.meta.dir, "..");
const ingest = join(ROOT, "ingest");
const { values } = parseArgs({
  options: {
    quick: { type: "boolean" }, rows: { type: "string" }, workers: { type: "string" }, sinks: { type: "string" },
    rounds: { type: "string" }, help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const N = Number(values.rows ?? (values.quick ? 100_000 : 1_000_000));
const WORKERS = (values.workers ?? (values.quick ? "1,4" : "1,2,4,10")).split(",").map(Number);
const SINKS = (values.sinks ?? "none,mysql,redis,mysql+redis").split(",");
const ROUNDS = Number(values.rounds ?? 1);
if (!Number.isSafeInteger(N) || N < 1 || !Number.isSafeInteger(ROUNDS) || ROUNDS < 1 || WORKERS.some((w) => !Number.isSafeInteger(w) || w < 1)) {
  process.stderr.write(HELP);
  process.exit(2);
}
const REDIS_URL = "redis://127.0.0.1:6379/7";
// The sink's defaults: 5000 records per fetched batch, 2000 rows per SQL statement.
const BATCH = 5000;
const CHUNK = 2000;
const tmp = mkdtempSync(join(tmpdir(), "bench-consume-"));
const env = { ...process.env, LOG_LEVEL: "error" };

function run(cmd: string[], extraEnv: Record<string, string> = {}) {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...env, ...extraEnv } });
  if (r.exitCode !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim().split("\n").slice(-3).join(" | ")}`);
  return r;
}

async function startBroker(): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const p = Bun.spawn([ingest, "broker", "--brokers", "3", "--topics", "users:24,orders:24"], { stdout: "pipe", stderr: "ignore", env });
  const { value } = await p.stdout.getReader().read();
  const bootstrap = new TextDecoder().decode(value).trim().split("\n")[0]!;
  return { bootstrap, stop: async () => void (p.kill("SIGTERM"), await p.exited) };
}

const held = (b: string, topic: string) =>
  (JSON.parse(run([ingest, "topic", "describe", topic, "--json", "-b", b]).stdout.toString()) as { partitions: { messages: number }[] }).partitions.reduce((s, p) => s + p.messages, 0);

async function admin<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await createConnection({ host: "127.0.0.1", user: "root" });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A database of its own per run, so no run sees another's rows (or stock). */
async function freshDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return { url: `mysql://root@127.0.0.1:3306/${name}`, drop: () => admin((c) => c.query(`DROP DATABASE ${name}`)).then(() => undefined) };
}

async function flushRedis() {
  const r = createClient({ url: REDIS_URL });
  await r.connect();
  await r.flushDb();
  await r.quit();
}

const chunks = <T>(a: readonly T[], n: number) => Array.from({ length: Math.ceil(a.length / n) }, (_, i) => a.slice(i * n, (i + 1) * n));

/** MySQL ceiling: the same rows and the sink's statements, no Kafka and no decoding. Seconds for all 2N rows. */
async function mysqlCeiling(users: Record<string, string>[], orders: Record<string, string>[]): Promise<number> {
  const db = await freshDb();
  const c = await createConnection({ uri: db.url, multipleStatements: true });
  try {
    for (const m of MYSQL_MIGRATIONS) await c.query(m.sql); // the sink's own schema
    await c.query("INSERT INTO products (product_id, name, price, stock, version, updated_at) VALUES ?", [
      seedProducts(1000, DEFAULT_INITIAL_STOCK).map((p) => [p.product_id, p.name, p.price, p.stock, p.version, p.updated_at]),
    ]);
    const cols = "first_name, last_name, email, age, country, city, signup_ts, is_active, score, phone".split(", ");
    const upsert = `INSERT INTO users (id, ${cols.join(", ")}) VALUES ? ON DUPLICATE KEY UPDATE ${cols.map((k) => `${k} = VALUES(${k})`).join(", ")}`;
    const t0 = performance.now();
    for (const batch of chunks(users, BATCH)) {
      await c.query("START TRANSACTION");
      for (const part of chunks(batch, CHUNK)) {
        await c.query(upsert, [
          part.map((u) => [Number(u.id), u.first_name, u.last_name, u.email, Number(u.age), u.country, u.city, Number(u.signup_ts), u.is_active === "true" ? 1 : 0, Number(u.score), u.phone || null]),
        ]);
      }
      await c.query("COMMIT");
    }
    for (const batch of chunks(orders, BATCH)) {
      const need = new Map<string, number>();
      for (const o of batch) need.set(o.product_id!, (need.get(o.product_id!) ?? 0) + Number(o.quantity));
      const ids = [...need.keys()].sort();
      const now = Date.now();
      await c.query("START TRANSACTION");
      for (const part of chunks(batch, CHUNK)) await c.query("SELECT order_id, status FROM orders WHERE order_id IN (?)", [part.map((o) => o.order_id)]);
      await c.query("SELECT product_id, name, price, stock, version, updated_at FROM products WHERE product_id IN (?) ORDER BY product_id FOR UPDATE", [ids]);
      for (const part of chunks(batch, CHUNK)) {
        await c.query("INSERT INTO orders (order_id, customer_id, product_id, quantity, amount, currency, created_at, status, reason, processed_at) VALUES ?", [
          part.map((o) => [o.order_id, Number(o.customer_id), o.product_id, Number(o.quantity), Number(o.amount), o.currency, Number(o.created_at), "accepted", null, now]),
        ]);
      }
      const cases = ids.map(() => "WHEN ? THEN ?").join(" ");
      const pairs = ids.flatMap((id) => [id, need.get(id)!]);
      await c.query(
        `UPDATE products SET stock = stock - (CASE product_id ${cases} END), version = version + 1, updated_at = ? WHERE product_id IN (?) AND stock >= (CASE product_id ${cases} END)`,
        [...pairs, now, ids, ...pairs],
      );
      await c.query("COMMIT");
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await c.end();
    await db.drop();
  }
}

/** Redis ceiling: the same user rows as JSON, SET in pipelines of BATCH (what the sink does per batch). Seconds for N SETs. */
async function redisCeiling(users: Record<string, string>[]): Promise<number> {
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
 * The C baseline of the issue ("0.8 of a C consumer's rate without decoding"): native-bench's
 * c-bench reads one topic in a group without decoding, so it and ingest --sink none both read the
 * users topic alone, side by side. Null if c-bench is not built (native-bench/build.sh).
 */
async function cBaseline(bootstrap: string, round: number): Promise<Baseline | null> {
  const cBench = join(ROOT, "native-bench/build/c-bench");
  if (!existsSync(cBench)) return null;
  const c = run([cBench, "consume", "--brokers", bootstrap, "--topic", "users", "--messages", String(N), "--group", `bench-c-${round}-${Date.now()}`]);
  const cj = JSON.parse(c.stdout.toString().trim().split("\n").filter((l) => l.startsWith("{")).pop()!) as { messages: number; seconds: number };
  // The same, also copying each key and value out of the message, as ingest must to hand them on.
  const cc = run([cBench, "consume", "--copy", "--brokers", bootstrap, "--topic", "users", "--messages", String(N), "--group", `bench-ccopy-${round}-${Date.now()}`]);
  const ccj = JSON.parse(cc.stdout.toString().trim().split("\n").filter((l) => l.startsWith("{")).pop()!) as { messages: number; seconds: number };
  const sum = join(tmp, `consume-users-${round}.json`);
  run([ingest, "consume", "--group", `bench-users-${round}-${Date.now()}`, "--topics", "users", "--sink", "none", "--from-beginning", "--max-messages", String(N), "--summary-json", sum, "-b", bootstrap]);
  const ij = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number };
  // And the transport alone, like the C consumer: --format raw takes the values undecoded.
  run([ingest, "consume", "--group", `bench-raw-${round}-${Date.now()}`, "--topics", "users", "--sink", "none", "--format", "raw", "--from-beginning", "--max-messages", String(N), "--summary-json", sum, "-b", bootstrap]);
  const rj = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number };
  return { c: cj.messages / cj.seconds, cCopy: ccj.messages / ccj.seconds, ingest: ij.written / ij.seconds, raw: rj.written / rj.seconds };
}
interface Baseline { c: number; cCopy: number; ingest: number; raw: number }

/** redis-benchmark's own SET/s (3-byte values, one key), or null if redis-tools is not installed. */
function redisBenchmark(): number | null {
  if (!existsSync("/usr/bin/redis-benchmark")) return null;
  const r = Bun.spawnSync(["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "--dbnum", "7", "-P", "100", "-t", "set", "-n", String(N), "-q"], { stdout: "pipe", stderr: "pipe" });
  const m = /SET: ([\d.]+) requests per second/.exec(r.stdout.toString());
  return m ? Number(m[1]) : null;
}

interface Row { round: number; sinks: string; workers: number; msgs_per_s: number; seconds: number; wall_s: number; cpu_s: number; written: number; error?: string }

async function consumeRun(bootstrap: string, s: string, w: number, round: number): Promise<Row> {
  const db = s.includes("mysql") ? await freshDb() : null;
  if (s.includes("redis")) await flushRedis();
  const sum = join(tmp, `consume-${s}-${w}-${round}.json`);
  const t0 = performance.now();
  try {
    const r = run(
      ["/usr/bin/time", "-f", "TIME %U %S", ingest, "consume", "--group", `bench-${s}-${w}-${round}-${Date.now()}`, "--topics", "users,orders", "--sink", s.replace("+", ","),
        "--workers", String(w), "--from-beginning", "--max-messages", String(2 * N), "--summary-json", sum, "-b", bootstrap],
      { ...(db ? { MYSQL_URL: db.url } : {}), ...(s.includes("redis") ? { REDIS_URL } : {}) },
    );
    const wall = (performance.now() - t0) / 1000;
    // The summary's msgs_per_s is written / seconds, and seconds start at the first message (not at start-up).
    const j = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number; msgs_per_s: number };
    const m = /TIME ([\d.]+) ([\d.]+)/.exec(r.stderr.toString());
    const row: Row = { round, sinks: s, workers: w, msgs_per_s: j.msgs_per_s, seconds: round2(j.seconds), wall_s: round2(wall), cpu_s: m ? round2(Number(m[1]) + Number(m[2])) : NaN, written: j.written };
    if (j.written !== 2 * N) row.error = `wrote ${j.written} of ${2 * N}`;
    return row;
  } catch (e) {
    return { round, sinks: s, workers: w, msgs_per_s: NaN, seconds: NaN, wall_s: round2((performance.now() - t0) / 1000), cpu_s: NaN, written: 0, error: (e as Error).message };
  } finally {
    await db?.drop();
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const fmt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");

async function main() {
  if (!existsSync(ingest)) throw new Error("./ingest not found: bun run build first");
  const usersCsv = join(tmp, "users.csv");
  const ordersCsv = join(tmp, "orders.csv");
  run([ingest, "gen", "users", "--rows", String(N), "--out", usersCsv, "--seed", "42"]);
  run([ingest, "gen", "orders", "--rows", String(N), "--out", ordersCsv, "--seed", "42"]);
  const users = Papa.parse<Record<string, string>>(readFileSync(usersCsv, "utf8"), { header: true, skipEmptyLines: true }).data;
  const orders = Papa.parse<Record<string, string>>(readFileSync(ordersCsv, "utf8"), { header: true, skipEmptyLines: true }).data;
  const broker = await startBroker();
  const rows: Row[] = [];
  const ceil = { mysql_s: [] as number[], redis_s: [] as number[], redis_benchmark: [] as number[] };
  const baseline: Baseline[] = [];
  let produceS = 0;
  // The backlog is judged against the time produce spent sending (its total minus its setup),
  // the stricter comparison. (Setup once took 22.7 s of 24 s for orders: a quadratic split of
  // quote-free CSVs, fixed 2026-11-30.)
  let produceSendS = 0;
  try {
    for (const [file, topic, key, schema] of [
      [usersCsv, "users", "id", "data/users.avsc"],
      [ordersCsv, "orders", "customer_id", "data/orders.avsc"],
    ] as const) {
      const sum = join(tmp, `produce-${topic}.json`);
      run([ingest, "produce", "--file", file, "--topic", topic, "--key", key, "--schema", join(ROOT, schema), "--compression", "lz4", "--no-progress", "--summary-json", sum, "-b", broker.bootstrap]);
      const ps = JSON.parse(readFileSync(sum, "utf8")).seconds as { total: number; setup: number };
      produceS += ps.total;
      produceSendS += ps.total - ps.setup;
      const kept = held(broker.bootstrap, topic);
      if (kept !== N) throw new Error(`the broker holds ${kept} of ${N} ${topic} (the mock trims past ~5 MiB/partition): use fewer --rows`);
    }
    console.error(`bench:consume: ${fmt(N)} users + ${fmt(N)} orders (produced in ${produceS.toFixed(2)} s, ${produceSendS.toFixed(2)} s without produce's setup), workers ${WORKERS.join(",")}, sinks ${SINKS.join(" ")}, ${ROUNDS} round(s); ${cpus().length} cores`);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const w of WORKERS) {
        for (const s of SINKS) {
          const row = await consumeRun(broker.bootstrap, s, w, round);
          rows.push(row);
          console.error(`  round ${round} workers ${w} sink ${s.padEnd(11)} ${fmt(row.msgs_per_s).padStart(9)} msg/s  (written ${fmt(row.written)}, wall ${row.wall_s} s)${row.error ? `  ERROR ${row.error}` : ""}`);
        }
      }
      const b = await cBaseline(broker.bootstrap, round).catch((e) => (console.error(`  C baseline failed: ${(e as Error).message}`), null));
      if (b) {
        baseline.push(b);
        console.error(`  round ${round} users topic alone, no sink: C (no decoding) ${fmt(b.c)} msg/s, C copying the bytes out ${fmt(b.cCopy)} msg/s, ingest --format raw ${fmt(b.raw)} msg/s, ingest decoding ${fmt(b.ingest)} msg/s`);
      }
      // Ceilings after the matrix of the same round, with the broker idle (it holds only memory).
      ceil.mysql_s.push(await mysqlCeiling(users, orders));
      ceil.redis_s.push(await redisCeiling(users));
      const rb = redisBenchmark();
      if (rb !== null) ceil.redis_benchmark.push(rb);
      console.error(`  round ${round} ceilings: MySQL ${ceil.mysql_s.at(-1)!.toFixed(2)} s for ${fmt(2 * N)} rows, Redis ${ceil.redis_s.at(-1)!.toFixed(2)} s for ${fmt(N)} SETs, redis-benchmark ${rb === null ? "not installed" : `${fmt(rb)} SET/s`}`);
    }
  } finally {
    await broker.stop();
  }

  // Ceilings in backlog messages per second: the 2N messages over the time the store alone needs
  // for the writes they cause (MySQL: 2N rows; Redis: N user SETs, since orders write nothing to
  // Redis without a SQL store to take stock from).
  const mysqlS = median(ceil.mysql_s);
  const redisS = median(ceil.redis_s);
  const rbench = ceil.redis_benchmark.length ? median(ceil.redis_benchmark) : null;
  const ceiling: Record<string, number> = { mysql: (2 * N) / mysqlS, redis: (2 * N) / redisS };
  ceiling["mysql+redis"] = Math.min(ceiling.mysql!, ceiling.redis!);
  const cells = WORKERS.flatMap((w) => SINKS.map((s) => ({ w, s, rs: rows.filter((r) => r.workers === w && r.sinks === s) })));
  const med = cells.map(({ w, s, rs }) => ({
    sinks: s, workers: w, msgs_per_s: median(rs.map((r) => r.msgs_per_s)), seconds: median(rs.map((r) => r.seconds)), wall_s: median(rs.map((r) => r.wall_s)),
    cpu_s: median(rs.map((r) => r.cpu_s)), errors: rs.filter((r) => r.error).length,
  }));
  const best = (s: string) => Math.max(...med.filter((m) => m.sinks === s && Number.isFinite(m.msgs_per_s)).map((m) => m.msgs_per_s));
  const ratio = (s: string) => (SINKS.includes(s) && ceiling[s] ? best(s) / ceiling[s]! : NaN);
  const r2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const cMsgs = median(baseline.map((b) => b.c));
  const iMsgs = median(baseline.map((b) => b.ingest));
  const rawMsgs = median(baseline.map((b) => b.raw));
  const cCopyMsgs = median(baseline.map((b) => b.cCopy));
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const lines = [
    `Measured ${when} UTC (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}), ${fmt(N)} users + ${fmt(N)} orders, embedded 3-broker mock, 24 partitions each, lz4; produced in ${produceS.toFixed(2)} s (${produceSendS.toFixed(2)} s without produce's setup); ${ROUNDS} round(s)${ROUNDS > 1 ? ", medians" : ""}.`,
    "",
    `Store ceilings in the same run: MySQL ${fmt(ceiling.mysql!)} rows/s (${mysqlS.toFixed(2)} s for the ${fmt(2 * N)} rows: users upserted ${CHUNK} per statement, orders with their stock updates in one transaction per ${BATCH}); ` +
      `Redis ${fmt(N / redisS)} SET/s (${redisS.toFixed(2)} s for the ${fmt(N)} user JSON values, pipelines of ${BATCH}) = ${fmt(ceiling.redis!)} backlog msg/s; redis-benchmark -P 100 -t set: ${rbench === null ? "not installed (apt-get install redis-tools)" : `${fmt(rbench)} SET/s`}.`,
    "",
    "| sinks | workers | msgs/s | vs store ceiling | catch-up s | wall s | CPU s | caught up faster than produce sent it (catch-up s vs produce's send s) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...med.map((m) =>
      `| ${m.sinks} | ${m.workers} | ${fmt(m.msgs_per_s)}${m.errors ? ` (${m.errors} failed)` : ""} | ${ceiling[m.sinks] && Number.isFinite(m.msgs_per_s) ? (m.msgs_per_s / ceiling[m.sinks]!).toFixed(2) : "-"} | ${m.seconds} | ${m.wall_s} | ${m.cpu_s} | ${Number.isFinite(m.seconds) && !m.errors ? (m.seconds < produceSendS ? "yes" : "no") + ` (${m.seconds} vs ${produceSendS.toFixed(2)} s)` : "-"} |`),
    "",
    "catch-up s runs from the first message to the last write (msgs/s = records / catch-up s); wall s is the whole process, including the embedded broker's fixed 3 s group join.",
    "",
    `Ratios (best lane count): ingest mysql / MySQL ceiling ${r2(ratio("mysql"))}, ingest redis / Redis ceiling ${r2(ratio("redis"))}, ingest mysql+redis / min(ceilings) ${r2(ratio("mysql+redis"))} (target 0.7); ` +
      `--sink none best ${fmt(SINKS.includes("none") ? best("none") : NaN)} msg/s (target 1,000,000).`,
    baseline.length
      ? `Users topic alone (${fmt(N)} messages), same broker: C consumer without decoding ${fmt(cMsgs)} msg/s (payloads never touched), and copying each key and value out ${fmt(cCopyMsgs)} msg/s; ingest --format raw --sink none (no decoding, like C) ${fmt(rawMsgs)} msg/s = ${r2(rawMsgs / cMsgs)} of C (target 0.8), ${r2(rawMsgs / cCopyMsgs)} of C copying; ingest --sink none decoding and validating ${fmt(iMsgs)} msg/s = ${r2(iMsgs / cMsgs)} of C.`
      : "C baseline skipped: native-bench/build/c-bench is not built (bash native-bench/build.sh).",
  ];
  console.log(lines.join("\n"));
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(join(ROOT, "native-bench/results"), { recursive: true });
  // A run with its own --rows/--workers/--sinks gets a name of its own, so a trial never replaces the published figures.
  const custom = values.rows || values.workers || values.sinks ? `-custom-${N}` : "";
  const out = join(ROOT, "native-bench/results", `${date}${values.quick ? "-quick" : ""}${custom}-consume.json`);
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(), rows: N, rounds: ROUNDS, cores: cpus().length, produce_s: produceS, produce_send_s: produceSendS,
        ceilings: {
          mysql_s: ceil.mysql_s, redis_s: ceil.redis_s, mysql_rows_per_s: ceiling.mysql, redis_sets_per_s: N / redisS, redis_backlog_msgs_per_s: ceiling.redis,
          redis_benchmark_sets_per_s: rbench,
        },
        c_baseline_users_topic: baseline.length ? { c_msgs_per_s: cMsgs, c_copy_msgs_per_s: cCopyMsgs, ingest_raw_msgs_per_s: rawMsgs, raw_ratio: rawMsgs / cMsgs, raw_ratio_to_c_copy: rawMsgs / cCopyMsgs, ingest_none_msgs_per_s: iMsgs, ratio: iMsgs / cMsgs, runs: baseline } : null,
        ratios: { mysql: ratio("mysql"), redis: ratio("redis"), "mysql+redis": ratio("mysql+redis") },
        medians: med, runs: rows,
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
