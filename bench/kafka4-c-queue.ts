/**
 * Why c-bench uses more CPU than ingest producing into Kafka 4.4 (docs/benchmarks-kafka4.md): on
 * one single-node Kafka 4.4, after one untimed C produce, 3 rounds alternating of c-bench
 * --ordered --idempotence as the bench runs it (queue up to 1M messages / 1 GB), the same with
 * ingest produce's queue limits (200,000 / 256 MB), and ingest produce --no-headers. Prints one
 * JSON line per run: msgs/s (own clock), CPU s (user, system), the broker JVM's CPU s, load.
 *
 *   bun bench/kafka4-c-queue.ts
 */
import { KafkaCluster } from "../tools/kafka/cluster.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import { cpuSecondsOf } from "./proc-cpu.ts";
const W = join(import.meta.dir, ".."),
  ING = `${W}/ingest`,
  C = `${W}/bench/build/c-bench`;
const data = `${W}/bench/data/users-1000000.ndjson`;
const k = await KafkaCluster.start({ nodes: 1, heapMb: 1024 });
const bpid = k.nodes[0]!.pid!;
let n = 0;
const topic = async () => {
  const t = `x-${n++}`;
  Bun.spawnSync([ING, "topic", "create", t, "--partitions", "24", "-b", k.bootstrap]);
  await k.waitForIsr(t, 1);
  return t;
};
const sum = join(W, "bench/results/.ingest-c-queue.json");
function run(name: string, cmd: string[]) {
  const b0 = cpuSecondsOf(bpid);
  const r = Bun.spawnSync(["/usr/bin/time", "-f", "TIME %U %S %M", ...cmd], { stdout: "pipe", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "error" } });
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr.toString());
  if (r.exitCode !== 0) console.log(name, "exit", r.exitCode, r.stderr.toString().slice(-300));
  const j = r.stdout
    .toString()
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  const sec = j ? JSON.parse(j).seconds : JSON.parse(readFileSync(sum, "utf8")).seconds.total;
  console.log(
    JSON.stringify({
      name,
      msgs_per_s: Math.round(1e6 / sec),
      cpu_s: m ? +(Number(m[1]) + Number(m[2])).toFixed(2) : null,
      user_s: m ? Number(m[1]) : null,
      sys_s: m ? Number(m[2]) : null,
      broker_cpu_s: +(cpuSecondsOf(bpid) - b0).toFixed(2),
      load: +loadavg()[0]!.toFixed(1),
    }),
  );
}
const c = (t: string, extra: string[]) => [
  C,
  "produce",
  "--brokers",
  k.bootstrap,
  "--topic",
  t,
  "--messages",
  "1000000",
  "--file",
  data,
  "--ordered",
  "--idempotence",
  ...extra,
];
run("warmup", c(await topic(), []));
for (let round = 1; round <= 3; round++) {
  run("c default", c(await topic(), []));
  run("c queue 200k/256MB", c(await topic(), ["--conf", "queue.buffering.max.messages=200000", "--conf", "queue.buffering.max.kbytes=262144"]));
  run("ingest", [
    ING,
    "produce",
    "--file",
    data,
    "--input",
    "ndjson",
    "--topic",
    await topic(),
    "--no-headers",
    "-b",
    k.bootstrap,
    "--summary-json",
    sum,
    "--no-progress",
  ]);
}
await k.stop();
