import type { Command } from "./command.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { rng } from "../gen/random.ts";
import { productId } from "../core/records.ts";

export const FLAGS = defineFlags({
  url: { kind: "string", placeholder: "URL", help: "target, e.g. http://127.0.0.1:8080/order or .../orders/batch (required)" },
  rate: { kind: "int", min: 1, max: 10_000_000, default: "1000", help: "requests per second" },
  duration: { kind: "duration", positive: true, default: "60s", help: "how long, e.g. 30s, 2m" },
  "max-requests": { kind: "int", min: 1, defaultText: "rate x duration", help: "stop after N requests" },
  batch: { kind: "int", min: 1, max: 100_000, default: "1", help: "orders per request, sent as a JSON array (for /orders/batch)" },
  connections: {
    kind: "int",
    short: "c",
    placeholder: "C",
    min: 1,
    max: 100_000,
    default: "64",
    help: "requests in flight at most; beyond it, scheduled requests wait, and their waiting counts in their latency",
  },
  kind: { kind: "choice", placeholder: "K", choices: ["orders", "users"], default: "orders", help: "what the bodies are: {choices}" },
  seed: { kind: "int", default: "1", help: "PRNG seed for the bodies" },
  json: { kind: "boolean", help: "print the report as JSON" },
  "allow-remote": { kind: "boolean", help: "allow a non-loopback URL (refused otherwise)" },
});

export const HELP = commandHelp(
  `Usage: ingest load --url URL [options]

An open-loop, fixed-rate HTTP load generator for ingest serve: requests are scheduled at the
rate whatever the server does, and latency is measured from each request's scheduled time (so a
slow server cannot hide queueing: no coordinated omission). Sends random valid orders (or users)
and reports the achieved rate, status counts and latency percentiles. It always stops by itself.`,
  FLAGS,
);

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export default {
  async run(argv) {
    const { values, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return process.stdout.write(HELP), 0;
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.url) throw new UsageError("--url is required");
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new UsageError(`--url: '${values.url}' is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url: only http(s), got ${url.protocol}`);
    if (!isLoopback(url.hostname) && !values["allow-remote"]) throw new UsageError(`--url: ${url.hostname} is not a loopback address; pass --allow-remote to load a remote server`);
    // --duration 0 (refused by its spec) was a run of no requests, exit 1.
    const { rate, duration: durationMs, batch, connections, kind } = values;
    const maxRequests = values["max-requests"] ?? Math.ceil((rate * durationMs) / 1000);
    const r = rng(values.seed);
    let userId = 1_000_000_000;

    const order = () => ({ customer_id: `C${1 + Math.floor(r() * 10_000)}`, product_id: productId(1 + Math.floor(r() * 1000)), quantity: 1 + Math.floor(r() * 5), amount: Math.round(r() * 50_000) / 100 });
    const user = () => {
      const id = userId++;
      return { id, first_name: "Load", last_name: "Test", email: `load.${id}@example.com`, age: 18 + Math.floor(r() * 60), country: "US", city: "Austin" };
    };
    const body = () => {
      const one: () => object = kind === "orders" ? order : user;
      return JSON.stringify(batch === 1 ? one() : Array.from({ length: batch }, one));
    };

    const latencies: number[] = [];
    const statuses = new Map<string, number>();
    let inFlight = 0;
    let sent = 0;
    let done = 0;
    const waiting: number[] = []; // scheduled times of requests waiting for a connection
    const t0 = performance.now();
    const end = t0 + durationMs;

    const fire = (scheduled: number) => {
      inFlight++;
      sent++;
      fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: body() })
        .then(async (res) => {
          await res.arrayBuffer();
          return String(res.status);
        })
        .catch((e: Error) => `error: ${e.message.slice(0, 60)}`)
        .then((status) => {
          latencies.push(performance.now() - scheduled);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          inFlight--;
          done++;
          const next = waiting.shift();
          if (next !== undefined) fire(next);
        });
    };

    let scheduledCount = 0;
    let dropped = 0;
    while (scheduledCount < maxRequests) {
      const now = performance.now();
      if (now >= end) break;
      // Request i is due at t0 + i/rate, so i = 0 at once: without the + 1 each request went out
      // one interval late and that interval counted in its latency (100 ms at --rate 10).
      const due = Math.min(maxRequests, Math.floor(((now - t0) / 1000) * rate) + 1);
      for (; scheduledCount < due; scheduledCount++) {
        const at = t0 + (scheduledCount / rate) * 1000;
        if (inFlight < connections) fire(at);
        else if (waiting.length < connections * 100) waiting.push(at);
        else dropped++; // bounded: the server is far behind; counted, not queued
      }
      await Bun.sleep(Math.max(0, Math.min(5, t0 + (scheduledCount / rate) * 1000 - performance.now())));
    }
    // Drain (bounded): a request that never answers must not keep the generator alive.
    const drainUntil = performance.now() + 10_000;
    while ((inFlight > 0 || waiting.length > 0) && performance.now() < drainUntil) await Bun.sleep(5);
    // At least the schedule's span (N requests take N/rate s): the last one goes out at (N-1)/rate.
    const elapsed = Math.max(performance.now() - t0, (scheduledCount / rate) * 1000) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! : NaN);
    const report = {
      url: url.href,
      target_rate: rate,
      achieved_rate: Math.round((done / elapsed) * 10) / 10,
      orders_per_s: kind === "orders" ? Math.round(((statuses.get("202") ?? 0) * batch) / elapsed) : undefined,
      requests: done,
      scheduled: scheduledCount,
      unanswered: inFlight + waiting.length,
      dropped_behind: dropped,
      seconds: Math.round(elapsed * 100) / 100,
      status: Object.fromEntries(statuses),
      latency_ms: { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: latencies[latencies.length - 1] ?? NaN },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
      process.stdout.write(
        `load ${url.href}: ${done} requests in ${report.seconds}s, ${report.achieved_rate}/s (target ${rate}/s)${report.orders_per_s !== undefined && batch > 1 ? `, ${report.orders_per_s} orders/s` : ""}\n` +
          `  status: ${[...statuses].map(([k, v]) => `${k}=${v}`).join(" ")}${dropped ? `; ${dropped} not sent (server too far behind)` : ""}${report.unanswered ? `; ${report.unanswered} unanswered` : ""}\n` +
          `  latency ms: p50 ${f(report.latency_ms.p50)}  p90 ${f(report.latency_ms.p90)}  p99 ${f(report.latency_ms.p99)}  p99.9 ${f(report.latency_ms.p999)}  max ${f(report.latency_ms.max)}\n`,
      );
    }
    const ok = statuses.get(kind === "orders" || kind === "users" ? "202" : "200") ?? 0;
    return ok === done && done > 0 ? 0 : 1;
  },
} satisfies Command;
