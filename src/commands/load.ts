import type { Command } from "./command.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { rng } from "../gen/random.ts";
import { productId } from "../core/records.ts";
import { LoadClient } from "../http/client.ts";

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
    help: "keep-alive connections, each with one request in flight (no pipelining), so requests in flight at most; beyond it, scheduled requests wait, and their waiting counts in their latency",
  },
  "idle-timeout": {
    kind: "duration",
    positive: true,
    default: "4s",
    help: "a keep-alive connection idle this long is closed rather than reused: servers close idle connections (Node after 5 s, Bun.serve after 10 s), and a request written just as the server closes gets no answer",
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
and reports the achieved rate, status counts, latency percentiles and its own CPU per request
(user + system). It always stops by itself. Exit 0 when every scheduled request was answered
202, 1 otherwise (an error status, no answer within the 10 s drain, or not sent because too many
were waiting).`,
  FLAGS,
);

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export default {
  async run(argv) {
    const { values, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.url) throw new UsageError("--url is required");
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new UsageError(`--url: '${values.url}' is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--url: only http(s), got ${url.protocol}`);
    if (!isLoopback(url.hostname) && !values["allow-remote"])
      throw new UsageError(`--url: ${url.hostname} is not a loopback address; pass --allow-remote to load a remote server`);
    // --duration 0 (refused by its spec) was a run of no requests, exit 1.
    const { rate, duration: durationMs, batch, connections, kind } = values;
    const maxRequests = values["max-requests"] ?? Math.ceil((rate * durationMs) / 1000);
    const r = rng(values.seed);
    let userId = 1_000_000_000;

    const order = () => ({
      customer_id: `C${1 + Math.floor(r() * 10_000)}`,
      product_id: productId(1 + Math.floor(r() * 1000)),
      quantity: 1 + Math.floor(r() * 5),
      amount: Math.round(r() * 50_000) / 100,
    });
    // Users carry a unique id, so each body is built anew (as one string, no object).
    const user = () => {
      const id = userId++;
      return `{"id":${id},"first_name":"Load","last_name":"Test","email":"load.${id}@example.com","age":${18 + Math.floor(r() * 60)},"country":"US","city":"Austin"}`;
    };
    const hostHeader = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    const prefix = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${hostHeader}\r\nContent-Type: application/json\r\nContent-Length: `;
    const request = (body: string) => `${prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`;
    // Orders carry no id (serve assigns it), so their requests are built once, as bytes, and
    // cycled: a pool of at most POOL_REQUESTS or POOL_BYTES, filled as the run first needs them.
    const POOL_REQUESTS = 65_536;
    const POOL_BYTES = 32 << 20;
    const pool: Uint8Array[] = [];
    let poolBytes = 0;
    let poolFull = false;
    const encoder = new TextEncoder();
    const next = (i: number): Uint8Array | string => {
      if (kind === "users") return request(batch === 1 ? user() : `[${Array.from({ length: batch }, user).join(",")}]`);
      if (poolFull) return pool[i % pool.length]!;
      const bytes = encoder.encode(request(JSON.stringify(batch === 1 ? order() : Array.from({ length: batch }, order))));
      pool.push(bytes);
      poolBytes += bytes.length;
      if (pool.length >= POOL_REQUESTS || poolBytes >= POOL_BYTES) poolFull = true;
      return bytes;
    };

    const cpu0 = process.cpuUsage();
    // Latencies (ms from each request's scheduled time), in a growable typed array: no boxing.
    let latencies = new Float64Array(Math.min(maxRequests, 1 << 20));
    let done = 0;
    const codes = new Uint32Array(600); // answers per HTTP status
    const errors = new Map<string, number>(); // requests with no HTTP answer, by cause
    // Scheduled times of requests waiting for a connection: a ring (bounded; beyond it, dropped).
    const waitCap = connections * 100;
    const waiting = new Float64Array(waitCap);
    let waitHead = 0;
    let waitLen = 0;
    let scheduledCount = 0;
    let dropped = 0;
    let sent = 0;
    /** Requests that found every connection busy at their scheduled time (they waited, and it counts in their latency). */
    let waited = 0;
    // A request's tag is its scheduled time (ms, performance.now() clock).
    const client = new LoadClient({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
      tls: url.protocol === "https:",
      connections,
      idleTimeoutMs: values["idle-timeout"],
      onDone(scheduled, status, error) {
        if (done === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[done++] = performance.now() - scheduled;
        if (error === undefined) codes[status]!++;
        else errors.set(error, (errors.get(error) ?? 0) + 1);
        if (waitLen > 0) {
          const at = waiting[waitHead]!;
          waitHead = (waitHead + 1) % waitCap;
          waitLen--;
          client.send(next(sent++), at);
        }
      },
    });
    const t0 = performance.now();

    // Every request scheduled before the end goes out, even when this loop wakes late (a busy
    // machine): stopping at the end's clock lost the last few (9 of 10 in a 1 s test).
    const total = Math.min(maxRequests, Math.ceil((durationMs * rate) / 1000));
    while (scheduledCount < total) {
      const now = performance.now();
      // Request i is due at t0 + i/rate, so i = 0 at once: without the + 1 each request went out
      // one interval late and that interval counted in its latency (100 ms at --rate 10).
      const due = Math.min(total, Math.floor(((now - t0) / 1000) * rate) + 1);
      for (; scheduledCount < due; scheduledCount++) {
        const at = t0 + (scheduledCount / rate) * 1000;
        if (waitLen === 0 && client.canSend) client.send(next(sent++), at);
        else if (waitLen < waitCap) {
          waiting[(waitHead + waitLen) % waitCap] = at;
          waitLen++;
          waited++;
        } else dropped++; // bounded: the server is far behind; counted, not queued
      }
      await Bun.sleep(Math.max(1, Math.min(5, t0 + (scheduledCount / rate) * 1000 - performance.now())));
    }
    // Drain (bounded): a request that never answers must not keep the generator alive.
    const drainUntil = performance.now() + 10_000;
    while ((client.busy > 0 || waitLen > 0) && performance.now() < drainUntil) await Bun.sleep(5);
    const unanswered = client.busy + waitLen;
    client.close();
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    // At least the schedule's span (N requests take N/rate s): the last one goes out at (N-1)/rate.
    const elapsed = Math.max(performance.now() - t0, (scheduledCount / rate) * 1000) / 1000;
    const statuses = new Map<string, number>();
    codes.forEach((n, code) => n && statuses.set(String(code), n));
    for (const [e, n] of errors) statuses.set(`error: ${e}`, n);
    latencies = latencies.subarray(0, done);
    latencies.sort();
    const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! : NaN);
    const report = {
      url: url.href,
      target_rate: rate,
      achieved_rate: Math.round((done / elapsed) * 10) / 10,
      orders_per_s: kind === "orders" ? Math.round(((statuses.get("202") ?? 0) * batch) / elapsed) : undefined,
      requests: done,
      scheduled: scheduledCount,
      unanswered,
      dropped_behind: dropped,
      waited_for_connection: waited,
      seconds: Math.round(elapsed * 100) / 100,
      status: Object.fromEntries(statuses),
      latency_ms: { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: latencies[latencies.length - 1] ?? NaN },
      // The generator's own CPU (user + system, all threads) over the run, per answered request.
      cpu_seconds: Math.round(cpuSeconds * 1000) / 1000,
      cpu_us_per_request: done ? Math.round((cpuSeconds / done) * 1e7) / 10 : null,
      connections_opened: client.opened,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
      process.stdout.write(
        `load ${url.href}: ${done} requests in ${report.seconds}s, ${report.achieved_rate}/s (target ${rate}/s)${report.orders_per_s !== undefined && batch > 1 ? `, ${report.orders_per_s} orders/s` : ""}\n` +
          `  status: ${[...statuses].map(([k, v]) => `${k}=${v}`).join(" ")}${dropped ? `; ${dropped} not sent (server too far behind)` : ""}${report.unanswered ? `; ${report.unanswered} unanswered` : ""}\n` +
          `  latency ms: p50 ${f(report.latency_ms.p50)}  p90 ${f(report.latency_ms.p90)}  p99 ${f(report.latency_ms.p99)}  p99.9 ${f(report.latency_ms.p999)}  max ${f(report.latency_ms.max)}\n` +
          `  own cpu: ${report.cpu_seconds.toFixed(2)} s, ${report.cpu_us_per_request ?? "-"} us per request (${Math.round((cpuSeconds / elapsed) * 100)}% of a core), ${client.opened} connections opened\n` +
          // An open-loop rate needs connections >= rate x the server's latency; below that the
          // generator is the limit, not the server, and the user should be told which.
          (waited
            ? `  ${waited} of ${scheduledCount} requests found all ${connections} connections busy and waited for one: raise --connections (a rate needs about rate x latency of them)\n`
            : ""),
      );
    }
    const ok = statuses.get(kind === "orders" || kind === "users" ? "202" : "200") ?? 0;
    // Requests left unanswered or never sent count as failures too (they used to exit 0).
    return ok === done && done > 0 && unanswered === 0 && dropped === 0 ? 0 : 1;
  },
} satisfies Command;
