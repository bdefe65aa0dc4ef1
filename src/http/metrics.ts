/** Prometheus counters and a latency histogram for the HTTP intake. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class HttpMetrics {
  /** route -> status -> count (nested maps: no label string built per request). */
  private readonly requests = new Map<string, Map<number, number>>();
  private readonly hist = new Map<string, { counts: number[]; sum: number; n: number }>();

  observe(route: string, status: number, seconds: number): void {
    let byStatus = this.requests.get(route);
    if (!byStatus) this.requests.set(route, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    let h = this.hist.get(route);
    if (!h) this.hist.set(route, (h = { counts: BUCKETS.map(() => 0), sum: 0, n: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.n++;
  }

  render(gauges: Record<string, number>): string {
    const out = ["# TYPE ingest_http_requests_total counter"];
    for (const [route, byStatus] of this.requests) for (const [status, v] of byStatus) out.push(`ingest_http_requests_total{route="${route}",status="${status}"} ${v}`);
    out.push("# TYPE ingest_http_request_duration_seconds histogram");
    for (const [route, h] of this.hist) {
      BUCKETS.forEach((b, i) => out.push(`ingest_http_request_duration_seconds_bucket{route="${route}",le="${b}"} ${h.counts[i]}`));
      out.push(`ingest_http_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.n}`);
      out.push(`ingest_http_request_duration_seconds_sum{route="${route}"} ${h.sum}`);
      out.push(`ingest_http_request_duration_seconds_count{route="${route}"} ${h.n}`);
    }
    for (const [name, v] of Object.entries(gauges)) out.push(`# TYPE ${name} gauge`, `${name} ${v}`);
    return `${out.join("\n")}\n`;
  }
}
