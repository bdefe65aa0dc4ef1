import type { Command } from "./command.ts";
import { KAFKA_FLAGS, kafkaConfig } from "../cli/args.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { DEFAULT_SERVE_PORT, DEFAULT_TOPICS } from "../cli/defaults.ts";
import { IntakeServer } from "../http/server.ts";
import { MysqlSink } from "../sinks/mysql.ts";
import { SqliteSink } from "../sinks/sqlite.ts";
import { RedisSink } from "../sinks/redis.ts";
import { log, setLogFormat, resolveLogFormat, LOG_FORMATS } from "../observability/log.ts";
import { StatusLine, RateMeter } from "../observability/status-line.ts";
import { serveStatusText } from "../observability/live.ts";
import { histogramQuantile } from "../observability/prometheus.ts";
import { LATENCY_BUCKETS, type HttpTotals } from "../http/metrics.ts";
import { NOT_TRAFFIC_ROUTES } from "../observability/prometheus.ts";
import { REGISTRY_FLAGS, valueSchemaFromRegistry } from "../cli/schema-flags.ts";
import { AvroCodec } from "../codecs/index.ts";
import ordersSchemaText from "../../data/orders.avsc" with { type: "text" };
import usersSchemaText from "../../data/users.avsc" with { type: "text" };

export const FLAGS = defineFlags({
  host: { kind: "string", placeholder: "H", default: "127.0.0.1", help: "bind address (0.0.0.0 in containers)" },
  port: {
    kind: "int",
    short: "p",
    placeholder: "P",
    max: 65535,
    default: String(DEFAULT_SERVE_PORT),
    help: "port (0 picks a free one); the bound URL is printed on stdout",
  },
  ack: {
    kind: "choice",
    placeholder: "A",
    choices: ["delivered", "queued"],
    default: "delivered",
    help: "delivered (answer after the broker acknowledged) | queued",
  },
  // At least 256 bytes (one order is about 150), at most 1 GiB (Bun buffers a body whole).
  "max-body": { kind: "size", min: 256, max: 1 << 30, default: "1MiB", help: "largest request body" },
  "max-batch": { kind: "int", min: 1, max: 1_000_000, default: "10000", help: "most orders in one batch" },
  "max-queued": { kind: "int", min: 1, max: 10_000_000, default: "100000", help: "messages in flight in the producer before 503" },
  "no-headers": { kind: "boolean", help: "records without the content-type header" },
  "orders-topic": { kind: "string", placeholder: "T", default: DEFAULT_TOPICS.orders, help: "the topic orders go to" },
  "users-topic": { kind: "string", placeholder: "T", default: DEFAULT_TOPICS.users, help: "the topic users go to" },
  "mysql-url": {
    kind: "url",
    schemes: ["mysql:"],
    env: "MYSQL_URL",
    help: "the store users/products are read from (a password on the command line is visible in ps: prefer the variable)",
  },
  "redis-url": { kind: "url", schemes: ["redis:", "rediss:"], env: "REDIS_URL", help: "the cache read first" },
  "sqlite-path": { kind: "path", placeholder: "F", env: "SQLITE_PATH", help: "read users/products from this SQLite file when no MySQL URL is given" },
  "log-format": {
    kind: "choice",
    placeholder: "F",
    choices: LOG_FORMATS,
    default: "auto",
    help: "{choices}: auto is, on a terminal, a live status line with request rate, p99, 503s, produced, in flight; otherwise JSON lines",
  },
  ...REGISTRY_FLAGS,
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage: ingest serve [options]

HTTP order intake on Bun.serve, publishing to Kafka through the same producer as produce.

  POST /order          {customer_id, product_id, quantity, amount[, currency]} -> 202 {order_id, partition, offset}
                       order_id (UUIDv7) and created_at are assigned here; the key is customer_id
  POST /orders/batch   a JSON array of orders, all validated first (one invalid item rejects the
                       whole batch with 400 listing each bad index and field); 202 once all are acknowledged
  POST /users          one user (data/users.avsc fields) to the users topic, keyed by id
  GET  /users/:id, /products/:id   Redis first, then the store (cache-aside); 503 when no store is configured
  GET  /health         200 when the broker answers (and the store, if any); 503 otherwise
  GET  /metrics        Prometheus text
Errors are JSON {error, details}: 400 bad JSON or fields, 404, 405, 413 body or batch too large,
415 not JSON, 503 with Retry-After when the producer queue is full, 502 when the broker did not
acknowledge. SIGTERM/SIGINT: stop accepting, finish in-flight requests, flush, exit 0.

Records carry the header content-type: application/json, or avro/binary with --schema-registry
(--no-headers: none, for the last bit of throughput).

Reads: MySQL (or SQLite) is the store; with a Redis URL, Redis is read first and filled on a
miss (cache-aside); the X-Cache response header says hit or miss.`,
  FLAGS,
);

export default {
  async run(argv) {
    const { values, raw, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    // Every flag is checked before a store is opened (a SQLite file would be created and migrated).
    const opts = {
      host: values.host,
      port: values.port,
      kafka: kafkaConfig(raw),
      ordersTopic: values["orders-topic"],
      usersTopic: values["users-topic"],
      ack: values.ack,
      maxBody: values["max-body"],
      maxBatch: values["max-batch"],
      maxQueued: values["max-queued"],
      headers: !values["no-headers"],
    };
    // With a registry: both value schemas registered (or found) before anything is listened to.
    const avro: Record<string, (json: string) => Uint8Array> = {};
    for (const [topic, text] of [
      [opts.ordersTopic, ordersSchemaText],
      [opts.usersTopic, usersSchemaText],
    ] as const) {
      const schema = JSON.parse(text);
      const reg = await valueSchemaFromRegistry(raw, "avro", topic, schema);
      if (!reg) break;
      const codec = new AvroCodec(schema);
      avro[topic] = (json) => {
        const body = codec.encode(JSON.parse(json));
        const out = new Uint8Array(reg.prefix.length + body.length);
        out.set(reg.prefix);
        out.set(body, reg.prefix.length);
        return out;
      };
    }
    const { "mysql-url": mysqlUrl, "redis-url": redisUrl, "sqlite-path": sqlitePath } = values;
    const logFormat = resolveLogFormat(values["log-format"]);
    const store = mysqlUrl ? new MysqlSink({ url: mysqlUrl, poolSize: 8 }) : sqlitePath ? new SqliteSink({ path: sqlitePath }) : null;
    if (store) await store.start();
    const cache = redisUrl ? new RedisSink({ url: redisUrl }) : null;
    if (cache) await cache.start();
    const intake = new IntakeServer({ ...opts, store, cache, avro: Object.keys(avro).length ? avro : null });
    let server;
    try {
      server = intake.start();
    } catch (e) {
      throw new UsageError(`cannot listen on ${values.host}:${raw.port ?? DEFAULT_SERVE_PORT}: ${(e as Error).message}`);
    }
    // Handlers first: a signal right after the URL is printed must stop serve gracefully too.
    const signalled = new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    const url = `http://${server.hostname}:${server.port}`;
    process.stdout.write(`listening on ${url}\n`);
    const live = new StatusLine(logFormat === "human" && process.stderr.isTTY === true);
    if (logFormat === "human") setLogFormat("human", (l) => live.print(l));
    log.info({ url, ack: values.ack, store: store?.target ?? null, cache: cache?.target ?? null }, "serve: listening");
    const liveTimer = live.enabled ? startServeView(live, intake, url) : undefined;
    const signal = await signalled;
    clearInterval(liveTimer);
    live.clear();
    log.info({ signal }, "serve: stopping: finishing in-flight requests, flushing the producer");
    await intake.shutdown();
    await store?.close();
    await cache?.close();
    log.info({ produced: intake.publisher.produced, failed: intake.publisher.failed }, "serve: stopped");
    return 0;
  },
} satisfies Command;

/** Redraw serve's live line every 250 ms: request rate and p99 over the last seconds, 503s, producer. */
function startServeView(live: StatusLine, intake: IntakeServer, url: string): ReturnType<typeof setInterval> {
  // Start from zero, so requests answered before the first draw count in its rate and p99.
  const rate = new RateMeter();
  rate.update(0);
  const recent: { at: number; totals: HttpTotals }[] = [{ at: performance.now(), totals: intake.metrics.totals(NOT_TRAFFIC_ROUTES) }];
  return setInterval(() => {
    const now = performance.now();
    const totals = intake.metrics.totals(NOT_TRAFFIC_ROUTES);
    recent.push({ at: now, totals });
    while (recent.length > 2 && now - recent[0]!.at > 3000) recent.shift();
    // p99 of the requests answered since the oldest sample kept: bucket counts' difference.
    const old = recent[0]!.totals;
    let cumulative = 0;
    const buckets = totals.counts.map((c, i) => ({ le: LATENCY_BUCKETS[i] ?? Infinity, count: (cumulative += c - old.counts[i]!) }));
    live.draw(
      serveStatusText({
        url,
        rate: rate.update(totals.requests, now),
        p99: histogramQuantile(0.99, buckets),
        unavailable: totals.unavailable,
        produced: intake.publisher.produced,
        inFlight: intake.inFlight,
        queued: intake.publisher.queueDepth,
      }),
    );
  }, 250);
}
