/**
 * `bun run bench`: every contender does the same job on the same data, broker and machine, in
 * one run, alternating (A B C D A B C D ...), each produce run against a fresh embedded broker.
 *
 *   produce: send N pre-generated users as JSON (key = id), lz4, acks=all, not idempotent (ingest gets -X enable.idempotence=false, as the others), wait for every report
 *   consume: read all N back in a consumer group with manual commits, no decoding
 *
 * Prints a table (median msgs/s, MB/s, peak RSS, CPU seconds, ratio to C), writes
 * native-bench/results/<date>.json and refreshes the table in native-bench/README.md.
 *
 *   bun run bench [--quick] [--messages N] [--rounds R] [--only a,b] [--no-serve]
 *
 * Then, unless --only or --no-serve, the HTTP intake bench (native-bench/serve.ts) in the same run.
 */
import { parseArgs } from "node:util";
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";

const ROOT = join(import.meta.dir, "..");
const NB = import.meta.dir;
const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    messages: { type: "string" },
    rounds: { type: "string" },
    only: { type: "string" },
    partitions: { type: "string", default: "24" },
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
const N = Number(values.messages ?? (values.quick ? 200_000 : 1_000_000));
const ROUNDS = Number(values.rounds ?? (values.quick ? 1 : 3));
const PARTITIONS = Number(values.partitions);
const TOPIC = "bench";
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
  peak_rss_mb: number;
  retained?: number;
}

interface Contender {
  name: string;
  /** Build what it needs; return a reason when it cannot be built here. */
  build(): Promise<string | null>;
  produce?(bootstrap: string, data: string): string[];
  consume?(bootstrap: string, group: string): string[];
  /** Turn the process's stdout into the common figures (messages, failed, seconds). */
  parse(stdout: string, mode: "produce" | "consume", tmp: string): { messages: number; failed: number; seconds: number };
}

const sh = (cmd: string[], opts: { cwd?: string } = {}) => Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "error" } });

/** Contenders that print one JSON line {messages, failed, seconds, ...} (native-bench/README.md). */
function nativeContender(name: string, bin: () => string[], build: () => Promise<string | null>, produceFlags: string[] = []): Contender {
  return {
    name,
    build,
    produce: (b, data) => [...bin(), "produce", "--brokers", b, "--topic", TOPIC, "--messages", String(N), "--file", data, "--compression", "lz4", ...produceFlags],
    consume: (b, group) => [...bin(), "consume", "--brokers", b, "--topic", TOPIC, "--messages", String(N), "--group", group],
    parse(stdout) {
      const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
      if (!line) throw new Error(`${name}: no JSON result line in its output`);
      const j = JSON.parse(line);
      return { messages: j.messages, failed: j.failed ?? 0, seconds: j.seconds };
    },
  };
}

const contenders: Contender[] = [
  // --ordered: batches ordered by partition before the send, as ingest produce orders its own.
  nativeContender("c", () => [join(NB, "build/c-bench")], async () => {
    if (!existsSync(join(NB, "build.sh"))) return "native-bench/build.sh missing";
    const r = sh(["bash", join(NB, "build.sh")]);
    return r.exitCode === 0 && existsSync(join(NB, "build/c-bench")) ? null : `build failed: ${r.stderr.toString().trim().split("\n").pop()}`;
  }, ["--ordered"]),
  // go and node: native-bench/setup.sh builds them (idempotent; writes build/<name>.unavailable
  // when it cannot), run only when the artifact is missing.
  nativeContender("go", () => [join(NB, "build/go-bench")], async () => {
    const bin = join(NB, "build/go-bench");
    if (!existsSync(bin)) {
      console.error("bench: building the go contender (native-bench/setup.sh go)");
      sh(["bash", join(NB, "setup.sh"), "go"]);
    }
    return existsSync(bin) ? null : readReason("go");
  }),
  nativeContender("node", () => ["node", join(NB, "node/bench.mjs")], async () => {
    // The compiled addon, not just the package folder: a failed native build leaves no addon.
    const addon = join(NB, "node/node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node");
    if (!existsSync(addon)) {
      console.error("bench: building the node contender from source, several minutes (native-bench/setup.sh node)");
      sh(["bash", join(NB, "setup.sh"), "node"]);
    }
    return existsSync(addon) ? null : readReason("node");
  }),
  {
    name: "ingest",
    async build() {
      const r = sh(["bun", "run", "build"]);
      return r.exitCode === 0 ? null : `bun run build failed: ${r.stderr.toString().slice(-300)}`;
    },
    produce: (b, data) => [ingest, "produce", "--file", data, "--input", "ndjson", "--topic", TOPIC, "--key", "id", "--compression", "lz4", "--acks", "all", "-X", "enable.idempotence=false", "-b", b, "--summary-json", join(NB, "results/.ingest-summary.json"), "--no-progress"],
    // --format raw: the same job as the other contenders (receive, commit, no decoding); what
    // decoding and validating cost is bench:consume's job.
    consume: (b, group) => [ingest, "consume", "--group", group, "--topics", TOPIC, "--format", "raw", "--sink", "none", "--max-messages", String(N), "--from-beginning", "-b", b, "--summary-json", join(NB, "results/.ingest-consume.json")],
    parse(_stdout, mode) {
      const s = JSON.parse(readFileSync(join(NB, mode === "produce" ? "results/.ingest-summary.json" : "results/.ingest-consume.json"), "utf8"));
      if (mode === "produce") return { messages: s.messages_delivered, failed: s.messages_failed, seconds: s.seconds.total };
      return { messages: s.messages ?? s.consumed ?? 0, failed: 0, seconds: s.seconds?.total ?? s.seconds };
    },
  },
];

function readReason(name: string): string {
  const f = join(NB, `build/${name}.unavailable`);
  return existsSync(f) ? readFileSync(f, "utf8").trim() : `not built (run native-bench/setup.sh; see native-bench/README.md)`;
}

/** Start a fresh embedded broker; returns its bootstrap and a stop function. */
async function startBroker(): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const p = Bun.spawn([ingest, "broker", "--brokers", "3", "--topics", `${TOPIC}:${PARTITIONS}`], { stdout: "pipe", stderr: "ignore", env: { ...process.env, LOG_LEVEL: "error" } });
  const { value } = await p.stdout.getReader().read();
  const bootstrap = new TextDecoder().decode(value).trim();
  if (!bootstrap) throw new Error("embedded broker did not start");
  return {
    bootstrap,
    stop: async () => {
      p.kill("SIGTERM");
      await p.exited;
    },
  };
}

function retained(bootstrap: string): number {
  const r = sh([ingest, "topic", "describe", TOPIC, "--json", "-b", bootstrap]);
  const j = JSON.parse(r.stdout.toString());
  return j.partitions.reduce((s: number, p: { messages: number }) => s + p.messages, 0);
}

/** Run a command under GNU time for CPU seconds and peak RSS. */
async function timed(cmd: string[]): Promise<{ stdout: string; stderr: string; code: number; wall: number; cpu: number; rssMb: number }> {
  const t0 = performance.now();
  const p = Bun.spawn(["/usr/bin/time", "-f", "TIME %U %S %M", ...cmd], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "error" } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const wall = (performance.now() - t0) / 1000;
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  return { stdout, stderr, code, wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, rssMb: m ? Number(m[3]) / 1024 : NaN };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

async function main() {
  const only = values.only?.split(",");
  const active = contenders.filter((c) => !only || only.includes(c.name));
  // ingest first: the broker and the data generator are ingest's.
  const ingestC = contenders.find((c) => c.name === "ingest")!;
  const ingestBuild = await ingestC.build();
  if (ingestBuild) throw new Error(ingestBuild);
  const unavailable: Record<string, string> = {};
  for (const c of active) {
    if (c === ingestC) continue;
    const why = await c.build();
    if (why) unavailable[c.name] = why;
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
  console.error(`bench: ${N.toLocaleString()} users (${(bytes / 1e6).toFixed(0)} MB JSON), ${ROUNDS} rounds, ${PARTITIONS} partitions, lz4, acks=all; ${cpus().length} cores`);

  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const c of active) {
      if (unavailable[c.name] || !c.produce) continue;
      const broker = await startBroker();
      try {
        const p = await timed(c.produce(broker.bootstrap, data));
        if (p.code !== 0) {
          console.error(`  ${c.name} produce exited ${p.code}: ${p.stderr.trim().split("\n").slice(-3).join(" | ")}`);
          continue;
        }
        const f = c.parse(p.stdout, "produce", NB);
        const kept = retained(broker.bootstrap);
        runs.push({ contender: c.name, mode: "produce", ...f, msgs_per_s: f.messages / f.seconds, mb_per_s: (bytes * (f.messages / N)) / 1e6 / f.seconds, wall_s: p.wall, cpu_s: p.cpu, peak_rss_mb: p.rssMb, retained: kept });
        console.error(`  round ${round} ${c.name.padEnd(6)} produce ${Math.round(f.messages / f.seconds).toLocaleString().padStart(10)} msg/s  (broker retained ${kept.toLocaleString()})`);
        if (kept !== N) console.error(`    WARNING: the broker holds ${kept} of ${N}: the run is not comparable`);
        if (c.consume) {
          const q = await timed(c.consume(broker.bootstrap, `bench-${c.name}-${round}`));
          if (q.code !== 0) {
            console.error(`  ${c.name} consume exited ${q.code}: ${q.stderr.trim().split("\n").slice(-3).join(" | ")}`);
          } else {
            const g = c.parse(q.stdout, "consume", NB);
            runs.push({ contender: c.name, mode: "consume", ...g, msgs_per_s: g.messages / g.seconds, mb_per_s: (bytes * (g.messages / N)) / 1e6 / g.seconds, wall_s: q.wall, cpu_s: q.cpu, peak_rss_mb: q.rssMb });
            console.error(`  round ${round} ${c.name.padEnd(6)} consume ${Math.round(g.messages / g.seconds).toLocaleString().padStart(10)} msg/s`);
          }
        }
      } finally {
        await broker.stop();
      }
    }
  }

  const rows: string[] = [];
  const table: Record<string, unknown>[] = [];
  for (const mode of ["produce", "consume"] as const) {
    const cRate = median(runs.filter((r) => r.contender === "c" && r.mode === mode).map((r) => r.msgs_per_s));
    for (const c of active) {
      const rs = runs.filter((r) => r.contender === c.name && r.mode === mode);
      if (unavailable[c.name]) {
        rows.push(`| ${mode} | ${c.name} | not built: ${unavailable[c.name]} | | | | | |`);
        table.push({ mode, contender: c.name, unavailable: unavailable[c.name] });
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
        cpu_s: Math.round(median(rs.map((r) => r.cpu_s)) * 100) / 100,
        vs_c: Number.isFinite(cRate) ? Math.round((rate / cRate) * 100) / 100 : null,
      };
      table.push(row);
      rows.push(`| ${mode} | ${c.name} | ${row.msgs_per_s.toLocaleString("en-US")} | ${row.mb_per_s} | ${row.peak_rss_mb} | ${row.cpu_s} | ${row.vs_c ?? "n/a"} | ${row.runs} |`);
    }
  }
  const date = new Date().toISOString().slice(0, 10);
  const header = `| mode | contender | msgs/s (median) | MB/s | peak RSS MB | CPU s | vs C | runs |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |`;
  const md = `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on this project's machine kind (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}), ${N.toLocaleString("en-US")} users (${(bytes / 1e6).toFixed(0)} MB JSON), lz4, acks=all, ${PARTITIONS} partitions on a fresh embedded broker per run, ${ROUNDS} round(s) alternating.\n\n${header}\n${rows.join("\n")}\n`;
  console.log(`\n${md}`);
  writeFileSync(join(NB, "results", `${date}${values.quick ? "-quick" : ""}.json`), JSON.stringify({ date, messages: N, rounds: ROUNDS, partitions: PARTITIONS, table, runs, unavailable }, null, 2) + "\n");
  const readme = join(NB, "README.md");
  // Only a full run refreshes the published table; --quick is for checking that it all works.
  if (existsSync(readme) && !values.quick) {
    const text = readFileSync(readme, "utf8");
    const start = "<!-- bench:begin -->";
    const end = "<!-- bench:end -->";
    const block = `${start}\n${md}${end}`;
    writeFileSync(readme, text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`);
  }
}

await main();

// The HTTP intake joins the same report (native-bench/serve.ts: wrk against ingest serve and the
// Node.js peer); --no-serve skips it.
if (!values["no-serve"] && !values.only) {
  console.error("\nbench: the HTTP intake (native-bench/serve.ts)");
  const r = Bun.spawnSync(["bun", join(NB, "serve.ts"), ...(values.quick ? ["--quick"] : [])], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) console.error(`bench: serve bench exited ${r.exitCode}`);
}
