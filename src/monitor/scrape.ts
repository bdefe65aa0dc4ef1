/**
 * Reading the /metrics of running `ingest serve` and `ingest consume` processes: each target is
 * fetched with a timeout, parsed strictly, and turned into the figures the dashboard shows (rates
 * from the difference with the previous scrape). A target that is down, answers with an error
 * or with something that is not Prometheus text is reported as such, for itself only.
 */
import { UsageError } from "../core/errors.ts";
import { parseMetrics, histogramQuantile, type ParsedSample } from "../observability/prometheus.ts";
import { NOT_TRAFFIC_ROUTES } from "../observability/prometheus.ts";

export interface ServeFigures {
  /** Requests per second (all routes but /metrics and /health). */
  rate: number;
  /** 99th percentile latency in ms over the last scrape interval (cumulative before a second scrape); null without requests. */
  p99Ms: number | null;
  unavailable: number;
  unavailableRate: number;
  produced: number;
  failed: number;
  inFlight: number;
  queued: number;
}

export interface ConsumeFigures {
  group?: string;
  clientId?: string;
  received: number;
  written: Record<string, number>;
  writtenRate: Record<string, number>;
  storeFailures: number;
  abandoned: number;
  dlq: number;
  poison: number;
  inFlight: number;
  lag: number;
  assigned: { topic: string; partition: number }[];
}

export interface TargetState {
  url: string;
  up: boolean;
  /** Why it is down or unreadable (refused, timed out, HTTP status, not Prometheus text). */
  error?: string;
  /** Date.now() of the last try and of the last good scrape. */
  at?: number;
  lastOk?: number;
  kind?: "serve" | "consume" | "other";
  serve?: ServeFigures;
  consume?: ConsumeFigures;
}

/** `host:port`, `http://host:port` or a full URL: the /metrics URL to scrape, or a usage error. */
export function scrapeUrl(spec: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(spec) ? spec : `http://${spec}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`--scrape: expected host:port or http://host:port/metrics, got '${spec}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`--scrape: expected an http:// URL, got '${spec}'`);
  if (!u.port && !/^[a-z]+:\/\//i.test(spec)) throw new UsageError(`--scrape: '${spec}' has no port (expected host:port)`);
  if (u.pathname === "/" || u.pathname === "") u.pathname = "/metrics";
  return u.href;
}

const sum = (xs: ParsedSample[]) => xs.reduce((s, x) => s + x.value, 0);

interface Previous {
  at: number;
  samples: ParsedSample[];
}

/** The figures of one scrape, rates against the previous good one. */
export function figures(samples: ParsedSample[], prev: Previous | undefined, at: number): Pick<TargetState, "kind" | "serve" | "consume"> {
  const of = (list: ParsedSample[], name: string, where: (s: ParsedSample) => boolean = () => true) => list.filter((s) => s.name === name && where(s));
  const dt = prev ? (at - prev.at) / 1000 : 0;
  const rate = (now: number, before: number | undefined) => (dt > 0 && before !== undefined ? Math.max(0, (now - before) / dt) : 0);
  const traffic = (s: ParsedSample) => !NOT_TRAFFIC_ROUTES.has(s.labels.route ?? "");
  if (of(samples, "ingest_http_requests_total").length || of(samples, "ingest_http_produced_total").length) {
    const requests = sum(of(samples, "ingest_http_requests_total", traffic));
    const unavailable = sum(of(samples, "ingest_http_requests_total", (s) => s.labels.status === "503"));
    // Latency buckets summed over routes, minus the previous scrape's: this interval's requests.
    const buckets = (list: ParsedSample[]) => {
      const m = new Map<number, number>();
      for (const s of of(list, "ingest_http_request_duration_seconds_bucket", traffic)) {
        const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
        m.set(le, (m.get(le) ?? 0) + s.value);
      }
      return m;
    };
    const nowB = buckets(samples);
    const oldB = prev ? buckets(prev.samples) : new Map<number, number>();
    const delta = [...nowB].map(([le, c]) => ({ le, count: c - (oldB.get(le) ?? 0) }));
    const useDelta = delta.length > 0 && (delta.find((b) => b.le === Infinity)?.count ?? 0) > 0;
    const p99 = histogramQuantile(0.99, useDelta ? delta : [...nowB].map(([le, count]) => ({ le, count })));
    const value = (name: string) => sum(of(samples, name));
    return {
      kind: "serve",
      serve: {
        rate: rate(requests, prev && sum(of(prev.samples, "ingest_http_requests_total", traffic))),
        p99Ms: Number.isFinite(p99) ? Math.round(p99 * 1e5) / 100 : null,
        unavailable,
        unavailableRate: rate(unavailable, prev && sum(of(prev.samples, "ingest_http_requests_total", (s) => s.labels.status === "503"))),
        produced: value("ingest_http_produced_total"),
        failed: value("ingest_http_failed_total"),
        inFlight: value("ingest_http_in_flight"),
        queued: value("ingest_http_queue_depth"),
      },
    };
  }
  if (of(samples, "ingest_consume_received_total").length) {
    const info = of(samples, "ingest_consume_info")[0];
    const written: Record<string, number> = {};
    const writtenRate: Record<string, number> = {};
    for (const s of of(samples, "ingest_consume_written_total")) {
      const sink = s.labels.sink ?? "?";
      written[sink] = s.value;
      writtenRate[sink] = rate(s.value, prev && of(prev.samples, "ingest_consume_written_total", (p) => p.labels.sink === sink)[0]?.value);
    }
    const value = (name: string) => sum(of(samples, name));
    return {
      kind: "consume",
      consume: {
        ...(info ? { group: info.labels.group, clientId: info.labels.client_id } : {}),
        received: value("ingest_consume_received_total"),
        written,
        writtenRate,
        storeFailures: value("ingest_consume_store_failures_total"),
        abandoned: value("ingest_consume_abandoned_total"),
        dlq: value("ingest_consume_dlq_total"),
        poison: value("ingest_consume_poison_total"),
        inFlight: value("ingest_consume_in_flight"),
        lag: value("ingest_consume_lag"),
        assigned: of(samples, "ingest_consume_assigned").map((s) => ({ topic: s.labels.topic ?? "", partition: Number(s.labels.partition) })),
      },
    };
  }
  return { kind: "other" };
}

/** Scrapes its targets on demand; keeps each one's last good samples for rates. */
export class Scraper {
  private readonly states = new Map<string, TargetState>();
  private readonly prev = new Map<string, Previous>();

  constructor(readonly urls: string[]) {
    for (const url of urls) this.states.set(url, { url, up: false, error: "not scraped yet" });
  }

  async scrapeAll(timeoutMs: number): Promise<TargetState[]> {
    await Promise.all(this.urls.map((u) => this.scrape(u, timeoutMs)));
    return this.targets();
  }

  targets(): TargetState[] {
    return this.urls.map((u) => this.states.get(u)!);
  }

  private async scrape(url: string, timeoutMs: number): Promise<void> {
    const at = Date.now();
    const old = this.states.get(url)!;
    // A target that goes down keeps what it last was (its kind, and a consumer's group), so the
    // dashboard still knows whose member went away.
    const fail = (error: string) =>
      this.states.set(url, {
        url,
        up: false,
        error,
        at,
        ...(old.lastOk ? { lastOk: old.lastOk } : {}),
        ...(old.kind ? { kind: old.kind } : {}),
        ...(old.consume ? { consume: old.consume } : {}),
        ...(old.serve ? { serve: old.serve } : {}),
      });
    let text: string;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "text/plain" } });
      text = await res.text();
      if (!res.ok) return void fail(`HTTP ${res.status}`);
    } catch (e) {
      const err = e as Error & { code?: string };
      return void fail(err.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (err.code ?? err.message));
    }
    let samples: ParsedSample[];
    try {
      samples = parseMetrics(text);
    } catch (e) {
      return void fail(`not Prometheus text: ${(e as Error).message}`);
    }
    if (samples.length === 0) return void fail("not Prometheus text: no samples");
    const f = figures(samples, this.prev.get(url), at);
    this.prev.set(url, { at, samples });
    this.states.set(url, { url, up: true, at, lastOk: at, ...f });
  }
}
