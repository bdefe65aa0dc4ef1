/**
 * `bun run bench`: every contender does the same job on the same data, broker and machine, in
 * one run, alternating (A B C D A B C D ...).
 *
 *   produce: send N pre-generated users as JSON (key = id), lz4, acks=all, no record headers
 *            (ingest gets --no-headers), wait for every report
 *   consume: read all N back in a consumer group with manual commits, no decoding
 *
 * --broker embedded (default): a fresh embedded broker (3 brokers, mock) per produce run; no
 *   producer is idempotent (ingest gets -X enable.idempotence=false, as the others). Contenders
 *   c, go, node, ingest. Prints a table (median msgs/s, MB/s, peak RSS, CPU seconds, the
 *   broker's CPU seconds, ratio to C), writes bench/results/<date>[-quick].json and
 *   refreshes the table in bench/README.md.
 * --broker kafka4: one real single-node Apache Kafka 4.4 (tools/kafka/cluster.ts) for the whole
 *   run, a fresh topic per run, after one untimed warm-up; every producer idempotent (ingest's
 *   and the Java client's default with acks=all; c gets --idempotence). Contenders c, java
 *   (Kafka's own Java client, java/Bench.java), java-perf (Kafka's ProducerPerformance and
 *   ConsumerPerformance tools), ingest, and ingest-decode (ingest consume decoding and validating every
 *   record, of ingest's topic of the same round). Writes bench/results/<date>-kafka4[-quick].json
 *   and, on a full run, refreshes the table in docs/benchmarks-kafka4.md.
 *
 *   bun run bench [--broker embedded|kafka4] [--quick] [--messages N] [--rounds R] [--only a,b] [--no-serve]
 *
 * Only a full run (1,000,000 users, 3+ rounds) writes results/<date>[-kafka4].json and refreshes a
 * table; --quick, --messages or --rounds below that write results/<date>[-kafka4]-quick.json.
 *
 * Then, unless --only, --no-serve or --broker kafka4, the HTTP intake bench (bench/serve.ts)
 * in the same run.
 */
import { parseArgs } from "node:util";
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cpus, loadavg } from "node:os";
import { KafkaCluster, kafkaClasspath, kafkaUnavailableReason, toolArgv, KAFKA_VERSION } from "../tools/kafka/cluster.ts";
import { cpuSecondsOf } from "./proc-cpu.ts";

const ROOT = join(import.meta.dir, "..");
const NB = import.meta.dir;
const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    messages: { type: "string" },
    rounds: { type: "string" },
    only: { type: "string" },
    partitions: { type: "string", default: "24" },
    broker: { type: "string", default: "embedded" },
    "no-serve": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  // The usage is this file's header comment.
  const head = readFileSync(import.meta.path, "utf8").split("*/")[0]!;
  process.stdout.write(`${head.replace(/^\/\*\*\n?/, "").replace(/^ \* ?/gm, "")}\n`);
  process.exit(0);
}
const BROKER = values.broker as "embedded" | "kafka4";
if (BROKER !== "embedded" && BROKER !== "kafka4") {
  console.error(`bench: --broker must be embedded or kafka4, got '${values.broker}'`);
  process.exit(2);
}
const KAFKA4 = BROKER === "kafka4";
const N = Number(values.messages ?? (values.quick ? 200_000 : 1_000_000));
const ROUNDS = Number(values.rounds ?? (values.quick ? 1 : 3));
const PARTITIONS = Number(values.partitions);
// A full run (the published tables) is the default size; anything smaller is a check that it works.
const FULL = !values.quick && N === 1_000_000 && ROUNDS >= 3;
const TOPIC = "bench"; // the embedded broker's topic; on Kafka 4.4 each run gets its own
const ingest = join(ROOT, "ingest");

interface Run {
  contender: string;
  mode: "produce" | "consume";
  messages: number;
  failed: number;
  seconds: number;
  msgs_per_s: number;
  mb_per_s: number;
  wall_s: number;
  cpu_s: number;
  /** CPU seconds the broker's process(es) used while the contender ran. */
  broker_cpu_s: number;
  peak_rss_mb: number;
  retained?: number;
  topic?: string;
  /** The machine's 1-minute load average when the run ended (others share these 2 cores). */
  load: number;
}

interface Contender {
  name: string;
  /** Build what it needs; return a reason when it cannot be built or run here. */
  build(): Promise<string | null>;
  produce?(bootstrap: string, topic: string, data: string): string[];
  consume?(bootstrap: string, topic: string, group: string): string[];
  /** Consume only: reads the topic this other contender produced in the same round. */
  consumesOf?: string;
  /** Turn the process's stdout into the common figures (messages, failed, seconds). */
  parse(stdout: string, mode: "produce" | "consume"): { messages: number; failed: number; seconds: number };
}

const sh = (cmd: string[], opts: { cwd?: string } = {}) =>
  Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "error" } });

/** Contenders that print one JSON line {messages, failed, seconds, ...} (bench/README.md). */
function nativeContender(name: string, bin: () => string[], build: () => Promise<string | null>, produceFlags: string[] = []): Contender {
  return {
    name,
    build,
    produce: (b, topic, data) => [
      ...bin(),
      "produce",
      "--brokers",
      b,
      "--topic",
      topic,
      "--messages",
      String(N),
      "--file",
      data,
      "--compression",
      "lz4",
      ...produceFlags,
    ],
    consume: (b, topic, group) => [...bin(), "consume", "--brokers", b, "--topic", topic, "--messages", String(N), "--group", group],
    parse(stdout) {
      const line = stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .pop();
      if (!line) throw new Error(`${name}: no JSON result line in its output`);
      const j = JSON.parse(line);
      return { messages: j.messages, failed: j.failed ?? 0, seconds: j.seconds };
    },
  };
}

// On Kafka 4.4 every producer is idempotent, as a real deployment's default is (the Java
// client's and ingest's with acks=all); the embedded runs keep the older, non-idempotent setup.
const idempotence = KAFKA4 ? ["--idempotence"] : [];
const summary = (name: string, mode: string) => join(NB, `results/.ingest-${name}-${mode}.json`);
function ingestSummary(name: string, mode: "produce" | "consume") {
  const s = JSON.parse(readFileSync(summary(name, mode), "utf8"));
  if (mode === "produce") return { messages: s.messages_delivered, failed: s.messages_failed, seconds: s.seconds.total };
  return { messages: s.messages ?? s.consumed ?? 0, failed: 0, seconds: s.seconds?.total ?? s.seconds };
}
let javaCp = "";

const contenders: Contender[] = [
  // --ordered: batches ordered by partition before the send, as ingest produce orders its own.
  nativeContender(
    "c",
    () => [join(NB, "build/c-bench")],
    async () => {
      if (!existsSync(join(NB, "build.sh"))) return "bench/build.sh missing";
      const r = sh(["bash", join(NB, "build.sh")]);
      return r.exitCode === 0 && existsSync(join(NB, "build/c-bench")) ? null : `build failed: ${r.stderr.toString().trim().split("\n").pop()}`;
    },
    ["--ordered", ...idempotence],
  ),
  // go and node: bench/setup.sh builds them (idempotent; writes build/<name>.unavailable
  // when it cannot), run only when the artifact is missing.
  nativeContender(
    "go",
    () => [join(NB, "build/go-bench")],
    async () => {
      const bin = join(NB, "build/go-bench");
      if (!existsSync(bin)) {
        console.error("bench: building the go contender (bench/setup.sh go)");
        sh(["bash", join(NB, "setup.sh"), "go"]);
      }
      return existsSync(bin) ? null : readReason("go");
    },
    idempotence,
  ),
  nativeContender(
    "node",
    () => ["node", join(NB, "node/bench.mjs")],
    async () => {
      // The compiled addon, not just the package folder: a failed native build leaves no addon.
      const addon = join(NB, "node/node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node");
      if (!existsSync(addon)) {
        console.error("bench: building the node contender from source, several minutes (bench/setup.sh node)");
        sh(["bash", join(NB, "setup.sh"), "node"]);
      }
      return existsSync(addon) ? null : readReason("node");
    },
    idempotence,
  ),
  // Kafka's own Java client (kafka-clients of tools/kafka/pom.xml), java/Bench.java compiled with
  // javac against the harness's jars. The JVM's start and JIT warm-up are in its figures as they are.
  nativeContender(
    "java",
    () => ["java", "-Xmx2g", "-cp", `${join(NB, "build/java")}:${javaCp}`, "Bench"],
    async () => {
      if (!KAFKA4) return "runs against --broker kafka4 only";
      const why = kafkaUnavailableReason();
      if (why) return why;
      if (!Bun.which("javac")) return "javac is not installed (a JDK 17)";
      javaCp = kafkaClasspath();
      const src = join(NB, "java/Bench.java");
      const cls = join(NB, "build/java/Bench.class");
      if (existsSync(cls) && statSync(cls).mtimeMs > statSync(src).mtimeMs) return null;
      const r = sh(["javac", "-cp", javaCp, "-d", join(NB, "build/java"), src]);
      return r.exitCode === 0 ? null : `javac failed: ${r.stderr.toString().trim().split("\n")[0]}`;
    },
    idempotence,
  ),
  {
    // Kafka's own perf tools, as everyone quotes them. ProducerPerformance picks each payload at
    // random from the file's lines (not in order) and makes the keys itself ("0".."N-1" round
    // robin with --key-distribution range: the same shape as the users' ids); it loads the file
    // before its clock starts. ConsumerPerformance: its defaults (auto commit every 5 s,
    // max.poll.records 500), seconds = its fetch.time.ms (from after the group join).
    name: "java-perf",
    async build() {
      if (!KAFKA4) return "runs against --broker kafka4 only";
      const why = kafkaUnavailableReason();
      if (why) return why;
      javaCp = kafkaClasspath();
      return null;
    },
    produce: (b, topic, data) =>
      toolArgv(
        javaCp,
        "producer-perf-test",
        [
          "--bootstrap-server",
          b,
          "--topic",
          topic,
          "--num-records",
          String(N),
          "--throughput",
          "-1",
          "--payload-file",
          data,
          "--payload-delimiter",
          "\n",
          "--key-distribution",
          "range",
          "--record-key-range",
          String(N),
          "--command-property",
          "acks=all",
          "compression.type=lz4",
          "linger.ms=5",
          "batch.size=1000000",
          `buffer.memory=${1 << 30}`,
          `enable.idempotence=${KAFKA4}`,
        ],
        2048,
      ),
    consume: (b, topic, group) =>
      toolArgv(
        javaCp,
        "consumer-perf-test",
        ["--bootstrap-server", b, "--topic", topic, "--num-records", String(N), "--group", group, "--timeout", "60000"],
        1024,
      ),
    parse(stdout, mode) {
      const lines = stdout.trim().split("\n");
      if (mode === "produce") {
        // The last "N records sent, R records/sec (...)" line is the total.
        const m = /^(\d+) records sent, ([\d.]+) records\/sec/.exec(lines.filter((l) => / records sent, /.test(l)).pop() ?? "");
        if (!m) throw new Error(`java-perf: no total line in ${stdout.slice(-300)}`);
        return { messages: Number(m[1]), failed: 0, seconds: Number(m[1]) / Number(m[2]) };
      }
      // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, ...
      const row = lines
        .filter((l) => /^\d{4}-/.test(l))
        .pop()
        ?.split(/,\s*/);
      if (!row || row.length < 8) throw new Error(`java-perf: no result row in ${stdout.slice(-300)}`);
      return { messages: Number(row[4]), failed: 0, seconds: Number(row[7]) / 1000 };
    },
  },
  {
    name: "ingest",
    async build() {
      const r = sh(["bun", "run", "build"]);
      return r.exitCode === 0 ? null : `bun run build failed: ${r.stderr.toString().slice(-300)}`;
    },
    // --no-headers: the other contenders send no record headers (ingest's default content-type
    // header costs CPU per record).
    produce: (b, topic, data) => [
      ingest,
      "produce",
      "--file",
      data,
      "--input",
      "ndjson",
      "--topic",
      topic,
      "--key",
      "id",
      "--compression",
      "lz4",
      "--acks",
      "all",
      "--no-headers",
      ...(KAFKA4 ? [] : ["-X", "enable.idempotence=false"]),
      "-b",
      b,
      "--summary-json",
      summary("ingest", "produce"),
      "--no-progress",
    ],
    // --format raw: the same job as the other contenders (receive, commit, no decoding); what
    // decoding and validating cost is ingest-decode's (and bench:consume's) job.
    consume: (b, topic, group) => [
      ingest,
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
      String(N),
      "--from-beginning",
      "-b",
      b,
      "--summary-json",
      summary("ingest", "consume"),
    ],
    parse: (_stdout, mode) => ingestSummary("ingest", mode),
  },
  {
    // The issue's consume target: decoding (JSON.parse) and validating every record, against C
    // without decoding. Reads ingest's topic of the same round in a group of its own.
    name: "ingest-decode",
    consumesOf: "ingest",
    build: async () => null,
    consume: (b, topic, group) => [
      ingest,
      "consume",
      "--group",
      group,
      "--topics",
      topic,
      "--kinds",
      `users=${topic}`,
      "--format",
      "json",
      "--sink",
      "none",
      "--max-messages",
      String(N),
      "--from-beginning",
      "-b",
      b,
      "--summary-json",
      summary("ingest-decode", "consume"),
    ],
    parse: (_stdout, mode) => ingestSummary("ingest-decode", mode),
  },
];

function readReason(name: string): string {
  const f = join(NB, `build/${name}.unavailable`);
  return existsSync(f) ? readFileSync(f, "utf8").trim() : `not built (run bench/setup.sh; see bench/README.md)`;
}

interface Broker {
  bootstrap: string;
  /** PID of the broker's process (the embedded broker's, or the Kafka node's JVM). */
  pid: number;
  stop: () => Promise<void>;
}

/** Start a fresh embedded broker; returns its bootstrap and a stop function. */
async function startEmbedded(): Promise<Broker> {
  const p = Bun.spawn([ingest, "broker", "--brokers", "3", "--topics", `${TOPIC}:${PARTITIONS}`], {
    stdout: "pipe",
    stderr: "ignore",
    env: { ...process.env, LOG_LEVEL: "error" },
  });
  const { value } = await p.stdout.getReader().read();
  const bootstrap = new TextDecoder().decode(value).trim();
  if (!bootstrap) throw new Error("embedded broker did not start");
  return {
    bootstrap,
    pid: p.pid,
    stop: async () => {
      p.kill("SIGTERM");
      await p.exited;
    },
  };
}

// Kafka's default heap for a broker (bin/kafka-server-start.sh: 1 GB); the log lives in the page
// cache, not the heap.
const KAFKA_HEAP_MB = 1024;

/** One single-node Kafka 4.4 for the whole run. */
async function startKafka4(): Promise<Broker & { cluster: KafkaCluster }> {
  const why = kafkaUnavailableReason();
  if (why) throw new Error(`--broker kafka4: ${why}`);
  const cluster = await KafkaCluster.start({ nodes: 1, heapMb: KAFKA_HEAP_MB });
  return { cluster, bootstrap: cluster.bootstrap, pid: cluster.nodes[0]!.pid!, stop: () => cluster.stop() };
}

async function createTopic(k: Broker & { cluster: KafkaCluster }, topic: string): Promise<void> {
  const r = sh([ingest, "topic", "create", topic, "--partitions", String(PARTITIONS), "-b", k.bootstrap]);
  if (r.exitCode !== 0) throw new Error(`topic create ${topic}: ${r.stderr.toString().trim()}`);
  await k.cluster.waitForIsr(topic, 1);
}

function retained(bootstrap: string, topic: string): number {
  const r = sh([ingest, "topic", "describe", topic, "--json", "-b", bootstrap]);
  const j = JSON.parse(r.stdout.toString());
  return j.partitions.reduce((s: number, p: { messages: number }) => s + p.messages, 0);
}

/** Run a command under GNU time for CPU seconds and peak RSS, and the broker's CPU meanwhile. */
async function timed(
  cmd: string[],
  brokerPid: number,
): Promise<{ stdout: string; stderr: string; code: number; wall: number; cpu: number; rssMb: number; brokerCpu: number }> {
  const b0 = cpuSecondsOf(brokerPid);
  const t0 = performance.now();
  const p = Bun.spawn(["/usr/bin/time", "-f", "TIME %U %S %M", ...cmd], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "error" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const wall = (performance.now() - t0) / 1000;
  const brokerCpu = cpuSecondsOf(brokerPid) - b0;
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  return { stdout, stderr, code, wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, rssMb: m ? Number(m[3]) / 1024 : NaN, brokerCpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

const DEFAULT_CONTENDERS = KAFKA4 ? ["c", "java", "java-perf", "ingest", "ingest-decode"] : ["c", "go", "node", "ingest"];

async function main() {
  const only = values.only?.split(",") ?? DEFAULT_CONTENDERS;
  const unknown = only.filter((n) => !contenders.some((c) => c.name === n));
  if (unknown.length) throw new Error(`--only: no contender ${unknown.join(", ")} (have ${contenders.map((c) => c.name).join(", ")})`);
  const active = contenders.filter((c) => only.includes(c.name));
  // ingest first: the broker and the data generator are ingest's.
  const ingestC = contenders.find((c) => c.name === "ingest")!;
  const ingestBuild = await ingestC.build();
  if (ingestBuild) throw new Error(ingestBuild);
  const unavailable: Record<string, string> = {};
  for (const c of active) {
    if (c === ingestC) continue;
    const why = await c.build();
    if (why) unavailable[c.name] = why;
    else if (c.consumesOf && !active.some((d) => d.name === c.consumesOf)) unavailable[c.name] = `reads ${c.consumesOf}'s topic: add ${c.consumesOf} to --only`;
  }
  const dataDir = join(NB, "data");
  mkdirSync(dataDir, { recursive: true });
  const csv = join(dataDir, `users-${N}.csv`);
  const data = join(dataDir, `users-${N}.ndjson`);
  if (!existsSync(data)) {
    sh([ingest, "gen", "users", "--rows", String(N), "--out", csv, "--seed", "42"]);
    const r = sh([ingest, "produce", "--file", csv, "--no-kafka", "--json-out", data, "--no-progress"]);
    if (r.exitCode !== 0) throw new Error(`data generation failed: ${r.stderr}`);
  }
  const bytes = statSync(data).size;
  const kafka4 = KAFKA4 ? await startKafka4() : null;
  console.error(
    `bench: ${N.toLocaleString()} users (${(bytes / 1e6).toFixed(0)} MB JSON), ${ROUNDS} rounds, ${PARTITIONS} partitions, lz4, acks=all, ${KAFKA4 ? `Kafka ${KAFKA_VERSION} single node at ${kafka4!.bootstrap} (JVM pid ${kafka4!.pid})` : "embedded broker"}; ${cpus().length} cores`,
  );

  if (kafka4) {
    // A cold broker (JIT, the first __consumer_offsets partitions, the first producer id) would
    // slow whichever contender runs first: one untimed produce and consume of the same data first.
    const topic = `bench-warmup-${Date.now()}`;
    await createTopic(kafka4, topic);
    const w = await timed(ingestC.produce!(kafka4.bootstrap, topic, data), kafka4.pid);
    const v = await timed(ingestC.consume!(kafka4.bootstrap, topic, `bench-warmup-${Date.now()}`), kafka4.pid);
    console.error(
      `  warm-up: produce ${w.wall.toFixed(1)} s, consume ${v.wall.toFixed(1)} s (not counted), broker cpu ${(w.brokerCpu + v.brokerCpu).toFixed(1)} s`,
    );
  }

  const loadStart = loadavg()[0]!;
  const runs: Run[] = [];
  const record = (c: Contender, mode: "produce" | "consume", t: Awaited<ReturnType<typeof timed>>, extra: Partial<Run> = {}) => {
    const f = c.parse(t.stdout, mode);
    const run: Run = {
      contender: c.name,
      mode,
      ...f,
      msgs_per_s: f.messages / f.seconds,
      mb_per_s: (bytes * (f.messages / N)) / 1e6 / f.seconds,
      wall_s: t.wall,
      cpu_s: t.cpu,
      broker_cpu_s: t.brokerCpu,
      peak_rss_mb: t.rssMb,
      load: loadavg()[0]!,
      ...extra,
    };
    runs.push(run);
    return run;
  };
  const fail = (c: Contender, mode: string, t: { code: number; stderr: string }) =>
    console.error(`  ${c.name} ${mode} exited ${t.code}: ${t.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of active) {
        if (unavailable[c.name] || !c.produce) continue;
        const broker = kafka4 ?? (await startEmbedded());
        const topic = kafka4 ? `bench-${c.name}-${round}-${Date.now()}` : TOPIC;
        try {
          if (kafka4) await createTopic(kafka4, topic);
          const p = await timed(c.produce(broker.bootstrap, topic, data), broker.pid);
          if (p.code !== 0) {
            fail(c, "produce", p);
            continue;
          }
          const kept = retained(broker.bootstrap, topic);
          const r = record(c, "produce", p, { retained: kept, topic });
          console.error(
            `  round ${round} ${c.name.padEnd(6)} produce ${Math.round(r.msgs_per_s).toLocaleString().padStart(10)} msg/s  cpu ${r.cpu_s.toFixed(2)} s, broker cpu ${r.broker_cpu_s.toFixed(2)} s  (broker retained ${kept.toLocaleString()})`,
          );
          if (kept !== N) console.error(`    WARNING: the broker holds ${kept} of ${N}: the run is not comparable`);
          const readers = [c, ...active.filter((d) => d.consumesOf === c.name && !unavailable[d.name])];
          for (const d of readers) {
            if (!d.consume) continue;
            const q = await timed(d.consume(broker.bootstrap, topic, `bench-${d.name}-${round}-${Date.now()}`), broker.pid);
            if (q.code !== 0) {
              fail(d, "consume", q);
              continue;
            }
            const g = record(d, "consume", q, { topic });
            console.error(
              `  round ${round} ${d.name.padEnd(6)} consume ${Math.round(g.msgs_per_s).toLocaleString().padStart(10)} msg/s  cpu ${g.cpu_s.toFixed(2)} s, broker cpu ${g.broker_cpu_s.toFixed(2)} s`,
            );
          }
        } finally {
          if (!kafka4) await broker.stop();
        }
      }
    }
  } finally {
    await kafka4?.stop();
  }

  const rows: string[] = [];
  const table: Record<string, unknown>[] = [];
  const r2 = (x: number) => Math.round(x * 100) / 100;
  for (const mode of ["produce", "consume"] as const) {
    const rateOf = (name: string) => median(runs.filter((r) => r.contender === name && r.mode === mode).map((r) => r.msgs_per_s));
    const cRate = rateOf("c");
    const jRate = rateOf("java");
    for (const c of active) {
      const rs = runs.filter((r) => r.contender === c.name && r.mode === mode);
      if (unavailable[c.name]) {
        if (mode === "produce" || !c.produce) {
          rows.push(`| ${mode} | ${c.name} | not run: ${unavailable[c.name]} |${" |".repeat(KAFKA4 ? 8 : 6)}`);
          table.push({ mode, contender: c.name, unavailable: unavailable[c.name] });
        }
        continue;
      }
      if (!rs.length) continue;
      const rate = median(rs.map((r) => r.msgs_per_s));
      const row = {
        mode,
        contender: c.name,
        runs: rs.length,
        msgs_per_s: Math.round(rate),
        mb_per_s: Math.round(median(rs.map((r) => r.mb_per_s)) * 10) / 10,
        peak_rss_mb: Math.round(median(rs.map((r) => r.peak_rss_mb))),
        wall_s: r2(median(rs.map((r) => r.wall_s))),
        cpu_s: r2(median(rs.map((r) => r.cpu_s))),
        broker_cpu_s: r2(median(rs.map((r) => r.broker_cpu_s))),
        vs_c: Number.isFinite(cRate) ? r2(rate / cRate) : null,
        vs_java: Number.isFinite(jRate) ? r2(rate / jRate) : null,
      };
      table.push(row);
      const fmt = (x: number | null) => (x === null ? "n/a" : String(x));
      rows.push(
        KAFKA4
          ? `| ${mode} | ${c.name} | ${row.msgs_per_s.toLocaleString("en-US")} | ${row.mb_per_s} | ${row.peak_rss_mb} | ${row.wall_s} | ${row.cpu_s} | ${row.broker_cpu_s} | ${fmt(row.vs_c)} | ${fmt(row.vs_java)} | ${row.runs} |`
          : `| ${mode} | ${c.name} | ${row.msgs_per_s.toLocaleString("en-US")} | ${row.mb_per_s} | ${row.peak_rss_mb} | ${row.cpu_s} | ${row.broker_cpu_s} | ${fmt(row.vs_c)} | ${row.runs} |`,
      );
    }
  }
  const date = new Date().toISOString().slice(0, 10);
  const header = KAFKA4
    ? `| mode | contender | msgs/s (median) | MB/s | peak RSS MB | wall s | CPU s | broker CPU s | vs C | vs Java | runs |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`
    : `| mode | contender | msgs/s (median) | MB/s | peak RSS MB | CPU s | broker CPU s | vs C | runs |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`;
  const where = KAFKA4
    ? `a fresh topic per run on one single-node Apache Kafka ${KAFKA_VERSION} (KRaft, ${KAFKA_HEAP_MB} MB heap, same machine), idempotent producers`
    : "a fresh embedded broker per run";
  const md = `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on this project's machine kind (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}), ${N.toLocaleString("en-US")} users (${(bytes / 1e6).toFixed(0)} MB JSON), lz4, acks=all, ${PARTITIONS} partitions on ${where}, ${ROUNDS} round(s) alternating; 1-minute load average ${loadStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end.\n\n${header}\n${rows.join("\n")}\n`;
  console.log(`\n${md}`);
  const suffix = `${KAFKA4 ? "-kafka4" : ""}${FULL ? "" : "-quick"}`;
  writeFileSync(
    join(NB, "results", `${date}${suffix}.json`),
    JSON.stringify(
      { date, broker: KAFKA4 ? `kafka ${KAFKA_VERSION}` : "embedded", messages: N, rounds: ROUNDS, partitions: PARTITIONS, table, runs, unavailable },
      null,
      2,
    ) + "\n",
  );
  // Only a full run refreshes the published table; --quick is for checking that it all works.
  const target = KAFKA4 ? join(ROOT, "docs/benchmarks-kafka4.md") : join(NB, "README.md");
  if (existsSync(target) && FULL) {
    const text = readFileSync(target, "utf8");
    const start = "<!-- bench:begin -->";
    const end = "<!-- bench:end -->";
    const block = `${start}\n${md}${end}`;
    writeFileSync(
      target,
      text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`,
    );
  }
}

await main();

// The HTTP intake joins the same report (bench/serve.ts: wrk against ingest serve and the
// Node.js peer); --no-serve skips it.
if (!values["no-serve"] && !values.only && !KAFKA4) {
  console.error("\nbench: the HTTP intake (bench/serve.ts)");
  const r = Bun.spawnSync(["bun", join(NB, "serve.ts"), ...(values.quick ? ["--quick"] : [])], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) console.error(`bench: serve bench exited ${r.exitCode}`);
}
