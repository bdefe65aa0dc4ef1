/** Prometheus counters and a latency histogram for the HTTP intake. */
import { histogramSamples, renderFamilies, type Family } from "../observability/prometheus.ts";

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RouteStats {
  /** status -> count */
  byStatus: Map<number, number>;
  /** Per bucket, the observations that fell in it and in no lower one (cumulated by render). */
  counts: number[];
  sum: number;
  n: number;
}

/** Requests and latency buckets summed over routes, for a live view's rates and p99. */
export interface HttpTotals {
  requests: number;
  unavailable: number;
  /** Per LATENCY_BUCKETS bound, plus one for beyond the last: observations in it and in no lower one. */
  counts: number[];
}

export class HttpMetrics {
  /** route -> its counters and histogram: one lookup per request, no label string built. */
  private readonly routes = new Map<string, RouteStats>();

  observe(route: string, status: number, seconds: number): void {
    let r = this.routes.get(route);
    if (!r) this.routes.set(route, (r = { byStatus: new Map(), counts: LATENCY_BUCKETS.map(() => 0), sum: 0, n: 0 }));
    r.byStatus.set(status, (r.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) r.counts[i]!++;
    r.sum += seconds;
    r.n++;
  }

  families(): Family[] {
    const requests: Family = { name: "ingest_http_requests_total", type: "counter", help: "HTTP requests answered, by route and status", samples: [] };
    const latency: Family = { name: "ingest_http_request_duration_seconds", type: "histogram", help: "time from request to answer", samples: [] };
    for (const [route, r] of this.routes) {
      for (const [status, v] of r.byStatus) requests.samples.push({ labels: { route, status }, value: v });
      latency.samples.push(...histogramSamples(LATENCY_BUCKETS, r.counts, r.sum, r.n, { route }));
    }
    return [requests, latency];
  }

  render(extra: Family[] = []): string {
    return renderFamilies([...this.families(), ...extra]);
  }

  /** Requests, 503s and latency counts of every route but those skipped (e.g. /metrics, /health). */
  totals(skip: ReadonlySet<string>): HttpTotals {
    const t: HttpTotals = { requests: 0, unavailable: 0, counts: [...LATENCY_BUCKETS.map(() => 0), 0] };
    for (const [route, r] of this.routes) {
      if (skip.has(route)) continue;
      t.requests += r.n;
      t.unavailable += r.byStatus.get(503) ?? 0;
      let inBuckets = 0;
      r.counts.forEach((c, i) => ((t.counts[i]! += c), (inBuckets += c)));
      t.counts[LATENCY_BUCKETS.length]! += r.n - inBuckets;
    }
    return t;
  }
}
