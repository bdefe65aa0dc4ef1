/**
 * Prometheus text exposition (format 0.0.4): the one renderer every /metrics of ingest goes
 * through (serve, consume, dashboard), the one parser the dashboard reads other processes'
 * /metrics with, and the one small server for a process that has no HTTP server of its own.
 */

export type Labels = Record<string, string | number>;

export interface Sample {
  /** Appended to the family's name (histograms: _bucket, _sum, _count). */
  suffix?: string;
  labels?: Labels;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help?: string;
  samples: Sample[];
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** The text of these families, each with its HELP and TYPE lines. */
export function renderFamilies(families: Iterable<Family>): string {
  const out: string[] = [];
  for (const f of families) {
    if (f.help) out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${s.suffix ?? ""}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return `${out.join("\n")}\n`;
}

/** Cumulative histogram samples from per-bucket counts (observations in a bucket and in no lower one). */
export function histogramSamples(bounds: readonly number[], counts: readonly number[], sum: number, n: number, labels: Labels = {}): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  bounds.forEach((b, i) => out.push({ suffix: "_bucket", labels: { ...labels, le: b }, value: (cumulative += counts[i]!) }));
  out.push({ suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: n });
  out.push({ suffix: "_sum", labels, value: sum });
  out.push({ suffix: "_count", labels, value: n });
  return out;
}

/**
 * The q-quantile (0..1) of a histogram given as cumulative bucket counts by upper bound (the
 * last may be +Inf), interpolated linearly within the bucket as Prometheus' histogram_quantile
 * does. NaN when there are no observations.
 */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe; // beyond the highest finite bound: report that bound
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / Math.max(b.count - prevCount, 1e-12));
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Thrown for text that is not Prometheus exposition: says which line and what was expected. */
export class MetricsParseError extends Error {}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(v: string): number | undefined {
  if (v === "+Inf" || v === "Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  if (v === "NaN") return NaN;
  const n = Number(v);
  return v !== "" && !Number.isNaN(n) ? n : undefined;
}

/** The samples of a Prometheus text page; comments skipped. Strict: one bad line fails the page. */
export function parseMetrics(text: string): ParsedSample[] {
  const out: ParsedSample[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    const value = m ? parseValue(m[4]!) : undefined;
    if (!m || value === undefined) {
      throw new MetricsParseError(`line ${i + 1}: expected 'name{labels} value', got '${line.length > 80 ? `${line.slice(0, 80)}...` : line}'`);
    }
    const labels: Record<string, string> = {};
    const body = m[3];
    if (body) {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < body.length) {
        const at = LABEL.lastIndex;
        const l = LABEL.exec(body);
        if (!l) throw new MetricsParseError(`line ${i + 1}: bad label list at '${body.slice(at, at + 40)}'`);
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      }
    }
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Answer for GET /metrics: the text with Prometheus' content type. */
export function metricsResponse(text: string): Response {
  return new Response(text, { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
}

/**
 * A server for /metrics alone (consume has no HTTP server of its own). Throws when the port
 * cannot be bound; the caller turns that into its one-line usage error.
 */
export function serveMetrics(host: string, port: number, render: () => string): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: host,
    port,
    fetch: (req) =>
      new URL(req.url).pathname === "/metrics" ? metricsResponse(render()) : new Response("not found: this server has /metrics only\n", { status: 404 }),
  });
}

/** Routes a live view or a rate leaves out: probes and scrapes are not traffic. */
export const NOT_TRAFFIC_ROUTES: ReadonlySet<string> = new Set(["/metrics", "/health"]);
