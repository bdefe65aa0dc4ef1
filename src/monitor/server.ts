/**
 * The dashboard's HTTP server: the page and its assets (compiled into the executable: no CDN,
 * works offline), /api/state (the same data as JSON, for scripts), /metrics (the cluster view
 * for Prometheus) and /health. Every request reads the latest snapshot; none touches the cluster.
 */
import indexHtml from "./page/index.html" with { type: "text" };
import appJs from "./page/app.js" with { type: "text" };
import styleCss from "./page/style.css" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import { metricsResponse } from "../observability/prometheus.ts";

const ASSETS: Record<string, [string, string]> = {
  // Imported as text (bun-types types every .html import as an HTMLBundle).
  "/": [indexHtml as unknown as string, "text/html; charset=utf-8"],
  "/app.js": [appJs, "text/javascript; charset=utf-8"],
  "/style.css": [styleCss, "text/css; charset=utf-8"],
  "/uplot.js": [uplotJs, "text/javascript; charset=utf-8"],
  "/uplot.css": [uplotCss, "text/css; charset=utf-8"],
};

/** Only this origin's scripts, styles and requests: the page cannot load anything from elsewhere. */
const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface DashboardServerOptions {
  host: string;
  port: number;
  /** The latest snapshot as JSON text. */
  state: () => string;
  /** The latest cluster view as Prometheus text. */
  metrics: () => string;
}

export function startDashboardServer(o: DashboardServerOptions): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: o.host,
    port: o.port,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      const asset = ASSETS[path === "/index.html" ? "/" : path];
      if (asset) return new Response(asset[0], { headers: { "content-type": asset[1], "cache-control": "no-cache", ...SECURITY_HEADERS } });
      if (path === "/api/state")
        return new Response(o.state(), { headers: { "content-type": "application/json", "cache-control": "no-store", ...SECURITY_HEADERS } });
      if (path === "/metrics") return metricsResponse(o.metrics());
      if (path === "/health") return Response.json({ ok: true });
      return new Response("not found\n", { status: 404 });
    },
  });
}
