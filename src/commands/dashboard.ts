import type { Command } from "./command.ts";
import { KAFKA_FLAGS, kafkaConfig, listFlag } from "../cli/args.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { workerUrl } from "../core/workers.ts";
import { DashboardState } from "../monitor/state.ts";
import { Scraper, scrapeUrl } from "../monitor/scrape.ts";
import { startDashboardServer } from "../monitor/server.ts";
import type { ClusterJob, ClusterGroups } from "../monitor/cluster-worker.ts";
import type { ClusterPass } from "../monitor/cluster.ts";
import { renderFamilies } from "../observability/prometheus.ts";
import { log, redactUrl } from "../observability/log.ts";

export const DEFAULT_DASHBOARD_PORT = 8090;

export const FLAGS = defineFlags({
  port: {
    kind: "int",
    short: "p",
    placeholder: "P",
    max: 65535,
    default: String(DEFAULT_DASHBOARD_PORT),
    help: "port (0 picks a free one); the URL is printed on stdout",
  },
  host: {
    kind: "string",
    placeholder: "H",
    default: "127.0.0.1",
    help: "bind address (anything else is reachable from other machines and says so: the page has no login)",
  },
  refresh: { kind: "duration", min: 250, max: 60_000, rangeText: "250ms..60s", default: "1s", help: "how often the cluster is read and the page refreshed" },
  scrape: { kind: "string", placeholder: "URL", multiple: true, help: "/metrics of a running serve or consume (host:port or a URL), repeatable" },
  group: {
    kind: "string",
    short: "g",
    placeholder: "LIST",
    multiple: true,
    help:
      "groups to show even when the cluster cannot list groups (the embedded broker cannot); comma-separated or " +
      "repeated. Groups the cluster lists and groups the scraped consumers name are shown too",
  },
  topic: { kind: "list", short: "t", nonEmpty: "topic names", defaultText: "all but the internal __* ones", help: "only these topics" },
  window: { kind: "int", min: 2, max: 1000, default: "10", help: "observations per partition the status is judged on" },
  // Its range depends on --refresh: checked by the command.
  history: { kind: "duration", default: "10m", rangeText: "one refresh..24h", help: "how far back the lag charts go" },
  "timeout-ms": { kind: "int", min: 100, max: 600_000, default: "5000", help: "how long one cluster request may take" },
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage: ingest dashboard [options]

A live web page of the cluster and the ingest processes, served from this executable (no CDN,
works offline), refreshed every second:
  topics      messages in per second (from the high watermarks' delta), partitions, retained
  groups      members and their partitions, committed offsets, lag per partition and total, lag
              over the last minutes, time to catch up, and a status in the style of LinkedIn
              Burrow (OK, WARN, STALL, STOP, REWIND; see docs/operations.md)
  processes   with --scrape: request rate, p99, 503s of serve; records written per sink, sink
              errors, DLQ, in flight of consume
  brokers     which answer, under-replicated partitions
One cluster pass per refresh serves every browser. GET /api/state is the same data as JSON,
GET /metrics the cluster view as Prometheus metrics (lag, status, brokers: for alert rules).
The page keeps working while brokers or scraped processes go away: it shows them down.`,
  FLAGS,
);

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export default {
  async run(argv) {
    const { values, raw, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const { port, host, refresh: refreshMs, history: historyMs, window, "timeout-ms": timeoutMs } = values;
    if (!host) throw new UsageError("--host: expected an address, got ''");
    if (historyMs < refreshMs || historyMs > 86_400_000) throw new UsageError(`--history: ${raw.history} is out of range (one refresh..24h)`);
    const targets = [...new Set((values.scrape ?? []).map(scrapeUrl))];
    const groups = [...new Set((values.group ?? []).flatMap((g) => listFlag(g) ?? []))];
    if (values.group && groups.length === 0) throw new UsageError("--group: expected one or more group names, got nothing");
    const topics = values.topic;
    const kafka = kafkaConfig(raw);

    const state = new DashboardState({ bootstrap: kafka["bootstrap.servers"]!, refreshMs, window, historyMs, explicitGroups: groups });
    let json = JSON.stringify(state.snapshot());
    const refreshJson = () => void (json = JSON.stringify(state.snapshot()));
    let server: ReturnType<typeof Bun.serve>;
    try {
      server = startDashboardServer({ host, port, state: () => json, metrics: () => renderFamilies(state.metrics()) });
    } catch (e) {
      throw new UsageError(`cannot listen on ${host}:${port}: ${(e as Error).message}`);
    }
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
    process.stdout.write(`dashboard on ${url}\n`);
    if (!LOOPBACK.test(host))
      log.warn(
        { host },
        `dashboard: listening on ${host}, not only on this machine: anyone who can reach it sees the cluster's topics, groups and processes (the page has no login)`,
      );
    log.info({ url, bootstrap: redactUrl(kafka["bootstrap.servers"]!), refreshMs, scrape: targets }, "dashboard: serving");

    // The cluster passes run in a worker (they block their thread); a worker that dies is restarted.
    const job: ClusterJob = { kafka, groups, topics, refreshMs, timeoutMs };
    const known = new Set(groups);
    let worker: Worker | undefined;
    let stopping = false;
    const startWorker = () => {
      const w = new Worker(workerUrl("monitor/cluster-worker.ts"));
      w.onmessage = (ev: MessageEvent<ClusterPass>) => {
        state.onPass(ev.data);
        refreshJson();
      };
      w.addEventListener("error", (ev) => {
        log.error({ err: (ev as ErrorEvent).message }, "dashboard: the cluster worker failed; restarting it");
        w.terminate();
        if (!stopping) setTimeout(startWorker, 2000);
      });
      w.postMessage({ ...job, groups: [...known] });
      worker = w;
    };
    startWorker();

    const scraper = new Scraper(targets);
    state.setTargets(scraper.targets());
    let scraping = false;
    const scrapeTimer = setInterval(async () => {
      if (scraping || targets.length === 0) return;
      scraping = true;
      try {
        state.setTargets(await scraper.scrapeAll(Math.min(refreshMs, 2000)));
        const fresh = state.groupsFromTargets().filter((g) => !known.has(g));
        if (fresh.length) {
          for (const g of fresh) known.add(g);
          worker?.postMessage({ addGroups: fresh } satisfies ClusterGroups);
        }
        refreshJson();
      } finally {
        scraping = false;
      }
    }, refreshMs);

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    stopping = true;
    clearInterval(scrapeTimer);
    worker?.terminate();
    server.stop(true);
    log.info({ signal }, "dashboard: stopped");
    return 0;
  },
} satisfies Command;
