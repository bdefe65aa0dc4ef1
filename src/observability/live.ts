/** The live terminal lines of consume and serve (see StatusLine): what a person watches. */
import { count } from "./status-line.ts";

export interface ConsumeView {
  written: number;
  /** Records written per second over the last seconds. */
  rate: number;
  bySink: Record<string, number>;
  lag: number;
  dlq: number;
  inFlight: number;
  storeFailures: number;
}

export function consumeStatusText(v: ConsumeView): string {
  const sinks = Object.entries(v.bySink)
    .map(([k, n]) => `${k} ${count(n)}`)
    .join("  ");
  return (
    `consume ${count(v.written)} written, ${count(v.rate)}/s` +
    `${sinks ? ` | ${sinks}` : ""} | lag ${count(v.lag)} | dlq ${count(v.dlq)} | in flight ${count(v.inFlight)}` +
    `${v.storeFailures ? ` | store errors ${count(v.storeFailures)} (retried)` : ""}`
  );
}

export interface ServeView {
  url: string;
  /** Requests per second over the last seconds (not counting /metrics and /health). */
  rate: number;
  /** 99th percentile latency over the last seconds, in seconds (NaN without requests). */
  p99: number;
  unavailable: number;
  produced: number;
  inFlight: number;
  queued: number;
}

export function serveStatusText(v: ServeView): string {
  const p99 = Number.isFinite(v.p99) ? `${(v.p99 * 1000).toFixed(v.p99 < 0.01 ? 2 : 1)} ms` : "-";
  return `serve ${v.url} | ${count(v.rate)} req/s, p99 ${p99} | 503s ${count(v.unavailable)} | produced ${count(v.produced)} | in flight ${count(v.inFlight)} | queued ${count(v.queued)}`;
}
