import type { Command } from "./command.ts";
import { parse, kafkaOptions, kafkaConfig, intFlag, sizeFlag, choiceFlag, urlFlag, COMMON_HELP, KAFKA_HELP } from "../cli/args.ts";
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
import { REGISTRY_HELP, registryOptions, valueSchemaFromRegistry } from "../cli/schema-flags.ts";
import { AvroCodec } from "../codecs/index.ts";
import ordersSchemaText from "../../data/orders.avsc" with { type: "text" };
import usersSchemaText from "../../data/users.avsc" with { type: "text" };

const HELP = `Usage: ingest serve [options]

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

Options:
      --host H            bind address (default 127.0.0.1; 0.0.0.0 in containers)
      --port P            port (default ${DEFAULT_SERVE_PORT}; 0 picks a free one); the bound URL is printed on stdout
      --ack A             delivered (answer after the broker acknowledged) | queued (default delivered)
      --max-body SIZE     largest request body (default 1MiB; 256 bytes to 1GiB)
      --max-batch N       most orders in one batch (default 10000)
      --max-queued N      messages in flight in the producer before 503 (default 100000)
      --no-headers        records without the content-type header
      --orders-topic T    (default ${DEFAULT_TOPICS.orders})
      --users-topic T     (default ${DEFAULT_TOPICS.users})
      --mysql-url URL     the store users/products are read from (env MYSQL_URL; the flag wins; a
                          password on the command line is visible in ps: prefer the variable)
      --redis-url URL     the cache read first (env REDIS_URL; the flag wins)
      --sqlite-path F     read users/products from this SQLite file when no MySQL URL is given (env SQLITE_PATH)
      --log-format F      auto | json | human (default auto: on a terminal, a live status line with
                          request rate, p99, 503s, produced, in flight; otherwise JSON lines)
Records carry the header content-type: application/json, or avro/binary with --schema-registry
(--no-headers: none, for the last bit of throughput).
${REGISTRY_HELP}
Reads: MySQL (or SQLite) is the store; with a Redis URL, Redis is read first and filled on a
miss (cache-aside); the X-Cache response header says hit or miss.
${KAFKA_HELP}
${COMMON_HELP}
`;

export default {
  summary: "HTTP order intake: POST /order, POST /orders/batch, GET /health",
  async run(argv) {
    const { values, positionals } = parse(argv, {
      ...kafkaOptions,
      host: { type: "string" },
      port: { type: "string", short: "p" },
      ack: { type: "string" },
      "max-body": { type: "string" },
      "max-batch": { type: "string" },
      "max-queued": { type: "string" },
      "no-headers": { type: "boolean" },
      "orders-topic": { type: "string" },
      "users-topic": { type: "string" },
      "sqlite-path": { type: "string" },
      "mysql-url": { type: "string" },
      "redis-url": { type: "string" },
      "log-format": { type: "string" },
      ...registryOptions,
    });
    if (values.help) return process.stdout.write(HELP), 0;
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    // Every flag is checked before a store is opened (a SQLite file would be created and migrated).
    const opts = {
      host: values.host ?? "127.0.0.1",
      port: intFlag("port", values.port, 0, 65535) ?? DEFAULT_SERVE_PORT,
      kafka: kafkaConfig(values),
      ordersTopic: values["orders-topic"] ?? DEFAULT_TOPICS.orders,
      usersTopic: values["users-topic"] ?? DEFAULT_TOPICS.users,
      ack: choiceFlag("ack", values.ack, ["delivered", "queued"] as const) ?? "delivered",
      // At least 256 bytes (one order is about 150), at most 1 GiB (Bun buffers a body whole).
      maxBody: sizeFlag("max-body", values["max-body"], 256, 1 << 30) ?? 1 << 20,
      maxBatch: intFlag("max-batch", values["max-batch"], 1, 1_000_000) ?? 10_000,
      maxQueued: intFlag("max-queued", values["max-queued"], 1, 10_000_000) ?? 100_000,
      headers: !values["no-headers"],
    };
    // With a registry: both value schemas registered (or found) before anything is listened to.
    const avro: Record<string, (json: string) => Uint8Array> = {};
    for (const [topic, text] of [[opts.ordersTopic, ordersSchemaText], [opts.usersTopic, usersSchemaText]] as const) {
      const schema = JSON.parse(text);
      const reg = await valueSchemaFromRegistry(values, "avro", topic, schema);
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
    const mysqlUrl = urlFlag("mysql-url", values["mysql-url"], ["mysql:"]) ?? process.env.MYSQL_URL;
    const redisUrl = urlFlag("redis-url", values["redis-url"], ["redis:", "rediss:"]) ?? process.env.REDIS_URL;
    const logFormat = resolveLogFormat(choiceFlag("log-format", values["log-format"], LOG_FORMATS));
    const sqlitePath = values["sqlite-path"] ?? process.env.SQLITE_PATH;
    const store = mysqlUrl ? new MysqlSink({ url: mysqlUrl, poolSize: 8 }) : sqlitePath ? new SqliteSink({ path: sqlitePath }) : null;
    if (store) await store.start();
    const cache = redisUrl ? new RedisSink({ url: redisUrl }) : null;
    if (cache) await cache.start();
    const intake = new IntakeServer({ ...opts, store, cache, avro: Object.keys(avro).length ? avro : null });
    let server;
    try {
      server = intake.start();
    } catch (e) {
      throw new UsageError(`cannot listen on ${values.host ?? "127.0.0.1"}:${values.port ?? DEFAULT_SERVE_PORT}: ${(e as Error).message}`);
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
    log.info({ url, ack: values.ack ?? "delivered", store: store?.target ?? null, cache: cache?.target ?? null }, "serve: listening");
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
