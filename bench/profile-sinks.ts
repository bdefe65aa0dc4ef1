/**
 * `bun bench/profile-sinks.ts [--rows N] [--lanes L] [--sink mysql|redis|mysql+redis] [--kind users|orders]`:
 * the sinks' own write path without Kafka or decoding: N generated records (ingest gen, seed 42)
 * handed to the sink classes in batches of 5,000 over L concurrent lanes, as the consumer does.
 * Prints records/s and the process's CPU per record (user+sys from process.cpuUsage), so a
 * `bun --cpu-prof bench/profile-sinks.ts ...` shows where the client side spends it.
 * A diagnostic for docs/benchmarks-consume.md, not a benchmark of the whole consumer.
 */
import { parseArgs } from "node:util";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createConnection } from "mysql2/promise";
import { createClient } from "redis";
import Papa from "papaparse";
import { MysqlSink } from "../src/sinks/mysql.ts";
import { RedisSink } from "../src/sinks/redis.ts";
import type { Order, User } from "../src/core/records.ts";
import type { OrderBatchResult, Sink } from "../src/sinks/types.ts";

const { values } = parseArgs({
  options: { rows: { type: "string" }, lanes: { type: "string" }, sink: { type: "string" }, kind: { type: "string" }, batch: { type: "string" } },
});
const N = Number(values.rows ?? 200_000);
const LANES = Number(values.lanes ?? 4);
const BATCH = Number(values.batch ?? 5000);
const SINK = values.sink ?? "mysql";
const KIND = values.kind ?? "users";
const ROOT = join(import.meta.dir, "..");
const tmp = mkdtempSync(join(tmpdir(), "profile-sinks-"));
const csv = join(tmp, `${KIND}.csv`);
Bun.spawnSync([join(ROOT, "ingest"), "gen", KIND, "--rows", String(N), "--out", csv, "--seed", "42"]);
const raw = Papa.parse<Record<string, string>>(readFileSync(csv, "utf8"), { header: true, skipEmptyLines: true }).data;
rmSync(tmp, { recursive: true, force: true });
const records: (User | Order)[] = raw.map((r) =>
  KIND === "users"
    ? {
        id: Number(r.id),
        first_name: r.first_name!,
        last_name: r.last_name!,
        email: r.email!,
        age: Number(r.age),
        country: r.country!,
        city: r.city!,
        signup_ts: Number(r.signup_ts),
        is_active: r.is_active === "true",
        score: Number(r.score),
        phone: r.phone || null,
      }
    : {
        order_id: r.order_id!,
        customer_id: r.customer_id!,
        product_id: r.product_id!,
        quantity: Number(r.quantity),
        amount: Number(r.amount),
        currency: r.currency!,
        created_at: Number(r.created_at),
      },
);

const db = `prof_${Date.now().toString(36)}`;
const admin = await createConnection({ host: "127.0.0.1", user: "root" });
await admin.query(`CREATE DATABASE ${db}`);
const sinks: Sink[] = [];
if (SINK.includes("mysql")) sinks.push(new MysqlSink({ url: `mysql://root@127.0.0.1:3306/${db}`, poolSize: LANES }));
if (SINK.includes("redis")) {
  const r = createClient({ url: "redis://127.0.0.1:6379/7" });
  await r.connect();
  await r.flushDb();
  await r.quit();
  sinks.push(new RedisSink({ url: "redis://127.0.0.1:6379/7" }));
}
for (const s of sinks) await s.start();

// Lanes by key, as the consumer spreads them; each lane writes its batches in order to each sink in turn.
const lanes: (User | Order)[][] = Array.from({ length: LANES }, () => []);
for (const rec of records) lanes[("id" in rec ? rec.id : Number(rec.customer_id)) % LANES]!.push(rec);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(
  lanes.map(async (lane) => {
    for (let i = 0; i < lane.length; i += BATCH) {
      const part = lane.slice(i, i + BATCH);
      let up: OrderBatchResult | undefined;
      for (const s of sinks) {
        if (KIND === "users") await s.writeUsers(part as User[]);
        else up = await s.writeOrders(part as Order[], up);
      }
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(
  `${SINK} ${KIND}: ${N.toLocaleString("en-US")} in ${secs.toFixed(2)} s = ${Math.round(N / secs).toLocaleString("en-US")}/s, lanes ${LANES}, batch ${BATCH}; ` +
    `client CPU ${cpuS.toFixed(2)} s = ${((cpuS / N) * 1e6).toFixed(2)} µs/record`,
);
for (const s of sinks) await s.close();
await admin.query(`DROP DATABASE ${db}`);
await admin.end();
