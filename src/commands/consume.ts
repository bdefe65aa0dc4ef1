import type { Command } from "./command.ts";
import { KAFKA_FLAGS, kafkaConfig, writeOutputFile } from "../cli/args.ts";
import { isOldBroker } from "../kafka/index.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { DEFAULT_GROUP, DEFAULT_TOPICS } from "../cli/defaults.ts";
import { FORMATS } from "../codecs/index.ts";
import { ValueDecoder } from "../consume/decode.ts";
import { REGISTRY_FLAGS, registryClient } from "../cli/schema-flags.ts";
import { DEFAULT_INITIAL_STOCK } from "../sinks/types.ts";
import { kindsOf, type Kind } from "../consume/records.ts";
import { ensureDlqTopics } from "../consume/dlq-topics.ts";
import { ConsumeEngine, type ConsumeStats } from "../consume/engine.ts";
import { openSinks } from "../consume/sinks.ts";
import { log, redactUrl, setLogFormat, resolveLogFormat, LOG_FORMATS } from "../observability/log.ts";
import { renderFamilies, serveMetrics, type Family } from "../observability/prometheus.ts";
import { StatusLine, RateMeter } from "../observability/status-line.ts";
import { consumeStatusText } from "../observability/live.ts";
import usersSchemaText from "../../data/users.avsc" with { type: "text" };
import ordersSchemaText from "../../data/orders.avsc" with { type: "text" };

export const FLAGS = defineFlags({
  workers: { kind: "int", short: "w", min: 1, max: 256, default: "4", help: "lanes writing in parallel; one key always goes to one lane, in order" },
  group: { kind: "string", short: "g", placeholder: "G", default: DEFAULT_GROUP, nonEmpty: true, help: "consumer group" },
  topics: {
    kind: "list",
    default: `${DEFAULT_TOPICS.users},${DEFAULT_TOPICS.orders}`,
    nonEmpty: "topic names",
    help: "topics; users* carry users, orders* orders",
  },
  kinds: { kind: "list", help: "say what a topic carries when its name does not: users=a,orders=b" },
  // Checked by openSinks (and below, for --format raw).
  sink: {
    kind: "list",
    defaultText: "mysql when a MySQL URL is given, else sqlite; plus redis when a Redis URL is given",
    help: "mysql,redis | sqlite | stdout | none",
  },
  "mysql-url": {
    kind: "url",
    schemes: ["mysql:"],
    env: "MYSQL_URL",
    help: "mysql://user:pass@host:3306/db. A password on the command line is visible to other users in ps: prefer the variable",
  },
  "redis-url": { kind: "url", schemes: ["redis:", "rediss:"], env: "REDIS_URL", help: "redis://[user:pass@]host:6379[/db]" },
  "sqlite-path": { kind: "path", placeholder: "F", env: "SQLITE_PATH", default: "data/ingest.db", help: "SQLite file when MySQL is not used" },
  "initial-stock": {
    kind: "int",
    max: 2_000_000_000,
    defaultText: String(DEFAULT_INITIAL_STOCK),
    help: "stock of each product P0001..P1000 when first created (never reset)",
  },
  format: {
    kind: "choice",
    placeholder: "F",
    choices: [...FORMATS, "raw"],
    default: "json",
    help:
      "value format of records without a content-type header (a record's application/json, avro/binary or " +
      "application/msgpack header wins): {choices}; raw: values are not decoded or validated, only passed on " +
      "(sinks none and stdout only; any topic name; stdout prints each value as received, one per line)",
  },
  "batch-size": { kind: "int", min: 1, max: 1_000_000, default: "5000", help: "records taken per fetch" },
  "commit-interval-ms": { kind: "int", min: 1, max: 3_600_000, default: "1000", help: "commit written positions this often (also on revoke and exit)" },
  "max-write-records": {
    kind: "int",
    min: 1,
    max: 1_000_000,
    default: "20000",
    help:
      "the most orders one store write (a transaction) takes: while a lane's sinks are busy its queued order batches " +
      "merge up to this (users merge up to --batch-size)",
  },
  "max-in-flight": { kind: "int", min: 1, default: "50000", help: "records taken but not yet written before fetching pauses" },
  "from-beginning": { kind: "boolean", help: "start every assigned partition at its beginning, not the committed offset" },
  "max-messages": { kind: "int", default: "0", help: "stop after N records were written (and committed); 0: no limit" },
  "idle-exit-ms": { kind: "int", default: "0", help: "stop after N ms without records; 0: never" },
  "no-dlq": { kind: "boolean", help: "skip poison records instead of sending them to <topic>.dlq" },
  isolation: {
    kind: "choice",
    placeholder: "L",
    choices: ["read_committed", "read_uncommitted"],
    default: "read_committed",
    help: "read_committed: records of aborted or open transactions are never seen | read_uncommitted",
  },
  "schema-registry": {
    ...REGISTRY_FLAGS["schema-registry"],
    help:
      "Avro values are in the registry's wire format: the writer schema is fetched by id (once per id) and resolved " +
      "against data/users.avsc or data/orders.avsc (an added field with a default, a removed optional one are " +
      "read). A bad magic byte, an unknown id or a registry that does not answer sends the record to the DLQ with " +
      "the reason in its headers; consuming goes on.",
  },
  "schema-registry-config": {
    ...REGISTRY_FLAGS["schema-registry-config"],
    help: "basic.auth.user.info (or env SCHEMA_REGISTRY_USER_INFO), ssl.ca.location, ssl.certificate.location, ssl.key.location, request.timeout.ms (as for produce)",
  },
  "metrics-port": { kind: "int", placeholder: "P", max: 65535, help: "serve Prometheus metrics on HOST:P/metrics" },
  "metrics-host": { kind: "string", placeholder: "H", default: "127.0.0.1", help: "address of the metrics server (0.0.0.0 in containers)" },
  "summary-json": { kind: "output", placeholder: "F", help: "write the final summary as JSON" },
  "log-format": {
    kind: "choice",
    placeholder: "F",
    choices: LOG_FORMATS,
    default: "auto",
    help: "{choices}: auto is, on a terminal, a live status line and readable log lines; otherwise JSON lines, per-partition detail at debug",
  },
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage: ingest consume [options]

A consumer-group member that writes every record through to the stores: users are upserted in
MySQL (or SQLite) and written to Redis; orders are recorded once (idempotent on order_id) and
decrement product stock in one transaction per batch, never below zero (an order that would is
stored as rejected with its reason), then refresh the product in Redis. Offsets are committed
only when a record and every earlier one of its partition are written to every sink. Poison
records (undecodable, invalid) go to <topic>.dlq with the error in headers. SIGINT/SIGTERM:
finish in-flight batches, commit, leave the group, exit 0 (1 if records stayed unwritten or
the final commit failed).`,
  FLAGS,
);

export default {
  async run(argv) {
    const { values, raw: given, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const topics = values.topics;
    const explicit: Record<string, Kind> = {};
    for (const kv of values.kinds ?? []) {
      const [k, t] = kv.split("=");
      if ((k !== "users" && k !== "orders") || !t) throw new UsageError(`--kinds: expected users=TOPIC or orders=TOPIC, got '${kv}'`);
      explicit[t] = k;
    }
    const format = values.format;
    const raw = format === "raw";
    const kinds = raw ? new Map<string, Kind>() : kindsOf(topics, explicit);
    if (raw) {
      const bad = (values.sink ?? []).filter((s) => s !== "none" && s !== "stdout");
      if (!given.sink || bad.length)
        throw new UsageError(
          `--format raw: values are not decoded, so only --sink none or --sink stdout can take them${bad.length ? ` (not ${bad.join(", ")})` : ""}`,
        );
    }
    // Every flag is checked (by parseFlags) before the stores are opened (and migrated) or a record is taken.
    const { workers: lanes, "metrics-port": metricsPort, "metrics-host": metricsHost, "initial-stock": initialStock, "batch-size": batchSize } = values;
    const { "commit-interval-ms": commitIntervalMs, "max-messages": maxMessages, "idle-exit-ms": idleExitMs, "max-in-flight": maxInFlight } = values;
    const maxWriteRecords = values["max-write-records"];
    const { "summary-json": summaryJson, isolation } = values;
    const logFormat = resolveLogFormat(values["log-format"]);
    if (given["schema-registry"] !== undefined && raw) throw new UsageError("--schema-registry: --format raw decodes nothing");
    const registry = raw ? null : registryClient(given);
    // isolation.level is the group consumer's alone: the dead-letter producer and the admin
    // client share the rest, and librdkafka warns about a consumer property on a producer.
    const kafka = kafkaConfig(given);
    const consumerKafka = { "isolation.level": isolation, ...kafka };
    if (given.isolation) consumerKafka["isolation.level"] = isolation;
    if (isOldBroker(kafka) && !values["no-dlq"]) {
      log.warn("consume: the broker is older than 0.11 and drops message headers: dead-letter records will not carry their error and source");
    }
    const { "mysql-url": mysqlUrl, "redis-url": redisUrl } = values;
    const live = new StatusLine(logFormat === "human" && process.stderr.isTTY === true);
    if (logFormat === "human") setLogFormat("human", (l) => live.print(l));
    // A signal while the stores connect must still end in an orderly stop, not the default exit
    // 143: remember it and stop the engine as soon as it exists (nothing has been taken yet).
    let early: string | undefined;
    const onEarlySignal = (s: NodeJS.Signals) => void (early ??= s);
    process.on("SIGINT", onEarlySignal);
    process.on("SIGTERM", onEarlySignal);
    const sinks = await openSinks({
      sinks: values.sink,
      mysqlUrl,
      redisUrl,
      sqlitePath: values["sqlite-path"],
      poolSize: Math.min(lanes, 16),
      initialStock,
    });
    // Each kind's reader schema (Avro, and the registry's writer schemas resolved against it).
    const decoder = new ValueDecoder(raw ? "json" : format, { users: JSON.parse(usersSchemaText), orders: JSON.parse(ordersSchemaText) }, registry);
    log.info(
      { sinks: sinks.map((s) => s.target), mysql: mysqlUrl ? redactUrl(mysqlUrl) : null, redis: redisUrl ? redactUrl(redisUrl) : null },
      `consume: active sinks: ${sinks.map((s) => s.name).join(", ")}`,
    );

    if (!values["no-dlq"] && !isOldBroker(kafka)) {
      // A broker that is down now is not a reason to stop: the dead-letter path retries anyway.
      await ensureDlqTopics(kafka, topics).catch((e) => log.warn({ err: (e as Error).message }, "consume: could not check the dead-letter topics"));
    }
    const engine = new ConsumeEngine({
      kafka,
      consumerKafka,
      group: values.group,
      topics,
      kinds,
      sinks,
      decoder,
      raw,
      lanes,
      batchSize,
      maxWriteRecords,
      commitIntervalMs,
      fromBeginning: values["from-beginning"],
      maxMessages,
      idleExitMs,
      maxInFlight,
      dlq: !values["no-dlq"],
      reportEveryMs: live.enabled ? 0 : 5000,
      stopGraceMs: 10_000,
    });
    const onSignal = (s: NodeJS.Signals) => engine.stop(s);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.off("SIGINT", onEarlySignal);
    process.off("SIGTERM", onEarlySignal);
    if (early) engine.stop(early);
    let server: ReturnType<typeof Bun.serve> | undefined;
    const group = values.group;
    try {
      if (metricsPort !== undefined) server = serveMetrics(metricsHost, metricsPort, () => renderFamilies(consumeMetrics(engine, group)));
    } catch (e) {
      // A port in use: one line, as serve says it (nothing was taken yet).
      await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
      throw new UsageError(`--metrics-port: cannot listen on ${metricsHost}:${metricsPort}: ${(e as Error).message}`);
    }
    if (server) log.info({ url: `http://${metricsHost}:${server.port}/metrics` }, "consume: metrics");
    const rate = new RateMeter();
    rate.update(0);
    const drawLive = () => {
      const s = engine.stats;
      live.draw(
        consumeStatusText({
          written: s.written,
          rate: rate.update(s.written),
          bySink: s.bySink,
          lag: engine.lag().reduce((n, l) => n + l.lag, 0),
          dlq: s.dlqDelivered,
          inFlight: engine.inFlight(),
          storeFailures: s.storeFailures,
        }),
      );
    };
    const liveTimer = live.enabled ? setInterval(drawLive, 250) : undefined;
    let stats: ConsumeStats;
    try {
      stats = await engine.run();
    } finally {
      clearInterval(liveTimer);
      live.clear();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      server?.stop(true);
      await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
    }
    const summary = { ...stats, msgs_per_s: Math.round(stats.written / Math.max(stats.seconds, 1e-3)), messages: stats.written + stats.dlqDelivered };
    if (summaryJson) writeOutputFile("summary-json", summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
    // The rate's time runs from the first record to the last write: not the --idle-exit-ms wait.
    const ran = stats.wallSeconds - stats.seconds > 0.05 ? `; ran ${stats.wallSeconds.toFixed(2)} s` : "";
    process.stderr.write(
      `consume ${stats.abandoned ? "STOPPED WITH UNWRITTEN RECORDS" : "done"} (${stats.stoppedBy}): received ${stats.received.toLocaleString("en-US")}, written ${stats.written.toLocaleString("en-US")} ${JSON.stringify(stats.bySink)}, poison ${stats.poison} (dlq ${stats.dlqDelivered}), ` +
        `orders accepted ${stats.ordersAccepted} rejected ${stats.ordersRejected} duplicate ${stats.ordersDuplicate}, commits ${stats.commits}; ${summary.msgs_per_s.toLocaleString("en-US")} msg/s over ${stats.seconds.toFixed(2)} s (first record to last write${ran})\n`,
    );
    if (stats.finalCommitError) {
      process.stderr.write(
        `consume: the final offset commit failed (${stats.finalCommitError}): every record counted above is written, but the group's committed positions lag behind them, so a restart consumes some again (writes are idempotent)\n`,
      );
    }
    return stats.abandoned || stats.finalCommitError ? 1 : 0;
  },
} satisfies Command;

/** The engine's counters and gauges as Prometheus families (rendered by the one renderer). */
export function consumeMetrics(e: ConsumeEngine, group: string): Family[] {
  const s = e.stats;
  const one = (name: string, type: Family["type"], help: string, value: number): Family => ({ name, type, help, samples: [{ value }] });
  const byPartition = (name: string, help: string, rows: { topic: string; partition: number }[], value: (r: never) => number): Family => ({
    name,
    type: "gauge",
    help,
    samples: rows.map((r) => ({ labels: { topic: r.topic, partition: r.partition }, value: value(r as never) })),
  });
  return [
    {
      name: "ingest_consume_info",
      type: "gauge",
      help: "this consumer: its group and client id",
      samples: [{ labels: { group, client_id: e.clientName }, value: 1 }],
    },
    one("ingest_consume_received_total", "counter", "records taken from Kafka", s.received),
    {
      name: "ingest_consume_written_total",
      type: "counter",
      help: "records written, per sink",
      samples: Object.entries(s.bySink).map(([sink, v]) => ({ labels: { sink }, value: v })),
    },
    {
      name: "ingest_consume_writes_total",
      type: "counter",
      help: "writes per sink (a statement or transaction of many records; written / writes is records per write)",
      samples: Object.entries(s.writesBySink).map(([sink, v]) => ({ labels: { sink }, value: v })),
    },
    one("ingest_consume_poison_total", "counter", "records that could not be decoded or validated", s.poison),
    one("ingest_consume_dlq_total", "counter", "poison records delivered to <topic>.dlq", s.dlqDelivered),
    one("ingest_consume_commits_total", "counter", "offset commits", s.commits),
    one("ingest_consume_store_failures_total", "counter", "failed sink writes (each one retried with backoff)", s.storeFailures),
    one("ingest_consume_abandoned_total", "counter", "records a sink gave up on (left uncommitted)", s.abandoned),
    one("ingest_consume_in_flight", "gauge", "records taken and not yet written", e.inFlight()),
    byPartition("ingest_consume_assigned", "partitions this member holds (1)", e.assignment(), () => 1),
    byPartition("ingest_consume_committed_offset", "the last committed position per partition", s.committed, (c: { offset: number }) => c.offset),
    byPartition("ingest_consume_lag", "high watermark minus the committed position, per assigned partition", e.lag(), (l: { lag: number }) => l.lag),
  ];
}
