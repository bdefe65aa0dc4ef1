/** Prometheus counters and a latency histogram for the HTTP intake. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RouteStats {
  /** status -> count */
  byStatus: Map<number, number>;
  /** Per bucket, the observations that fell in it and in no lower one (cumulated by render). */
  counts: number[];
  sum: number;
  n: number;
}

export class HttpMetrics {
  /** route -> its counters and histogram: one lookup per request, no label string built. */
  private readonly routes = new Map<string, RouteStats>();

  observe(route: string, status: number, seconds: number): void {
    let r = this.routes.get(route);
    if (!r) this.routes.set(route, (r = { byStatus: new Map(), counts: BUCKETS.map(() => 0), sum: 0, n: 0 }));
    r.byStatus.set(status, (r.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    if (i < BUCKETS.length) r.counts[i]!++;
    r.sum += seconds;
    r.n++;
  }

  render(gauges: Record<string, number>): string {
    const out = ["# TYPE ingest_http_requests_total counter"];
    for (const [route, r] of this.routes) for (const [status, v] of r.byStatus) out.push(`ingest_http_requests_total{route="${route}",status="${status}"} ${v}`);
    out.push("# TYPE ingest_http_request_duration_seconds histogram");
    for (const [route, h] of this.routes) {
      let cumulative = 0;
      BUCKETS.forEach((b, i) => out.push(`ingest_http_request_duration_seconds_bucket{route="${route}",le="${b}"} ${(cumulative += h.counts[i]!)}`));
      out.push(`ingest_http_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.n}`);
      out.push(`ingest_http_request_duration_seconds_sum{route="${route}"} ${h.sum}`);
      out.push(`ingest_http_request_duration_seconds_count{route="${route}"} ${h.n}`);
    }
    for (const [name, v] of Object.entries(gauges)) out.push(`# TYPE ${name} gauge`, `${name} ${v}`);
    return `${out.join("\n")}\n`;
  }
}
