/**
 * `bun run bench:consume`: `ingest consume` over a users + orders backlog, for each lane count
 * and each sink set, with the stores' own bulk ceilings measured in the same run.
 *
 *   ingest:  consume --sink none | mysql | redis | mysql,redis, --workers 1 2 4 10, from the beginning
 *   ceiling: MySQL: the same users upserted with multi-row INSERT ... ON DUPLICATE KEY UPDATE and
 *            the same orders inserted with their stock updates, one transaction per batch;
 *            Redis: the same user rows SET in pipelines of the sink's batch size
 *
 *   bun run bench:consume [--quick] [--rows N] [--workers 1,2,4,10] [--sinks none,mysql,redis,mysql+redis]
 *
 * N users and N orders (default 200,000 each; --quick 50,000 and workers 1,4). Stores: MariaDB at
 * 127.0.0.1:3306 (root, a fresh database per run, dropped after) and Redis db 7 (flushed before
 * each run). Prints a table and writes native-bench/results/<date>-consume.json.
 */
import { parseArgs } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir, cpus } from "node:os";
import { createConnection } from "mysql2/promise";
import { createClient } from "redis";
import Papa from "papaparse";

const ROOT = join(import.meta.dir, "..");
const ingest = join(ROOT, "ingest");
const { values } = parseArgs({
  options: { quick: { type: "boolean" }, rows: { type: "string" }, workers: { type: "string" }, sinks: { type: "string" } },
});
const N = Number(values.rows ?? (values.quick ? 50_000 : 200_000));
const WORKERS = (values.workers ?? (values.quick ? "1,4" : "1,2,4,10")).split(",").map(Number);
const SINKS = (values.sinks ?? "none,mysql,redis,mysql+redis").split(",");
const REDIS_DB = 7;
const BATCH = 5000;
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

async function freshDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const c = await createConnection({ host: "127.0.0.1", user: "root" });
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return {
    url: `mysql://root@127.0.0.1:3306/${name}`,
    drop: async () => {
      const d = await createConnection({ host: "127.0.0.1", user: "root" });
      await d.query(`DROP DATABASE ${name}`);
      await d.end();
    },
  };
}

async function flushRedis() {
  const r = createClient({ url: `redis://127.0.0.1:6379/${REDIS_DB}` });
  await r.connect();
  await r.flushDb();
  await r.quit();
}

/** MySQL ceiling: the same rows, the same statements' shape, no Kafka and no decoding. */
async function mysqlCeiling(users: Record<string, string>[], orders: Record<string, string>[]): Promise<number> {
  const db = await freshDb();
  const c = await createConnection({ uri: db.url, multipleStatements: true });
  try {
    await c.query(readFileSync(join(ROOT, "src/sinks/sql/mysql/001_init.sql"), "utf8"));
    const now = Date.now();
    const products = Array.from({ length: 1000 }, (_, i) => [`P${String(i + 1).padStart(4, "0")}`, `Product ${i + 1}`, 9.99, 1_000_000_000, 0, now]);
    await c.query("INSERT INTO products (product_id, name, price, stock, version, updated_at) VALUES ?", [products]);
    const t0 = performance.now();
    for (let i = 0; i < users.length; i += BATCH) {
      const rows = users.slice(i, i + BATCH).map((u) => [Number(u.id), u.first_name, u.last_name, u.email, Number(u.age), u.country, u.city, Number(u.signup_ts), u.is_active === "true", Number(u.score), u.phone || null]);
      await c.query(
        "INSERT INTO users (id, first_name, last_name, email, age, country, city, signup_ts, is_active, score, phone) VALUES ? ON DUPLICATE KEY UPDATE first_name=VALUES(first_name), last_name=VALUES(last_name), email=VALUES(email), age=VALUES(age), country=VALUES(country), city=VALUES(city), signup_ts=VALUES(signup_ts), is_active=VALUES(is_active), score=VALUES(score), phone=VALUES(phone)",
        [rows],
      );
    }
    for (let i = 0; i < orders.length; i += BATCH) {
      const batch = orders.slice(i, i + BATCH);
      const byProduct = new Map<string, number>();
      for (const o of batch) byProduct.set(o.product_id!, (byProduct.get(o.product_id!) ?? 0) + Number(o.quantity));
      await c.beginTransaction();
      await c.query("SELECT product_id, stock FROM products WHERE product_id IN (?) FOR UPDATE", [[...byProduct.keys()]]);
      await c.query("INSERT IGNORE INTO orders (order_id, customer_id, product_id, quantity, amount, currency, created_at, status, reason, processed_at) VALUES ?", [
        batch.map((o) => [o.order_id, o.customer_id, o.product_id, Number(o.quantity), Number(o.amount), o.currency, Number(o.created_at), "accepted", null, now]),
      ]);
      const ids = [...byProduct.keys()];
      await c.query(`UPDATE products SET stock = stock - CASE product_id ${ids.map(() => "WHEN ? THEN ?").join(" ")} END, version = version + 1 WHERE product_id IN (?)`, [...ids.flatMap((id) => [id, byProduct.get(id)]), ids]);
      await c.commit();
    }
    return (users.length + orders.length) / ((performance.now() - t0) / 1000);
  } finally {
    await c.end();
    await db.drop();
  }
}

/** Redis ceiling: the same user rows as JSON, SET in pipelines of BATCH. */
async function redisCeiling(users: Record<string, string>[]): Promise<number> {
  await flushRedis();
  const r = createClient({ url: `redis://127.0.0.1:6379/${REDIS_DB}` });
  await r.connect();
  const t0 = performance.now();
  for (let i = 0; i < users.length; i += BATCH) {
    const m = r.multi();
    for (const u of users.slice(i, i + BATCH)) m.set(`user:${u.id}`, JSON.stringify(u));
    await m.execAsPipeline();
  }
  const rate = users.length / ((performance.now() - t0) / 1000);
  await r.flushDb();
  await r.quit();
  return rate;
}

interface Row { sinks: string; workers: number; msgs_per_s: number; wall_s: number; cpu_s: number; written: number }

async function main() {
  const usersCsv = join(tmp, "users.csv");
  const ordersCsv = join(tmp, "orders.csv");
  run([ingest, "gen", "users", "--rows", String(N), "--out", usersCsv, "--seed", "42"]);
  run([ingest, "gen", "orders", "--rows", String(N), "--out", ordersCsv, "--seed", "42"]);
  const broker = await startBroker();
  const rows: Row[] = [];
  let produceS = 0;
  try {
    for (const [file, topic, key, schema] of [
      [usersCsv, "users", "id", "data/users.avsc"],
      [ordersCsv, "orders", "customer_id", "data/orders.avsc"],
    ] as const) {
      const sum = join(tmp, `produce-${topic}.json`);
      run([ingest, "produce", "--file", file, "--topic", topic, "--key", key, "--schema", join(ROOT, schema), "--no-progress", "--summary-json", sum, "-b", broker.bootstrap]);
      produceS += JSON.parse(readFileSync(sum, "utf8")).seconds.total;
      const kept = held(broker.bootstrap, topic);
      if (kept !== N) throw new Error(`the broker holds ${kept} of ${N} ${topic}: not comparable (trimmed)`);
    }
    console.error(`bench:consume: ${N.toLocaleString()} users + ${N.toLocaleString()} orders (produced in ${produceS.toFixed(2)} s), workers ${WORKERS.join(",")}, sinks ${SINKS.join(" ")}; ${cpus().length} cores`);
    for (const w of WORKERS) {
      for (const s of SINKS) {
        const db = s.includes("mysql") ? await freshDb() : null;
        if (s.includes("redis")) await flushRedis();
        const sum = join(tmp, `consume-${s}-${w}.json`);
        const t0 = performance.now();
        const r = run(
          ["/usr/bin/time", "-f", "TIME %U %S", ingest, "consume", "--group", `bench-${s}-${w}-${Date.now()}`, "--topics", "users,orders", "--sink", s.replace("+", ","), "--workers", String(w), "--from-beginning", "--max-messages", String(2 * N), "--summary-json", sum, "-b", broker.bootstrap],
          { ...(db ? { MYSQL_URL: db.url } : {}), ...(s.includes("redis") ? { REDIS_URL: `redis://127.0.0.1:6379/${REDIS_DB}` } : {}) },
        );
        const wall = (performance.now() - t0) / 1000;
        await db?.drop();
        const j = JSON.parse(readFileSync(sum, "utf8")) as { written: number; seconds: number };
        const m = /TIME ([\d.]+) ([\d.]+)/.exec(r.stderr.toString());
        const row = { sinks: s, workers: w, msgs_per_s: Math.round(j.written / j.seconds), wall_s: Math.round(wall * 100) / 100, cpu_s: m ? Math.round((Number(m[1]) + Number(m[2])) * 100) / 100 : NaN, written: j.written };
        rows.push(row);
        console.error(`  workers ${w} sink ${s.padEnd(11)} ${row.msgs_per_s.toLocaleString().padStart(9)} msg/s  (${row.written.toLocaleString()} written, wall ${row.wall_s} s)`);
      }
    }
  } finally {
    await broker.stop();
  }
  const users = Papa.parse<Record<string, string>>(readFileSync(usersCsv, "utf8"), { header: true, skipEmptyLines: true }).data;
  const orders = Papa.parse<Record<string, string>>(readFileSync(ordersCsv, "utf8"), { header: true, skipEmptyLines: true }).data;
  const mysqlMax = await mysqlCeiling(users, orders);
  const redisMax = await redisCeiling(users);
  const ceiling: Record<string, number> = { mysql: mysqlMax, redis: redisMax, "mysql+redis": Math.min(mysqlMax, redisMax) };
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}), ${N.toLocaleString("en-US")} users + ${N.toLocaleString("en-US")} orders (produced in ${produceS.toFixed(2)} s), embedded broker, 24 partitions each.`,
    "",
    `Store ceilings in the same run: MySQL ${Math.round(mysqlMax).toLocaleString("en-US")} rows/s (multi-row upsert of the users, orders with their stock updates, one transaction per ${BATCH}), Redis ${Math.round(redisMax).toLocaleString("en-US")} SET/s (pipelines of ${BATCH}).`,
    "",
    "| sinks | workers | msgs/s | vs ceiling | wall s | CPU s | backlog faster than produced |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map((r) => `| ${r.sinks} | ${r.workers} | ${r.msgs_per_s.toLocaleString("en-US")} | ${ceiling[r.sinks] ? (r.msgs_per_s / ceiling[r.sinks]!).toFixed(2) : "-"} | ${r.wall_s} | ${r.cpu_s} | ${(2 * N) / r.msgs_per_s < produceS ? "yes" : "no"} |`),
  ];
  console.log(lines.join("\n"));
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(join(ROOT, "native-bench/results"), { recursive: true });
  const out = join(ROOT, "native-bench/results", `${date}${values.quick ? "-quick" : ""}-consume.json`);
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), rows: N, produce_s: produceS, ceilings: { mysql_rows_per_s: mysqlMax, redis_sets_per_s: redisMax }, runs: rows }, null, 2)}\n`);
  console.error(`wrote ${out}`);
}

try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
