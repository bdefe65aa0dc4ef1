/**
 * Where the time goes on Kafka 4.4 (docs/benchmarks-kafka4.md): on one single-node Kafka 4.4,
 * after one untimed C produce, 3 rounds alternating of
 *   produce: c-bench --ordered with and without --idempotence, ingest produce --no-headers with
 *            and without idempotence (1M users each, a fresh 24-partition topic each);
 *   consume of ingest's topic: c-bench, c-bench --copy, ingest --format raw, ingest decoding
 *            (--sink none), the same with --workers 1.
 * Prints one JSON line per run: msgs/s (each one's own clock), CPU s, the broker JVM's CPU s, load.
 * Needs `bun run bench` to have built bench/build/c-bench and the 1M users data.
 *
 *   bun bench/kafka4-where.ts
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
function run(name: string, cmd: string[], secs: () => number) {
  const b0 = cpuSecondsOf(bpid);
  const r = Bun.spawnSync(["/usr/bin/time", "-f", "TIME %U %S %M", ...cmd], { stdout: "pipe", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "error" } });
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr.toString());
  let s = NaN;
  try {
    s = secs.call(r);
  } catch {}
  if (r.exitCode !== 0) console.log(name, "exit", r.exitCode, r.stderr.toString().slice(-300));
  const out = r.stdout.toString();
  const j = out
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop();
  const sec = j ? JSON.parse(j).seconds : s;
  console.log(
    JSON.stringify({
      name,
      msgs_per_s: Math.round(1e6 / sec),
      cpu_s: m ? +(Number(m[1]) + Number(m[2])).toFixed(2) : null,
      broker_cpu_s: +(cpuSecondsOf(bpid) - b0).toFixed(2),
      load: +loadavg()[0]!.toFixed(1),
    }),
  );
}
const sum = join(W, "bench/results/.ingest-where.json");
const ingSecs = () => JSON.parse(readFileSync(sum, "utf8")).seconds.total;
const conSecs = () => JSON.parse(readFileSync(sum, "utf8")).seconds;
// warm-up
{
  const t = await topic();
  run("warmup", [C, "produce", "--brokers", k.bootstrap, "--topic", t, "--messages", "1000000", "--file", data, "--ordered", "--idempotence"], () => 0);
}
const topics: Record<string, string> = {};
for (let round = 1; round <= 3; round++) {
  for (const [name, cmd] of [
    ["c-idem", (t: string) => [C, "produce", "--brokers", k.bootstrap, "--topic", t, "--messages", "1000000", "--file", data, "--ordered", "--idempotence"]],
    ["c-noidem", (t: string) => [C, "produce", "--brokers", k.bootstrap, "--topic", t, "--messages", "1000000", "--file", data, "--ordered"]],
    [
      "ingest-idem",
      (t: string) => [
        ING,
        "produce",
        "--file",
        data,
        "--input",
        "ndjson",
        "--topic",
        t,
        "--no-headers",
        "-b",
        k.bootstrap,
        "--summary-json",
        sum,
        "--no-progress",
      ],
    ],
    [
      "ingest-noidem",
      (t: string) => [
        ING,
        "produce",
        "--file",
        data,
        "--input",
        "ndjson",
        "--topic",
        t,
        "--no-headers",
        "-X",
        "enable.idempotence=false",
        "-b",
        k.bootstrap,
        "--summary-json",
        sum,
        "--no-progress",
      ],
    ],
  ] as const) {
    const t = await topic();
    topics[name] = t;
    run(`${name} produce`, cmd(t), ingSecs);
  }
  const t = topics["ingest-idem"]!;
  run("c consume", [C, "consume", "--brokers", k.bootstrap, "--topic", t, "--messages", "1000000", "--group", `g${n++}`], () => 0);
  run("c-copy consume", [C, "consume", "--brokers", k.bootstrap, "--topic", t, "--messages", "1000000", "--group", `g${n++}`, "--copy"], () => 0);
  run(
    "ingest raw consume",
    [
      ING,
      "consume",
      "--group",
      `g${n++}`,
      "--topics",
      t,
      "--format",
      "raw",
      "--sink",
      "none",
      "--max-messages",
      "1000000",
      "--from-beginning",
      "-b",
      k.bootstrap,
      "--summary-json",
      sum,
    ],
    conSecs,
  );
  run(
    "ingest decode consume",
    [
      ING,
      "consume",
      "--group",
      `g${n++}`,
      "--topics",
      t,
      "--kinds",
      `users=${t}`,
      "--sink",
      "none",
      "--max-messages",
      "1000000",
      "--from-beginning",
      "-b",
      k.bootstrap,
      "--summary-json",
      sum,
    ],
    conSecs,
  );
  run(
    "ingest decode consume workers1",
    [
      ING,
      "consume",
      "--group",
      `g${n++}`,
      "--topics",
      t,
      "--kinds",
      `users=${t}`,
      "--sink",
      "none",
      "--workers",
      "1",
      "--max-messages",
      "1000000",
      "--from-beginning",
      "-b",
      k.bootstrap,
      "--summary-json",
      sum,
    ],
    conSecs,
  );
}
await k.stop();
