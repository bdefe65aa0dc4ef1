/**
 * `bun run bench:produce`: the produce job at 1M users, against a fresh embedded broker per run
 * (24 partitions so nothing is trimmed; watermarks checked), for lz4 and zstd, acks=all, idempotent (ingest's default; the C producer set the same):
 *   c         C librdkafka producer, the same users pre-encoded as JSON lines, each batch ordered
 *             by partition as ingest orders its batches (the ceiling; c-bench --ordered)
 *   c-ua      the same C producer leaving partitioning to librdkafka, message by message
 *   ndjson    ingest produce --input ndjson: the same pre-encoded lines
 *   csv       ingest produce: CSV parsed, typed and encoded as JSON, Kafka only
 *   csv+files ingest produce: CSV to Kafka, a JSON file and an Avro file at once
 * Alternating, best and median of R rounds; wall time and CPU (user + sys) of the whole process.
 *
 *   bun bench/produce.ts [--rows 1000000] [--rounds 3]
 */
import { parseArgs } from "node:util";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: { rows: { type: "string", default: "1000000" }, rounds: { type: "string", default: "3" }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  // The usage is this file's header comment.
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
const nd = join(dir, `users-${N}.ndjson`);
const env = { ...process.env, LOG_LEVEL: "error" };
const run = (cmd: string[]) => Bun.spawnSync(cmd, { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });

if (run(["bun", "run", "build"]).exitCode !== 0) throw new Error("build failed");
if (run(["bash", "bench/build.sh"]).exitCode !== 0) throw new Error("bench/build.sh failed");
if (!existsSync(csv)) run([ingest, "gen", "users", "--rows", String(N), "--out", csv]);
if (!existsSync(nd)) run([ingest, "produce", "--file", csv, "--no-kafka", "--json-out", nd, "--no-progress"]);

async function broker() {
  const p = Bun.spawn([ingest, "broker", "--brokers", "3", "--topics", "users:24"], { stdout: "pipe", stderr: "ignore", env });
  const { value } = await p.stdout.getReader().read();
  return { bootstrap: new TextDecoder().decode(value).trim(), stop: async () => (p.kill("SIGTERM"), await p.exited) };
}

function retained(b: string): number {
  const j = JSON.parse(run([ingest, "topic", "describe", "users", "--json", "-b", b]).stdout.toString());
  return j.partitions.reduce((s: number, p: { messages: number }) => s + p.messages, 0);
}

const cases: Record<string, (b: string, codec: string) => string[]> = {
  c: (b, codec) => [
    join(ROOT, "bench/build/c-bench"),
    "produce",
    "--brokers",
    b,
    "--topic",
    "users",
    "--messages",
    String(N),
    "--file",
    nd,
    "--compression",
    codec,
    "--idempotence",
    "--ordered",
  ],
  "c-ua": (b, codec) => [
    join(ROOT, "bench/build/c-bench"),
    "produce",
    "--brokers",
    b,
    "--topic",
    "users",
    "--messages",
    String(N),
    "--file",
    nd,
    "--compression",
    codec,
    "--idempotence",
  ],
  ndjson: (b, codec) => [ingest, "produce", "--file", nd, "--topic", "users", "--compression", codec, "-b", b, "--no-progress"],
  csv: (b, codec) => [ingest, "produce", "--file", csv, "--topic", "users", "--compression", codec, "-b", b, "--no-progress"],
  "csv+files": (b, codec) => [
    ingest,
    "produce",
    "--file",
    csv,
    "--topic",
    "users",
    "--compression",
    codec,
    "-b",
    b,
    "--json-out",
    join(dir, "out.json"),
    "--avro-out",
    join(dir, "out.avro"),
    "--no-progress",
  ],
};

const results: Record<string, number[]> = {};
const rss: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
for (let round = 1; round <= R; round++) {
  for (const codec of ["lz4", "zstd"]) {
    for (const [name, cmd] of Object.entries(cases)) {
      const b = await broker();
      const t0 = performance.now();
      const p = Bun.spawnSync(["/usr/bin/time", "-f", "TIME %M %U %S", ...cmd(b.bootstrap, codec)], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
      const secs = (performance.now() - t0) / 1000;
      const kept = retained(b.bootstrap);
      await b.stop();
      const key = `${name} ${codec}`;
      if (p.exitCode !== 0 || kept !== N) {
        console.error(`  ${key}: exit ${p.exitCode}, broker retained ${kept} of ${N}: not counted`);
        continue;
      }
      (results[key] ??= []).push(secs);
      const t = /TIME (\d+) ([\d.]+) ([\d.]+)/.exec(p.stderr.toString());
      (rss[key] ??= []).push(Number(t?.[1] ?? NaN) / 1024);
      // CPU (user + sys) of the process: steadier than wall time on a shared host.
      (cpu[key] ??= []).push(Number(t?.[2] ?? NaN) + Number(t?.[3] ?? NaN));
      console.error(`  round ${round} ${key.padEnd(15)} ${secs.toFixed(3)} s, ${cpu[key]!.at(-1)!.toFixed(2)} CPU s`);
    }
  }
}
rmSync(join(dir, "out.json"), { force: true });
rmSync(join(dir, "out.avro"), { force: true });

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
console.log(
  `\nbench:produce ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} cores (${cpus()[0]?.model}), ${N.toLocaleString("en-US")} users, acks=all, idempotent, 24 partitions, fresh embedded broker per run, ${R} rounds; wall time and CPU (user + sys) of the whole process\n`,
);
console.log(
  "| job | codec | median s | best s | msgs/s (median) | vs C | CPU s (median) | peak RSS MB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
);
for (const codec of ["lz4", "zstd"]) {
  const c = results[`c ${codec}`] ? med(results[`c ${codec}`]!) : NaN;
  for (const name of Object.keys(cases)) {
    const xs = results[`${name} ${codec}`];
    if (!xs?.length) continue;
    const m = med(xs);
    console.log(
      `| ${name} | ${codec} | ${m.toFixed(3)} | ${Math.min(...xs).toFixed(3)} | ${Math.round(N / m).toLocaleString("en-US")} | ${(c / m).toFixed(2)} | ${med(cpu[`${name} ${codec}`]!).toFixed(2)} | ${Math.round(med(rss[`${name} ${codec}`]!))} |`,
    );
  }
}
