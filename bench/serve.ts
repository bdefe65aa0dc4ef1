/**
 * `bun run bench:serve`: the HTTP intake under wrk, ingest serve against its Node.js peer
 * (bench/node/serve.mjs: node:http + @confluentinc/kafka-javascript), alternating in one
 * run, each run against a fresh embedded broker (1 broker, orders:12), --ack delivered.
 *
 * Contenders (--only picks some): ingest, ingest-before (with --before), node, and bare: the
 * ceiling (bench/bare/serve.ts, run with this bun), a minimal Bun.serve server that reads
 * the body, JSON.parses it, checks its shape and answers 202 like ingest, with no Kafka at all.
 * It shows what Bun.serve + wrk reach on this machine; no broker is started for it, and its rows
 * say "(no Kafka: ceiling of Bun.serve + wrk here)".
 *
 *   order: POST /order, one valid order per request (bench/wrk/order.lua)
 *   batch: POST /orders/batch, 1000 orders per request (bench/wrk/batch.lua)
 *
 * wrk: 2 threads, 64 connections, a short warm-up, then the measured run. A run with non-2xx
 * answers or socket errors is reported as failed, not as a throughput. After each run the
 * server is stopped (it flushes) and the broker's high watermarks must add up to at least the
 * orders answered 2xx (high watermarks, not retained counts: the mock broker trims ~5 MiB per
 * partition); that check does not apply to bare, which publishes nothing.
 *
 *   bun run bench:serve [--quick] [--duration S] [--rounds R] [--only ingest,node,bare] [--routes order,batch]
 *                       [--before PATH]   also run another ingest executable (e.g. the last commit's)
 *                       [--connections C] [--threads T]   wrk's (64, 2)
 *                       [--out FILE]      write the JSON there instead (README table left alone)
 *                       [--help]
 *
 * Prints a table and writes bench/results/<date>-serve.json.
 */
import { parseArgs } from "node:util";
import { existsSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";
import type { Subprocess } from "bun";
import { cpuSecondsOf } from "./proc-cpu.ts";

const ROOT = join(import.meta.dir, "..");
const NB = import.meta.dir;
const { values } = parseArgs({
  options: {
    quick: { type: "boolean" },
    duration: { type: "string" },
    rounds: { type: "string" },
    only: { type: "string" },
    routes: { type: "string", default: "order,batch" },
    before: { type: "string" },
    connections: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(`bun run bench:serve [options]: the HTTP intake under wrk (POST /order, POST /orders/batch of 1000)

  --quick            5 s runs after a 1 s warm-up (default 15 s after 2 s); does not refresh bench/README.md
  --duration S       seconds per measured run
  --rounds R         rounds, contenders alternating (default 1); the table shows medians
  --only LIST        contenders to run, comma-separated:
                       ingest         ./ingest serve --ack delivered
                       ingest-before  the executable given with --before, the same way
                       node           node:http + @confluentinc/kafka-javascript (bench/node/serve.mjs)
                       bare           no Kafka: a minimal Bun.serve that reads, JSON.parses and answers 202
                                      (bench/bare/serve.ts): the ceiling of Bun.serve + wrk here
  --routes LIST      order,batch (default both)
  --before PATH      also run another ingest executable (e.g. the last commit's), side by side
  --connections C    wrk connections (default 64)
  --threads T        wrk threads (default 2)
  --out FILE         write the JSON to FILE instead of bench/results/, and leave
                     bench/README.md's table alone (for side-by-side checks while working)

Every run needs 2xx answers only and no socket errors; the Kafka contenders' broker high
watermarks must also cover every order answered 2xx (not checked for bare, which has no broker).`);
  process.exit(0);
}
const DURATION = Number(values.duration ?? (values.quick ? 5 : 15));
const WARMUP = values.quick ? 1 : 2;
const ROUNDS = Number(values.rounds ?? 1);
const CONNS = Number(values.connections);
const THREADS = Number(values.threads);
const ROUTES = values.routes!.split(",") as ("order" | "batch")[];
const PARTITIONS = 12;
const INGEST = join(ROOT, "ingest");
const NODE_DIR = join(NB, "node");
const env = { ...process.env, LOG_LEVEL: "error" };

interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  non2xx: number;
  orders_per_request: number;
  socket_errors: { connect: number; read: number; write: number; timeout: number };
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
  first_bad: string;
}

interface Run {
  contender: string;
  route: "order" | "batch";
  round: number;
  ok: boolean;
  error?: string;
  req_per_s: number;
  orders_per_s: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
  socket_errors: number;
  server_cpu_s: number;
  cpu_us_per_order: number;
  orders_2xx: number;
  high_watermark_sum: number;
  wrk: WrkResult;
}

interface Contender {
  name: string;
  /** false: publishes nothing (bare), so no broker is started and no watermark is checked. */
  kafka: boolean;
  /** Shown in the table's status column. */
  note?: string;
  /** Why it cannot run here, or null. */
  check(): string | null;
  cmd(bootstrap: string): string[];
}

const contenders: Contender[] = [
  {
    name: "ingest",
    kafka: true,
    check: () => (existsSync(INGEST) ? null : "./ingest missing: run `bun run build`"),
    cmd: (b) => [INGEST, "serve", "--port", "0", "-b", b, "--ack", "delivered"],
  },
  {
    name: "node",
    kafka: true,
    check: () => {
      if (!existsSync(join(NODE_DIR, "node_modules/@confluentinc/kafka-javascript/lib/index.js")))
        return "not built: bench/node/node_modules/@confluentinc/kafka-javascript is not installed";
      const r = Bun.spawnSync(["node", "-e", "require('@confluentinc/kafka-javascript')"], { cwd: NODE_DIR, stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) return `not built: require('@confluentinc/kafka-javascript') fails: ${r.stderr.toString().trim().split("\n").slice(-1)[0]}`;
      return null;
    },
    cmd: (b) => ["node", join(NODE_DIR, "serve.mjs"), "--port", "0", "--brokers", b],
  },
  {
    name: "bare",
    kafka: false,
    note: "(no Kafka: ceiling of Bun.serve + wrk here)",
    check: () => (existsSync(join(NB, "bare", "serve.ts")) ? null : "bench/bare/serve.ts missing"),
    cmd: () => [process.execPath, join(NB, "bare", "serve.ts"), "--port", "0"],
  },
];
if (values.before) {
  const path = values.before;
  contenders.splice(1, 0, {
    name: "ingest-before",
    kafka: true,
    check: () => (existsSync(path) ? null : `${path} missing`),
    cmd: (b) => [path, "serve", "--port", "0", "-b", b, "--ack", "delivered"],
  });
}
const only = values.only?.split(",");
// --before runs beside ingest: `--only ingest --before PATH` keeps ingest-before too.
if (only && values.before && only.includes("ingest") && !only.includes("ingest-before")) only.push("ingest-before");
const active = contenders.filter((c) => !only || only.includes(c.name));

/** Read lines from a stream until one matches; the stream keeps draining afterwards. */
async function waitLine(stream: ReadableStream<Uint8Array>, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const r = await Promise.race([reader.read(), Bun.sleep(Math.max(1, deadline - Date.now())).then(() => null)]);
      if (!r || r.done) break;
      buf += dec.decode(r.value, { stream: true });
      const m = re.exec(buf);
      if (m) {
        void (async () => {
          // Keep draining so the child never blocks on a full pipe.
          for (;;) if ((await reader.read()).done) break;
        })().catch(() => undefined);
        return m;
      }
    }
  } catch {
    // fall through
  }
  throw new Error(`timed out waiting for ${re} (got: ${buf.slice(0, 300)})`);
}

async function stop(p: Subprocess, timeoutMs = 20_000): Promise<void> {
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  await p.exited;
  clearTimeout(t);
}

/**
 * Wait until the server's producer has no backlog (GET /health: producer.queue_depth, which both
 * servers report), so the warm-up's leftovers do not land in the measured run.
 */
async function drained(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const h = (await (await fetch(`${url}/health`)).json()) as { producer?: { queue_depth?: number } };
      if (h.producer?.queue_depth === 0) return;
    } catch {
      // not answering yet
    }
    await Bun.sleep(100);
  }
  throw new Error(`the server's producer still had a backlog ${timeoutMs / 1000}s after the warm-up`);
}

function wrk(route: "order" | "batch", url: string, seconds: number): WrkResult {
  // A generous timeout: a slow 1000-order batch is a slow answer, not a socket error.
  const r = Bun.spawnSync(
    ["wrk", "-t", String(THREADS), "-c", String(CONNS), "-d", `${seconds}s`, "--timeout", "30s", "-s", join(NB, "wrk", `${route}.lua`), url],
    { stdout: "pipe", stderr: "pipe" },
  );
  const out = r.stdout.toString();
  const line = out.split("\n").find((l) => l.startsWith("WRK_RESULT "));
  if (!line) throw new Error(`wrk gave no result (exit ${r.exitCode}): ${out.slice(-500)} ${r.stderr.toString().slice(-500)}`);
  return JSON.parse(line.slice("WRK_RESULT ".length)) as WrkResult;
}

async function runOne(c: Contender, route: "order" | "batch", round: number): Promise<Run> {
  const broker = c.kafka
    ? Bun.spawn([INGEST, "broker", "--brokers", "1", "--topics", `orders:${PARTITIONS}`], { stdout: "pipe", stderr: "inherit", env })
    : undefined;
  let server: Subprocess | undefined;
  try {
    const bootstrap = broker ? (await waitLine(broker.stdout, /^(\S+)\n/, 15_000))[1]! : "";
    const srv = Bun.spawn(c.cmd(bootstrap), { stdout: "pipe", stderr: "inherit", env, cwd: ROOT });
    server = srv;
    const url = (await waitLine(srv.stdout, /listening on (http:\/\/\S+)/, 30_000))[1]!;
    const warm = wrk(route, url, WARMUP);
    await drained(url);
    const cpu0 = cpuSecondsOf(srv.pid);
    const w = wrk(route, url, DURATION);
    const cpu = cpuSecondsOf(srv.pid) - cpu0;
    await stop(srv);
    server = undefined;
    const okWarm = warm.requests - warm.non2xx;
    const ok2xx = w.requests - w.non2xx;
    const expected = (okWarm + ok2xx) * w.orders_per_request;
    let hw = NaN; // bare: no broker, nothing to check
    if (broker) {
      const d = Bun.spawnSync([INGEST, "topic", "describe", "orders", "-b", bootstrap, "--json"], { stdout: "pipe", stderr: "pipe", env });
      const desc = JSON.parse(d.stdout.toString()) as { partitions: { high: number }[] };
      hw = desc.partitions.reduce((s, p) => s + p.high, 0);
    }
    const sock = w.socket_errors.connect + w.socket_errors.read + w.socket_errors.write + w.socket_errors.timeout;
    const secs = w.duration_us / 1e6;
    const errors: string[] = [];
    if (w.non2xx + warm.non2xx > 0) errors.push(`${w.non2xx + warm.non2xx} non-2xx (first: ${w.first_bad || warm.first_bad})`);
    if (sock > 0) errors.push(`${sock} socket errors ${JSON.stringify(w.socket_errors)}`);
    if (broker && hw < expected) errors.push(`broker holds ${hw} messages (high watermarks) < ${expected} orders answered 2xx`);
    return {
      contender: c.name,
      route,
      round,
      ok: errors.length === 0,
      error: errors.length ? errors.join("; ") : undefined,
      req_per_s: w.requests / secs,
      orders_per_s: (ok2xx * w.orders_per_request) / secs,
      p50_ms: w.latency_us.p50 / 1000,
      p99_ms: w.latency_us.p99 / 1000,
      non2xx: w.non2xx,
      socket_errors: sock,
      server_cpu_s: cpu,
      cpu_us_per_order: (cpu * 1e6) / Math.max(1, ok2xx * w.orders_per_request),
      orders_2xx: ok2xx * w.orders_per_request,
      high_watermark_sum: hw,
      wrk: w,
    };
  } finally {
    if (server) await stop(server, 5000);
    if (broker) await stop(broker, 5000);
  }
}

const skipped = new Map<string, string>();
for (const c of active) {
  const why = c.check();
  if (why) skipped.set(c.name, why);
}
const runs: Run[] = [];
const failures: { contender: string; route: string; round: number; error: string }[] = [];
console.error(
  `bench:serve: ${DURATION}s per run (+${WARMUP}s warm-up), wrk -t${THREADS} -c${CONNS}, ${ROUNDS} round(s), routes ${ROUTES.join(",")}; ${cpus().length} CPUs`,
);
for (let round = 1; round <= ROUNDS; round++) {
  for (const route of ROUTES) {
    for (const c of active) {
      if (skipped.has(c.name)) continue;
      try {
        const r = await runOne(c, route, round);
        runs.push(r);
        console.error(
          `  ${route} ${c.name} #${round}: ${r.ok ? "" : `FAILED (${r.error}) `}${Math.round(r.req_per_s)} req/s, ${Math.round(r.orders_per_s)} orders/s, p50 ${r.p50_ms.toFixed(1)} ms, p99 ${r.p99_ms.toFixed(1)} ms, server CPU ${r.server_cpu_s.toFixed(1)} s`,
        );
      } catch (e) {
        failures.push({ contender: c.name, route, round, error: (e as Error).message });
        console.error(`  ${route} ${c.name} #${round}: ERROR ${(e as Error).message}`);
      }
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
interface Row {
  contender: string;
  route: string;
  status: string;
  req_per_s?: number;
  orders_per_s?: number;
  p50_ms?: number;
  p99_ms?: number;
  non2xx?: number;
  cpu_us_per_order?: number;
  x_node?: number;
  /** orders/s as a fraction of bare's (the ceiling) on the same route. */
  of_bare?: number;
}
const rows: Row[] = [];
for (const route of ROUTES) {
  for (const c of active) {
    const skip = skipped.get(c.name);
    if (skip) {
      rows.push({ contender: c.name, route, status: skip });
      continue;
    }
    const rs = runs.filter((r) => r.contender === c.name && r.route === route);
    const good = rs.filter((r) => r.ok);
    if (!good.length) {
      const why = rs.find((r) => r.error)?.error ?? failures.find((f) => f.contender === c.name && f.route === route)?.error ?? "no run";
      rows.push({ contender: c.name, route, status: `FAILED: ${why}`, non2xx: rs.reduce((s, r) => s + r.non2xx, 0) });
      continue;
    }
    rows.push({
      contender: c.name,
      route,
      status: (good.length === rs.length ? "ok" : `ok in ${good.length} of ${rs.length} rounds`) + (c.note ? ` ${c.note}` : ""),
      req_per_s: median(good.map((r) => r.req_per_s)),
      orders_per_s: median(good.map((r) => r.orders_per_s)),
      p50_ms: median(good.map((r) => r.p50_ms)),
      p99_ms: median(good.map((r) => r.p99_ms)),
      non2xx: rs.reduce((s, r) => s + r.non2xx, 0),
      cpu_us_per_order: median(good.map((r) => r.cpu_us_per_order)),
    });
  }
  const node = rows.find((r) => r.route === route && r.contender === "node" && r.orders_per_s);
  for (const r of rows) if (r.route === route && node && r.orders_per_s) r.x_node = r.orders_per_s / node.orders_per_s!;
  const bare = rows.find((r) => r.route === route && r.contender === "bare" && r.orders_per_s);
  for (const r of rows) if (r.route === route && bare && r.orders_per_s) r.of_bare = r.orders_per_s / bare.orders_per_s!;
}

const fmt = (n: number | undefined, d = 0) =>
  n === undefined || Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const header = ["route", "contender", "req/s", "orders/s", "p50 ms", "p99 ms", "non-2xx", "CPU µs/order", "x node", "of bare", "status"];
const table = rows.map((r) => [
  r.route === "order" ? "POST /order" : "POST /orders/batch",
  r.contender,
  fmt(r.req_per_s),
  fmt(r.orders_per_s),
  fmt(r.p50_ms, 1),
  fmt(r.p99_ms, 1),
  fmt(r.non2xx),
  fmt(r.cpu_us_per_order, 1),
  r.x_node ? `${r.x_node.toFixed(2)}x` : "-",
  r.of_bare ? r.of_bare.toFixed(2) : "-",
  r.status,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
console.log(line(header));
for (const t of table) console.log(line(t));

const date = new Date().toISOString().slice(0, 10);
if (!values.out) mkdirSync(join(NB, "results"), { recursive: true });
const file = values.out ?? join(NB, "results", `${date}${values.quick ? "-quick" : ""}-serve.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, note: "shared machine: other work was running; compare rows of one run only" },
      settings: {
        duration_s: DURATION,
        warmup_s: WARMUP,
        rounds: ROUNDS,
        wrk_threads: THREADS,
        connections: CONNS,
        partitions: PARTITIONS,
        ack: "delivered",
        batch_size: 1000,
        bare: "no Kafka, no broker: the ceiling of Bun.serve + wrk here; the watermark check does not apply (high_watermark_sum null)",
      },
      rows,
      runs,
      failures,
    },
    null,
    2,
  )}\n`,
);
console.error(`wrote ${file}`);

// Refresh the HTTP table in bench/README.md (between markers), as run.ts does for its own.
const readme = join(NB, "README.md");
// Only a full run refreshes the published table; --quick is for checking that it all works.
if (existsSync(readme) && !values.quick && !values.out) {
  const start = "<!-- serve:begin -->";
  const end = "<!-- serve:end -->";
  const md =
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (${cpus().length} cores, ${cpus()[0]?.model ?? "?"}), wrk ${THREADS} threads, ${CONNS} connections, ${DURATION} s per run after a ${WARMUP} s warm-up, ${ROUNDS} round(s) alternating, --ack delivered, a fresh embedded broker per run.\n\n` +
    `| ${header.join(" | ")} |\n| ${header.map((_, i) => (i < 2 || i === header.length - 1 ? "---" : "---:")).join(" | ")} |\n` +
    table.map((t) => `| ${t.join(" | ")} |`).join("\n") +
    "\n";
  const text = readFileSync(readme, "utf8");
  const block = `${start}\n${md}${end}`;
  writeFileSync(
    readme,
    text.includes(start)
      ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block)
      : `${text.trimEnd()}\n\n## Latest HTTP intake results (\`bun run bench:serve\`)\n\n${block}\n`,
  );
}
