/**
 * bun run bench:load [--seconds S] [--rounds N] [--rate R] [--target bare|serve|both]
 *
 * `ingest load`'s CPU per request against wrk's (the ceiling: an independent C generator), at the
 * same rate, against the same server, in one run, contenders alternated, median of N rounds.
 * wrk has no fixed-rate mode, so two comparisons:
 *  - saturated: wrk -t1 -c64 as fast as the server answers (its achieved rate R), then
 *    `ingest load --rate R --connections 64`;
 *  - paced: wrk with a Lua delay() per request, tuned so it lands near each of --rate (default
 *    5,000 and 500/s; the server's latency adds to the delay, so it lands lower), then
 *    `ingest load` at wrk's achieved rate.
 * CPU is user + system of the whole process (startup included) from the kernel's rusage for
 * both; ingest load's own in-run figure (its summary) is printed too, and its CPU per request by
 * thread (JavaScript, JIT, collector; sampled from /proc). Targets: a bare Bun.serve
 * answering 202 (a server that costs little) and `ingest serve --ack delivered` on an embedded
 * broker (the real one). Prints a table and the ratio; target: ingest load <= 3x wrk.
 */
import { parseArgs } from "node:util";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawn, killChildren } from "../scripts/soak/_children.ts";
import { startChildBroker } from "../scripts/soak/_consumer-lib.ts";
import { CpuSampler, cpuSecondsOf, uptimeSeconds } from "./proc-cpu.ts";

const { values } = parseArgs({
  options: {
    help: { type: "boolean", short: "h" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    rate: { type: "string", default: "5000,500" },
    target: { type: "string", default: "both" },
    ingest: { type: "string", default: join(import.meta.dir, "..", "ingest") },
  },
});
if (values.help) {
  process.stdout.write(`bun run bench:load [--seconds S] [--rounds N] [--rate R] [--target bare|serve|both]

\`ingest load\`'s CPU per request against wrk's (the ceiling: an independent C generator), at the
same rate, against the same server, in one run, contenders alternated, median of N rounds.
wrk has no fixed-rate mode, so two comparisons:
 - saturated: wrk -t1 -c64 as fast as the server answers (its achieved rate R), then
   \`ingest load --rate R --connections 64\`;
 - paced: wrk with a Lua delay() per request, tuned so it lands near each of --rate (default
   5,000 and 500/s; the server's latency adds to the delay, so it lands lower), then
   \`ingest load\` at wrk's achieved rate.
CPU is user + system of the whole process (startup included) from the kernel's rusage for
both; ingest load's own in-run figure (its summary) is printed too, and its CPU per request by
thread (JavaScript, JIT, collector; sampled from /proc). Targets: a bare Bun.serve
answering 202 (a server that costs little) and \`ingest serve --ack delivered\` on an embedded
broker (the real one). Prints a table and the ratio; target: ingest load <= 3x wrk.\n`);
  process.exit(0);
}
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const pacedRates = values.rate!.split(",").map(Number);
const ingest = values.ingest!;
const CONNS = 64;
process.on("SIGINT", () => (killChildren(), process.exit(130)));

const dir = mkdtempSync(join(tmpdir(), "bench-load-"));
const lua = join(dir, "post.lua");
// The same kind of order `ingest load` sends (its bodies vary; ~75 bytes each).
writeFileSync(
  lua,
  `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customer_id":"C4242","product_id":"P0042","quantity":2,"amount":123.45}'
local d = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if d > 0 then function delay() return d end end
`,
);

interface Run {
  rate: number;
  requests: number;
  cpu: number;
  usPerReq: number;
  ownUsPerReq?: number;
  serverUsPerReq: number;
  p50?: number;
  p99?: number;
  errors: number;
  /** ingest load's CPU per request by thread role (µs): JavaScript, JIT, collector, others. */
  usPerReqByThread?: Record<string, number>;
}

async function runWrk(url: string, serverPid: number, delayMs: number): Promise<Run> {
  const s0 = cpuSecondsOf(serverPid);
  const p = spawn(["wrk", "-t1", `-c${CONNS}`, `-d${seconds}s`, "--latency", "-s", lua, url], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, WRK_DELAY_MS: String(delayMs) },
  });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const ru = p.resourceUsage()!;
  const cpu = Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const errors =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
    [...out.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((a, m) => a + Number(m[2]), 0);
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return undefined;
    return Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "us" ? 0.001 : 1);
  };
  return {
    rate,
    requests,
    cpu,
    usPerReq: (cpu / requests) * 1e6,
    serverUsPerReq: ((cpuSecondsOf(serverPid) - s0) / requests) * 1e6,
    p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
    errors,
  };
}

async function runLoad(url: string, serverPid: number, rate: number): Promise<Run> {
  const s0 = cpuSecondsOf(serverPid);
  const p = spawn([ingest, "load", "--url", url, "--rate", String(Math.round(rate)), "--duration", `${seconds}s`, "--connections", String(CONNS), "--json"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  const up0 = uptimeSeconds();
  const sampler = new CpuSampler(() => ({ load: { pids: [p.pid], threads: true } }), 200).start();
  const out = await new Response(p.stdout).text();
  await p.exited;
  sampler.stop();
  const byThread = sampler.window(up0, uptimeSeconds()).cpu;
  const ru = p.resourceUsage()!;
  const cpu = Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6;
  const r = JSON.parse(out);
  const ok = Number(r.status["202"] ?? 0);
  return {
    rate: r.achieved_rate,
    requests: r.requests,
    cpu,
    usPerReq: (cpu / r.requests) * 1e6,
    ownUsPerReq: r.cpu_us_per_request,
    serverUsPerReq: ((cpuSecondsOf(serverPid) - s0) / r.requests) * 1e6,
    p50: r.latency_ms.p50,
    p99: r.latency_ms.p99,
    errors: r.requests - ok,
    usPerReqByThread: Object.fromEntries(Object.entries(byThread).map(([k, v]) => [k.slice(k.indexOf("|") + 1), Math.round((v / r.requests) * 1e7) / 10])),
  };
}

async function startBare(): Promise<{ url: string; pid: number; stop(): void }> {
  const src = join(dir, "bare.ts");
  writeFileSync(
    src,
    `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response('{"order_id":"x","status":"queued"}', { status: 202, headers: { "content-type": "application/json" } }) });\nconsole.log(s.port);\n`,
  );
  const p = spawn([process.execPath, src], { stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  return { url: `http://127.0.0.1:${port}/order`, pid: p.pid, stop: () => p.kill("SIGKILL") };
}

async function startServe(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const topic = `orders-bench-load-${Date.now().toString(36)}`;
  const broker = await startChildBroker(ingest, { [topic]: 12 });
  const p = spawn([ingest, "serve", "--port", "0", "--ack", "delivered", "-b", broker.bootstrap, "--orders-topic", topic, "--users-topic", topic], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  const reader = p.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  const base = /listening on (http:\/\/\S+)/.exec(first)?.[1];
  if (!base) throw new Error(`serve did not start: ${first}`);
  void (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done);
  })();
  void new Response(p.stderr).text();
  return { url: `${base}/order`, pid: p.pid, stop: async () => (p.kill("SIGKILL"), await broker.stop()) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(1));

const results: Record<string, unknown>[] = [];
const targets = values.target === "both" ? ["bare", "serve"] : [values.target!];
console.log(
  `bench-load: ${seconds}s per run, ${rounds} rounds alternated, ${CONNS} connections, paced targets ~${pacedRates.join(", ")}/s; ${new Date().toISOString()}`,
);
try {
  for (const target of targets) {
    const server = target === "bare" ? await startBare() : await startServe();
    // warm the server (JIT, broker metadata)
    await runLoad(server.url, server.pid, 1000);
    for (const [mode, pacedRate] of [["saturated", 0], ...pacedRates.map((r) => ["paced", r] as const)] as const) {
      // wrk's delay() is per connection and per request: delay = connections / rate.
      const delayMs = mode === "paced" ? Math.max(1, Math.round((CONNS / pacedRate) * 1000)) : 0;
      const wrk: Run[] = [];
      const load: Run[] = [];
      for (let i = 0; i < rounds; i++) {
        const w = await runWrk(server.url, server.pid, delayMs);
        wrk.push(w);
        load.push(await runLoad(server.url, server.pid, w.rate));
      }
      const row = {
        target,
        mode,
        paced_at: pacedRate || undefined,
        wrk_rate: median(wrk.map((r) => r.rate)),
        load_rate: median(load.map((r) => r.rate)),
        wrk_us_per_req: median(wrk.map((r) => r.usPerReq)),
        load_us_per_req: median(load.map((r) => r.usPerReq)),
        load_own_us_per_req: median(load.map((r) => r.ownUsPerReq!)),
        server_us_per_req_under_wrk: median(wrk.map((r) => r.serverUsPerReq)),
        server_us_per_req_under_load: median(load.map((r) => r.serverUsPerReq)),
        wrk_p50_ms: median(wrk.map((r) => r.p50 ?? NaN)),
        wrk_p99_ms: median(wrk.map((r) => r.p99 ?? NaN)),
        load_p50_ms: median(load.map((r) => r.p50 ?? NaN)),
        load_p99_ms: median(load.map((r) => r.p99 ?? NaN)),
        load_us_per_req_by_thread: Object.fromEntries(
          [...new Set(load.flatMap((r) => Object.keys(r.usPerReqByThread ?? {})))].map((k) => [k, median(load.map((r) => r.usPerReqByThread?.[k] ?? 0))]),
        ),
        errors: wrk.reduce((a, r) => a + r.errors, 0) + load.reduce((a, r) => a + r.errors, 0),
        ratio: 0,
      };
      row.ratio = row.load_us_per_req / row.wrk_us_per_req;
      results.push(row);
      console.log(
        `${target.padEnd(5)} ${(mode === "paced" ? `paced@${pacedRate}` : mode).padEnd(10)} wrk ${f1(row.wrk_rate)}/s ${f1(row.wrk_us_per_req)} us/req (p50 ${f1(row.wrk_p50_ms)} ms, p99 ${f1(row.wrk_p99_ms)} ms) | ` +
          `ingest load ${f1(row.load_rate)}/s ${f1(row.load_us_per_req)} us/req, own ${f1(row.load_own_us_per_req)} (p50 ${f1(row.load_p50_ms)} ms, p99 ${f1(row.load_p99_ms)} ms) | ` +
          `server us/req ${f1(row.server_us_per_req_under_wrk)} vs ${f1(row.server_us_per_req_under_load)} | load/wrk ${row.ratio.toFixed(2)}x${row.errors ? `, ${row.errors} non-2xx/errors` : ""}\n` +
          `      ingest load's us/req by thread (sampled from /proc, the process's last ~0.2 s may be missing): ${Object.entries(row.load_us_per_req_by_thread)
            .map(([k, v]) => `${k} ${f1(v)}`)
            .join(", ")}`,
      );
    }
    await server.stop();
  }
} finally {
  killChildren();
}
const out = process.env.BENCH_LOAD_JSON;
if (out) writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), seconds, rounds, connections: CONNS, results }, null, 2));
