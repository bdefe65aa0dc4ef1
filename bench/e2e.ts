/**
 * bun run bench:e2e [--quick] [--broker kafka4|embedded] [--window S] [--single RATES] [--batch-rates RATES]
 *                   [--batch N] [--backlog N] [--partitions P] [--workers W] [--connections C]
 *                   [--innodb-buffer-pool MIB]
 *
 * The predecessor's experiment on one machine: `ingest serve --ack delivered` takes orders from
 * `ingest load` at a fixed rate, `ingest consume` writes them into MariaDB + Redis, all against
 * one broker (a real Kafka 4.4 single node by default; --broker embedded for librdkafka's mock
 * cluster in `ingest broker`). The rate steps up; at each step `ingest lag --json` is sampled
 * every 3 s and the step holds when, over the window (60 s; 15 s with --quick), the lag stays
 * flat (its last sample within one second of load of its first, after a warm-up of 5 s) and
 * load achieved >= 97% of its target with every request answered 202. The highest holding rate
 * is reported, for single orders (/order) and for /orders/batch separately; then the catch-up
 * time of a backlog (1M orders; 100k with --quick) produced while the consumer is stopped.
 * Per-process CPU (serve, load, consume, broker, mysqld, redis-server) comes from /proc.
 * Prints a table and writes bench/results/<date>-e2e.json.
 */
import { parseArgs } from "node:util";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir, cpus } from "node:os";
import { spawn, killChildren } from "../scripts/soak/_children.ts";
import { startChildBroker, KAFKA4_GROUP_PROPS, GROUP_PROPS } from "../scripts/soak/_consumer-lib.ts";
import { KafkaCluster } from "../tools/kafka/cluster.ts";
import { createDb, claimRedisDb, groupLag } from "../test/helpers/stores.ts";
import { CpuSampler, coresByProcess, coresByRole, cpuSecondsOf, pidsOf, uptimeSeconds, type CpuWindow } from "./proc-cpu.ts";

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    help: { type: "boolean", short: "h" },
    quick: { type: "boolean", default: false },
    broker: { type: "string", default: "kafka4" },
    window: { type: "string" },
    single: { type: "string" },
    "batch-rates": { type: "string" },
    batch: { type: "string", default: "100" },
    backlog: { type: "string" },
    partitions: { type: "string", default: "12" },
    workers: { type: "string", default: "4" },
    connections: { type: "string", default: "1024" },
    "innodb-buffer-pool": { type: "string" },
    ingest: { type: "string", default: join(ROOT, "ingest") },
  },
});
if (values.help) {
  process.stdout.write(`bun run bench:e2e [--quick] [--broker kafka4|embedded] [--window S] [--single RATES] [--batch-rates RATES]
                  [--batch N] [--backlog N] [--partitions P] [--workers W] [--connections C]
                  [--innodb-buffer-pool MIB]

The predecessor's experiment on one machine: \`ingest serve --ack delivered\` takes orders from
\`ingest load\` at a fixed rate, \`ingest consume\` writes them into MariaDB + Redis, all against
one broker (a real Kafka 4.4 single node by default; --broker embedded for librdkafka's mock
cluster in \`ingest broker\`). The rate steps up; at each step \`ingest lag --json\` is sampled
every 3 s and the step holds when, over the window (60 s; 15 s with --quick), the lag stays
flat (its last sample within one second of load of its first, after a warm-up of 5 s) and
load achieved >= 97% of its target with every request answered 202. The highest holding rate
is reported, for single orders (/order) and for /orders/batch separately; then the catch-up
time of a backlog (1M orders; 100k with --quick) produced while the consumer is stopped.
Per-process CPU (serve, load, consume, broker, mysqld, redis-server) comes from /proc, and per
thread role for the ingest processes (JavaScript, librdkafka, JIT, collector), with the machine's
busy, stolen and idle shares. --connections: ingest load's keep-alive connections (default 1024;
one request in flight on each, so a rate needs connections >= rate x serve's latency).
--innodb-buffer-pool: MariaDB's buffer pool for the run, in MiB (SET GLOBAL, restored at the
end; default: as the server is configured).
Prints a table and writes bench/results/<date>-e2e.json.\n`);
  process.exit(0);
}
const quick = values.quick!;
const ingest = values.ingest!;
const windowS = Number(values.window ?? (quick ? 15 : 60));
const WARMUP_S = 5;
const batch = Number(values.batch);
const singleRates = (values.single ?? (quick ? "500,1000,2000,4000,8000" : "500,1000,1500,2000,3000,4000,6000,8000,10000,12000,14000")).split(",").map(Number);
const batchRates = (values["batch-rates"] ?? (quick ? "10,20,50,100,200" : "10,20,50,100,200,400,600,800,1000")).split(",").map(Number);
const backlog = Number(values.backlog ?? (quick ? 100_000 : 1_000_000));
const partitions = Number(values.partitions);
const workers = Number(values.workers);
const STOCK = 1_000_000_000;
if (!existsSync(ingest)) throw new Error(`${ingest} missing: bun run build first`);
process.on("SIGINT", () => (killChildren(), process.exit(130)));
const log = (m: string) => console.error(`[e2e ${new Date().toISOString().slice(11, 19)}] ${m}`);
const env = { ...process.env, LOG_LEVEL: "warn" };

// ---- /proc CPU -------------------------------------------------------------------------------
/** CPU seconds of a group of processes (a name may be several processes: sum them). */
const groupCpu = (pids: number[]) => pids.reduce((a, p) => a + (cpuSecondsOf(p) || 0), 0);

// ---- the rig ---------------------------------------------------------------------------------
const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
const topic = `orders-e2e-${id}`;
let bootstrap = "";
let brokerPids: number[] = [];
let stopBroker: () => Promise<void> = async () => {};
if (values.broker === "embedded") {
  const b = await startChildBroker(ingest, { [topic]: partitions });
  bootstrap = b.bootstrap;
  stopBroker = b.stop;
  // the child `ingest broker` (whatever the executable is called): found by its arguments
  brokerPids = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
        return argv[1] === "broker" && argv.includes(`${topic}:${partitions}`);
      } catch {
        return false;
      }
    });
} else {
  log("starting Kafka 4.4 (single node)");
  const k = await KafkaCluster.start({ nodes: 1 });
  bootstrap = k.bootstrap;
  stopBroker = () => k.stop();
  brokerPids = k.nodes.map((n) => n.pid!).filter(Boolean);
  for (const t of [topic, `${topic}.dlq`]) {
    const p = spawn([ingest, "topic", "create", t, "--partitions", String(t.endsWith(".dlq") ? 1 : partitions), "-b", bootstrap], {
      stdout: "ignore",
      stderr: "pipe",
      env,
    });
    if ((await p.exited) !== 0) throw new Error(`topic create ${t}: ${await new Response(p.stderr).text()}`);
  }
}
const groupProps = values.broker === "embedded" ? GROUP_PROPS : KAFKA4_GROUP_PROPS;
const db = await createDb("e2e");
const poolMiB = async () => {
  const [rows] = (await db.conn.query("SELECT @@innodb_buffer_pool_size AS b")) as unknown as [{ b: number | string }[]];
  return Number(rows[0]!.b) / 1048576;
};
/** Resize MariaDB's buffer pool (online since 10.2) and wait until the resize is done. */
async function setPool(mib: number): Promise<void> {
  await db.conn.query(`SET GLOBAL innodb_buffer_pool_size = ${Math.round(mib) * 1048576}`);
  for (let i = 0; i < 600 && (await poolMiB()) !== mib; i++) await Bun.sleep(100);
  for (let i = 0; i < 600; i++) {
    const [rows] = (await db.conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")) as unknown as [{ Value: string }[]];
    const st = rows[0]?.Value ?? "";
    if (st === "" || /complete|finished/i.test(st)) break;
    await Bun.sleep(100);
  }
}
const poolAsConfigured = await poolMiB();
if (values["innodb-buffer-pool"]) {
  await setPool(Number(values["innodb-buffer-pool"]));
  log(`MariaDB buffer pool ${poolAsConfigured} -> ${await poolMiB()} MiB for this run`);
}
const poolDuringRun = await poolMiB();
const redis = await claimRedisDb();
const storeEnv = { ...env, MYSQL_URL: db.url, REDIS_URL: redis.url };
const mysqldPids = [...pidsOf("mariadbd"), ...pidsOf("mysqld")];
const redisPids = pidsOf("redis-server");
const group = `g-e2e-${id}`;

const serve = spawn([ingest, "serve", "--port", "0", "--ack", "delivered", "-b", bootstrap, "--orders-topic", topic, "--users-topic", topic], {
  stdout: "pipe",
  stderr: "pipe",
  env: storeEnv,
});
const serveReader = serve.stdout.getReader();
const first = new TextDecoder().decode((await serveReader.read()).value);
const base = /listening on (http:\/\/\S+)/.exec(first)?.[1];
if (!base) throw new Error(`serve did not start: ${first}`);
void (async () => {
  while (!(await serveReader.read().catch(() => ({ done: true }))).done);
})();
void new Response(serve.stderr).text();

let consumer: ReturnType<typeof spawn> | undefined;
function startConsumer() {
  consumer = spawn(
    [
      ingest,
      "consume",
      "--group",
      group,
      "--topics",
      topic,
      "--kinds",
      `orders=${topic}`,
      "--sink",
      "mysql,redis",
      "--initial-stock",
      String(STOCK),
      "--workers",
      String(workers),
      "-b",
      bootstrap,
      ...groupProps,
    ],
    { stdout: "ignore", stderr: "pipe", env: storeEnv },
  );
  void new Response(consumer.stderr as ReadableStream).text();
}
async function stopConsumer() {
  consumer?.kill("SIGTERM");
  await consumer?.exited;
  consumer = undefined;
}
const lagNow = async () => (await groupLag((...a) => [ingest, ...a], bootstrap, group, [topic]).catch(() => ({ total_lag: NaN }))).total_lag;

async function waitLag(max: number, timeoutS: number): Promise<number> {
  const t0 = Date.now();
  let lag = await lagNow();
  while (!(lag <= max) && Date.now() - t0 < timeoutS * 1000) {
    await Bun.sleep(2000);
    lag = await lagNow();
  }
  return (Date.now() - t0) / 1000;
}

interface Step {
  path: string;
  rate: number;
  orders_per_s_target: number;
  achieved_rate: number;
  orders_per_s: number;
  ok202: number;
  requests: number;
  lag_first: number;
  lag_last: number;
  lag_max: number;
  lag_samples: [number, number][];
  flat: boolean;
  why: string;
  latency_ms: Record<string, number>;
  load_cpu_us_per_request: number;
  cpu_pct: Record<string, number>;
  /** The step's CPU by process and, for the ingest processes, by thread role; with the machine's busy, steal and idle shares. */
  cpu_window: CpuWindow;
  /** /proc/loadavg's 1-minute figure at the step's end: other engineers share the 2 cores. */
  loadavg: number;
  /** Rows in the orders table at the step's end, and InnoDB's page reads from disk during it (buffer pool misses). */
  orders_rows: number;
  innodb_disk_reads: number;
}

/** The server's Innodb_buffer_pool_reads (pages read from disk, not found in the buffer pool). */
async function innodbDiskReads(): Promise<number> {
  const [rows] = (await db.conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")) as unknown as [{ Value: string }[]];
  return Number(rows[0]?.Value ?? Number.NaN);
}
async function ordersRows(): Promise<number> {
  const [rows] = (await db.conn.query("SELECT COUNT(*) AS n FROM orders").catch(() => [[{ n: Number.NaN }]])) as unknown as [{ n: number }[]];
  return Number(rows[0]?.n);
}

async function step(path: string, rate: number, perReq: number): Promise<Step> {
  const seconds = WARMUP_S + windowS;
  const reads0 = await innodbDiskReads();
  const t0 = performance.now();
  const up0 = uptimeSeconds();
  const load = spawn(
    [
      ingest,
      "load",
      "--url",
      `${base}${path}`,
      "--rate",
      String(rate),
      "--duration",
      `${seconds}s`,
      "--batch",
      String(perReq),
      "--connections",
      values.connections!,
      "--json",
    ],
    { stdout: "pipe", stderr: "pipe", env },
  );
  const out = new Response(load.stdout).text();
  const sampler = new CpuSampler(
    () => ({
      serve: { pids: [serve.pid], threads: true },
      load: { pids: [load.pid], threads: true },
      consume: { pids: [consumer!.pid], threads: true },
      broker: { pids: brokerPids, threads: false },
      mysqld: { pids: mysqldPids, threads: false },
      redis: { pids: redisPids, threads: false },
    }),
    1000,
  ).start();
  const samples: [number, number][] = [];
  let done = false;
  void load.exited.then(() => (done = true));
  await Bun.sleep(WARMUP_S * 1000);
  while (!done) {
    samples.push([Math.round((performance.now() - t0) / 100) / 10, await lagNow()]);
    for (let i = 0; i < 30 && !done; i++) await Bun.sleep(100);
  }
  const elapsed = (performance.now() - t0) / 1000;
  sampler.stop();
  const cpu_window = sampler.window(up0, uptimeSeconds());
  const ru = load.resourceUsage()!;
  const cpu_pct: Record<string, number> = Object.fromEntries(Object.entries(coresByProcess(cpu_window)).map(([k, c]) => [k, Math.round(c * 100)]));
  // load has exited: its whole CPU from the kernel, not the sampler's last view of it
  cpu_pct.load = Math.round((Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 / elapsed) * 100);
  const r = JSON.parse(await out);
  const ok202 = Number(r.status["202"] ?? 0);
  const lags = samples.map((s) => s[1]).filter((x) => Number.isFinite(x));
  const lagFirst = lags[0] ?? NaN,
    lagLast = lags.at(-1) ?? NaN,
    lagMax = Math.max(...lags);
  // Flat: no more than one second of orders piled up across the window (a step's lag is the
  // consumer's batching and commit interval; growth means the consumer is behind).
  const ordersPerS = rate * perReq;
  const why: string[] = [];
  if (!(lagLast - lagFirst <= ordersPerS)) why.push(`lag grew ${lagFirst} -> ${lagLast}`);
  if (!(lagMax <= 3 * ordersPerS)) why.push(`lag peaked at ${lagMax}`);
  if (r.achieved_rate < 0.97 * rate) why.push(`load reached ${r.achieved_rate}/s`);
  if (ok202 !== r.requests || r.unanswered || r.dropped_behind)
    why.push(`answers ${JSON.stringify(r.status)}, unanswered ${r.unanswered}, not sent ${r.dropped_behind}`);
  return {
    path,
    rate,
    orders_per_s_target: ordersPerS,
    achieved_rate: r.achieved_rate,
    orders_per_s: Math.round((ok202 * perReq) / r.seconds),
    ok202,
    requests: r.requests,
    lag_first: lagFirst,
    lag_last: lagLast,
    lag_max: lagMax,
    lag_samples: samples,
    flat: why.length === 0,
    why: why.join("; "),
    latency_ms: r.latency_ms,
    load_cpu_us_per_request: r.cpu_us_per_request,
    cpu_pct,
    cpu_window,
    loadavg: Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]),
    orders_rows: await ordersRows(),
    innodb_disk_reads: (await innodbDiskReads()) - reads0,
  };
}

const fmtStep = (s: Step) =>
  `${s.path.padEnd(13)} ${String(s.rate).padStart(6)}/s ${String(s.orders_per_s_target).padStart(7)} orders/s | got ${String(s.orders_per_s).padStart(7)} orders/s | ` +
  `lag ${s.lag_first} -> ${s.lag_last} (max ${s.lag_max}) | p50 ${s.latency_ms.p50?.toFixed(1)} p99 ${s.latency_ms.p99?.toFixed(1)} ms | ` +
  `cpu% ${Object.entries(s.cpu_pct)
    .map(([k, v]) => `${k} ${v}`)
    .join(
      " ",
    )} | loadavg ${s.loadavg} | orders table ${s.orders_rows} rows, ${s.innodb_disk_reads} InnoDB disk reads | ${s.flat ? "FLAT" : `behind: ${s.why}`}` +
  `\n    cores by process and thread: ${Object.entries(coresByRole(s.cpu_window))
    .map(([k, c]) => `${k} ${c.toFixed(2)}`)
    .join(
      ", ",
    )}; machine busy ${Math.round(s.cpu_window.machine.busy * 100)}%, steal ${Math.round(s.cpu_window.machine.steal * 100)}%, idle ${Math.round(s.cpu_window.machine.idle * 100)}%`;

const steps: Step[] = [];
const best: Record<string, Step | null> = {};
let catchUp: Record<string, number> = {};
const t00 = Date.now();
try {
  startConsumer();
  // warm up: the consumer joins the group, serve's producer and the stores' tables exist, the
  // broker's JVM has compiled its hot paths
  const warm = spawn([ingest, "load", "--url", `${base}/order`, "--rate", "500", "--duration", quick ? "5s" : "20s", "--json"], {
    stdout: "ignore",
    stderr: "ignore",
    env,
  });
  await warm.exited;
  await waitLag(0, 60);
  for (const [path, rates, perReq] of [
    ["/order", singleRates, 1],
    ["/orders/batch", batchRates, batch],
  ] as const) {
    best[path] = null;
    for (const rate of rates) {
      log(`${path} at ${rate} requests/s (${rate * perReq} orders/s) for ${WARMUP_S + windowS}s`);
      const s = await step(path, rate, perReq);
      steps.push(s);
      console.log(fmtStep(s));
      if (!s.flat) break;
      best[path] = s;
      // drain before the next step (bounded)
      await waitLag(Math.max(1000, rate * perReq), 120);
    }
    await waitLag(0, 300);
  }

  // Backlog: produced while the consumer is stopped, then timed to lag 0.
  log(`backlog: ${backlog} orders, consumer stopped`);
  await stopConsumer();
  const dir = mkdtempSync(join(tmpdir(), "e2e-"));
  const csv = join(dir, "orders.csv");
  const g = spawn([ingest, "gen", "orders", "--rows", String(backlog), "--out", csv, "--seed", String(Date.now() % 100000)], {
    stdout: "ignore",
    stderr: "pipe",
    env,
  });
  if ((await g.exited) !== 0) throw new Error(`gen: ${await new Response(g.stderr).text()}`);
  const lag0 = await lagNow();
  const p = spawn(
    [ingest, "produce", "--file", csv, "--topic", topic, "--schema", join(ROOT, "data/orders.avsc"), "--key", "customer_id", "--no-progress", "-b", bootstrap],
    { stdout: "ignore", stderr: "pipe", env },
  );
  if ((await p.exited) !== 0) throw new Error(`produce: ${await new Response(p.stderr).text()}`);
  rmSync(dir, { recursive: true, force: true });
  const lagStart = await lagNow();
  log(`backlog: lag ${lag0} -> ${lagStart}; consumer started`);
  const procs = { consume: () => [consumer!.pid], broker: () => brokerPids, mysqld: () => mysqldPids, redis: () => redisPids };
  const rows0 = await ordersRows();
  const reads0 = await innodbDiskReads();
  startConsumer();
  const c0 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, groupCpu(p())]));
  const t0 = performance.now();
  let lag = lagStart;
  while (lag > 0 && performance.now() - t0 < 1_800_000) {
    await Bun.sleep(1000);
    lag = await lagNow();
  }
  const secs = (performance.now() - t0) / 1000;
  const c1 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, groupCpu(p())]));
  catchUp = {
    orders: lagStart,
    seconds: Math.round(secs * 10) / 10,
    orders_per_s: Math.round(lagStart / secs),
    final_lag: lag,
    orders_rows_before: rows0,
    orders_rows_after: await ordersRows(),
    innodb_disk_reads: (await innodbDiskReads()) - reads0,
    ...Object.fromEntries(Object.keys(procs).map((k) => [`cpu_pct_${k}`, Math.round(((c1[k]! - c0[k]!) / secs) * 100)])),
  };
  console.log(
    `catch-up: ${lagStart} orders in ${catchUp.seconds}s (${catchUp.orders_per_s} orders/s; lag 1 s sampling, consumer start included), final lag ${lag}; cpu% ${Object.keys(
      procs,
    )
      .map((k) => `${k} ${catchUp[`cpu_pct_${k}`]}`)
      .join(" ")}; orders table ${catchUp.orders_rows_before} -> ${catchUp.orders_rows_after} rows, ${catchUp.innodb_disk_reads} InnoDB disk reads`,
  );
} finally {
  await stopConsumer().catch(() => undefined);
  serve.kill("SIGTERM");
  await serve.exited;
  killChildren();
  await stopBroker().catch(() => undefined);
  if (poolDuringRun !== poolAsConfigured) await setPool(poolAsConfigured).catch((e) => log(`buffer pool not restored: ${(e as Error).message}`));
  await db.drop();
  await redis.drop();
}

console.log("\nhighest rate with flat lag:");
for (const [path, s] of Object.entries(best))
  console.log(
    `  ${path.padEnd(13)} ${s ? `${s.rate} requests/s = ${s.orders_per_s_target} orders/s (window ${windowS}s; p50 ${s.latency_ms.p50?.toFixed(1)} ms, p99 ${s.latency_ms.p99?.toFixed(1)} ms)` : "none of the rates tried"}`,
  );
const date = new Date().toISOString().slice(0, 10);
const resDir = join(ROOT, "bench", "results");
mkdirSync(resDir, { recursive: true });
// Rates of one's own choosing are a partial run: they never overwrite the default steps' results.
const custom = values.single !== undefined || values["batch-rates"] !== undefined;
const file = join(resDir, `${date}-e2e${quick ? "-quick" : ""}${custom ? `-custom-${new Date().toISOString().slice(11, 16).replace(":", "")}` : ""}.json`);
writeFileSync(
  file,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: `${cpus().length} cores, ${cpus()[0]?.model}`,
      broker: values.broker,
      partitions,
      consume_workers: workers,
      load_connections: Number(values.connections),
      innodb_buffer_pool_mib: poolDuringRun,
      window_s: windowS,
      warmup_s: WARMUP_S,
      batch,
      minutes: Math.round((Date.now() - t00) / 6000) / 10,
      best: Object.fromEntries(Object.entries(best).map(([k, s]) => [k, s && { requests_per_s: s.rate, orders_per_s: s.orders_per_s_target }])),
      steps,
      catch_up: catchUp,
    },
    null,
    2,
  ),
);
console.log(`wrote ${file}`);
