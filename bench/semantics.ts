/**
 * `bun run bench:semantics`: what the schema registry and transactions cost produce, against a
 * real Kafka 4.4 (one node, tools/kafka) and a real registry (Apicurio, tools/registry), 1M
 * users from CSV, lz4, acks=all, idempotent, 6 partitions, a fresh topic per run. Side by side,
 * alternating, R rounds:
 *   avro          --format avro: bare Avro binary values
 *   avro+registry --format avro --schema-registry: the registry's wire format (schema registered once)
 *   json          --format json
 *   json+txn      --format json --transactional-id (one transaction per worker, committed together)
 * With --baseline BIN, also `json` and `avro` with that ingest executable (e.g. one built from main), to
 * compare the hot path before and after; and consume (--sink none, JSON users from CSV, every
 * record with its content-type header) with this build (which reads each record's header) and
 * with BIN (which does not), over the same 1M records.
 * Prints the median and best wall time, CPU (user + sys) of the whole process, and the ratios
 * avro+registry / avro and json+txn / json of the medians of throughput (1.0 = no cost).
 *
 *   bun bench/semantics.ts [--rows 1000000] [--rounds 3] [--baseline /path/to/ingest]
 */
import { parseArgs } from "node:util";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cpus, loadavg } from "node:os";
import { KafkaCluster } from "../tools/kafka/cluster.ts";
import { SchemaRegistry } from "../tools/registry/registry.ts";

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    baseline: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  const head = readFileSync(import.meta.path, "utf8").split("*/")[0]!;
  process.stdout.write(`${head.replace(/^\/\*\*\n?/, "").replace(/^ \* ?/gm, "")}\n`);
  process.exit(0);
}
const N = Number(values.rows);
const R = Number(values.rounds);
const ingest = join(ROOT, "ingest");
const dir = join(ROOT, "bench", "data");
mkdirSync(dir, { recursive: true });
const csv = join(dir, `users-${N}.csv`);
const env = { ...process.env, LOG_LEVEL: "error" };
const run = (cmd: string[]) => Bun.spawnSync(cmd, { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });

if (run(["bun", "run", "build"]).exitCode !== 0) throw new Error("build failed");
if (!existsSync(csv)) run([ingest, "gen", "users", "--rows", String(N), "--out", csv]);

const load0 = loadavg()[0]!;
const started = new Date();
// One after the other: two JVMs starting at once on 2 shared cores each took minutes.
const kafka = await KafkaCluster.start({ nodes: 1, timeoutMs: 300_000 });
const registry = await SchemaRegistry.start().catch(async (e) => {
  await kafka.stop();
  throw e;
});
let topicSeq = 0;
function freshTopic(): string {
  const t = `bench-${process.pid}-${topicSeq++}`;
  const r = run([ingest, "topic", "create", t, "--partitions", "6", "-b", kafka.bootstrap]);
  if (r.exitCode !== 0) throw new Error(`topic create: ${r.stderr}`);
  return t;
}

const common = (bin: string, t: string) => [bin, "produce", "--file", csv, "--topic", t, "--compression", "lz4", "-b", kafka.bootstrap, "--no-progress"];
const cases: Record<string, (t: string, round: number) => string[]> = {
  avro: (t) => [...common(ingest, t), "--format", "avro"],
  "avro+registry": (t) => [...common(ingest, t), "--format", "avro", "--schema-registry", registry.url],
  json: (t) => [...common(ingest, t), "--format", "json"],
  "json+txn": (t, round) => [...common(ingest, t), "--format", "json", "--transactional-id", `bench-${process.pid}-${round}-${t}`],
};
if (values.baseline) {
  cases["json (baseline)"] = (t) => [...common(values.baseline!, t), "--format", "json"];
  cases["avro (baseline)"] = (t) => [...common(values.baseline!, t), "--format", "avro"];
}

const wall: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
/** Consume cases read one topic filled once; produce cases write a fresh one each. */
const consumeCases: Record<string, (t: string, round: number) => string[]> = {};
let consumeTopic = "";
if (values.baseline) {
  consumeTopic = freshTopic();
  if (run(common(ingest, consumeTopic)).exitCode !== 0) throw new Error("filling the consume topic failed");
  const consume = (bin: string, t: string, round: number) => [
    bin,
    "consume",
    "--topics",
    t,
    "--kinds",
    `users=${t}`,
    "--sink",
    "none",
    "--group",
    `bench-${process.pid}-${bin.length}-${round}`,
    "--from-beginning",
    "--max-messages",
    String(N),
    "-b",
    kafka.bootstrap,
  ];
  consumeCases.consume = (t, round) => consume(ingest, t, round);
  consumeCases["consume (baseline)"] = (t, round) => consume(values.baseline!, t, round);
  Object.assign(cases, consumeCases);
}
try {
  for (let round = 1; round <= R; round++) {
    for (const [name, cmd] of Object.entries(cases)) {
      const consuming = name in consumeCases;
      const t = consuming ? consumeTopic : freshTopic();
      const t0 = performance.now();
      const p = Bun.spawnSync(["/usr/bin/time", "-f", "TIME %M %U %S", ...cmd(t, round)], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
      const secs = (performance.now() - t0) / 1000;
      const err = p.stderr.toString();
      if (p.exitCode !== 0 || !err.includes(consuming ? `written ${N.toLocaleString("en-US")}` : `delivered ${N.toLocaleString("en-US")}, failed 0`)) {
        console.error(`  ${name}: exit ${p.exitCode}: not counted\n${err.slice(-800)}`);
        continue;
      }
      (wall[name] ??= []).push(secs);
      const m = /TIME (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      (cpu[name] ??= []).push(Number(m?.[2] ?? NaN) + Number(m?.[3] ?? NaN));
      console.error(`  round ${round} ${name.padEnd(16)} ${secs.toFixed(3)} s, ${cpu[name]!.at(-1)!.toFixed(2)} CPU s`);
    }
  }
} finally {
  await Promise.all([kafka.stop(), registry.stop()]);
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
console.log(
  `\nbench:semantics ${started.toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} cores (${cpus()[0]?.model}), load average (1 min) ${load0.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after; ` +
    `${N.toLocaleString("en-US")} users from CSV, Kafka 4.4 (1 node, 6 partitions, a fresh topic per run), lz4, acks=all, ${R} rounds alternating\n`,
);
console.log("| job | median s | best s | msgs/s (median) | CPU s (median) |\n| --- | ---: | ---: | ---: | ---: |");
for (const name of Object.keys(cases)) {
  const xs = wall[name];
  if (!xs?.length) continue;
  console.log(
    `| ${name} | ${med(xs).toFixed(3)} | ${Math.min(...xs).toFixed(3)} | ${Math.round(N / med(xs)).toLocaleString("en-US")} | ${med(cpu[name]!).toFixed(2)} |`,
  );
}
const ratio = (a: string, b: string) => (wall[a]?.length && wall[b]?.length ? (med(wall[b]!) / med(wall[a]!)).toFixed(2) : "n/a");
console.log(
  `\nthroughput ratios (medians): avro+registry / avro = ${ratio("avro+registry", "avro")} (target >= 0.9); json+txn / json = ${ratio("json+txn", "json")} (target >= 0.7)` +
    (values.baseline
      ? `; json / json (baseline) = ${ratio("json", "json (baseline)")}; avro / avro (baseline) = ${ratio("avro", "avro (baseline)")}; consume / consume (baseline) = ${ratio("consume", "consume (baseline)")}`
      : ""),
);
