import type { Server } from "bun";
import { Publisher, QueueFullError, DeliveryError, type GroupResult } from "./publisher.ts";
import { checkOrderRequest, checkUserRequest, orderJson, type FieldError, type OrderIn } from "./validate.ts";
import { HttpMetrics } from "./metrics.ts";
import { metricsResponse } from "../observability/prometheus.ts";
import { OrderEncoder, batchAnswer, asciiAt } from "./fast.ts";
import type { Store } from "../sinks/types.ts";
import type { User, Product } from "../core/records.ts";
import type { RedisSink } from "../sinks/redis.ts";
import { Admin, idempotentByDefault } from "../kafka/index.ts";
import { log } from "../observability/log.ts";
import { workerUrl } from "../core/workers.ts";
import { checkBroker, type BrokerCheckJob, type BrokerCheckResult, type BrokerCheckWatch } from "./broker-check.ts";

export interface ServeOptions {
  host: string;
  port: number;
  kafka: Record<string, string>;
  ordersTopic: string;
  usersTopic: string;
  ack: "delivered" | "queued";
  maxBody: number;
  maxBatch: number;
  maxQueued: number;
  store: Store | null;
  /** Cache-aside for reads: Redis first, then the store, filling Redis on a miss. */
  cache: RedisSink | null;
  /**
   * serve --schema-registry: orders and users go out as Avro in the registry's wire format
   * (each topic's registered schema), through the general path (JSON.parse + validate), not the
   * JSON fast path. Null: JSON.
   */
  avro?: Record<string, (json: string) => Uint8Array> | null;
  /** False: records go out without the content-type header (serve --no-headers). */
  headers?: boolean;
}

const JSON_HEADERS = { "content-type": "application/json" };
/** One Headers object for the hot routes' answers: Response copies it, at half the cost of a plain object. */
const JSON_HEADERS_OBJ = new Headers(JSON_HEADERS);
const json = (status: number, body: unknown, headers?: Record<string, string>) =>
  new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS });
/** An already serialized JSON body (the hot routes build theirs as strings or bytes). */
const jsonText = (status: number, text: string | Uint8Array<ArrayBuffer>) => new Response(text, { status, headers: JSON_HEADERS_OBJ });
const utf8 = new TextDecoder();
/** The 202 body for one order: its partition and offset once delivered (partition >= 0), else queued. */
const orderAnswer = (orderId: string, partition: number, offset: number) =>
  partition >= 0 ? `{"order_id":"${orderId}","partition":${partition},"offset":${offset}}` : `{"order_id":"${orderId}","status":"queued"}`;
const KNOWN_ROUTES = new Set(["/order", "/orders/batch", "/users", "/users/:id", "/products/:id", "/health", "/metrics"]);

/** The path of an absolute request URL, without parsing it into a URL object. */
function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}
const problem = (status: number, error: string, details?: unknown, headers?: Record<string, string>) =>
  json(status, { error, details: details ?? null }, headers);

class HttpError extends Error {
  constructor(readonly response: Response) {
    super("http error");
  }
}

/** The HTTP intake: validates, publishes through the batching Publisher, answers with the ack. */
export class IntakeServer {
  readonly publisher: Publisher;
  readonly metrics = new HttpMetrics();
  server: Server<undefined> | undefined;
  /** Requests being answered. */
  inFlight = 0;
  private brokerOk = true;
  private brokerCheckedAt = 0;
  private brokerCheck: Worker | undefined;
  /** The hot routes' one-pass parse + validate + encode (see fast.ts). */
  private readonly encoder = new OrderEncoder();

  constructor(private readonly o: ServeOptions) {
    // linger.ms 0: with --ack delivered every request waits for its batch to leave, and
    // messages that arrive together are handed over in one produce_batch call anyway.
    // message.timeout.ms 30 s: with the broker down a request gets its 502 within it, where
    // librdkafka's default (300 s) outlasts any HTTP client's patience. -X overrides both.
    // Idempotent (acks=all): a batch retried after a leader died mid-request is not written twice.
    this.publisher = new Publisher(
      {
        "linger.ms": "0",
        "message.timeout.ms": "30000",
        ...idempotentByDefault(o.kafka),
        ...o.kafka,
        "queue.buffering.max.messages": String(Math.max(o.maxQueued * 2, 1000)),
      },
      o.maxQueued,
      (topic) => this.partitionCount(topic),
      { contentType: o.headers === false ? null : o.avro ? "avro/binary" : "application/json", encode: o.avro ?? {} },
    );
  }

  start(): Server<undefined> {
    // Broker reachability for /health: the first check here, before any request (blocking is
    // harmless yet); the next ones in a worker, every 5 s, so that a broker that is down never
    // stalls the event loop.
    const admin = new Admin(this.o.kafka);
    try {
      this.brokerStatus(checkBroker(admin, 1000));
    } finally {
      admin.close();
    }
    this.brokerCheck = new Worker(workerUrl("http/broker-check.ts"));
    this.brokerCheck.onmessage = (ev: MessageEvent<BrokerCheckResult>) => this.brokerStatus(ev.data);
    this.brokerCheck.postMessage({ kafka: this.o.kafka, intervalMs: 5000, timeoutMs: 1000 } satisfies BrokerCheckJob);
    this.server = Bun.serve({
      hostname: this.o.host,
      port: this.o.port,
      // A hard stop above --max-body (Bun answers that one itself, also for chunked bodies);
      // under it, body() answers 413 as JSON.
      maxRequestBodySize: this.o.maxBody * 2 + 65536,
      fetch: (req) => this.handle(req),
      error: (e) => {
        log.error({ err: e.message }, "serve: unexpected error");
        return problem(500, "internal error");
      },
    });
    return this.server;
  }

  private brokerStatus(r: BrokerCheckResult): void {
    if (r.ok !== this.brokerOk) log[r.ok ? "info" : "warn"]({ err: r.error }, r.ok ? "serve: broker reachable again" : "serve: broker unreachable");
    this.brokerOk = r.ok;
    this.brokerCheckedAt = r.at;
    for (const [topic, n] of Object.entries(r.partitions ?? {})) this.partitionCounts.set(topic, n);
  }

  /** Partition counts from the broker check, by topic (0: asked for, not known yet). */
  private readonly partitionCounts = new Map<string, number>();

  /**
   * The publisher's partition count of a topic, never blocking: the broker-check worker is asked
   * to report it from the first publish on (the producer has asked the brokers about the topic
   * by then), and until it answers the batches go out unordered.
   */
  private partitionCount(topic: string): number {
    const n = this.partitionCounts.get(topic);
    if (n !== undefined || !this.brokerCheck) return n ?? 0;
    this.partitionCounts.set(topic, 0);
    this.brokerCheck.postMessage({ watch: topic } satisfies BrokerCheckWatch);
    return 0;
  }

  private handle(req: Request): Response | Promise<Response> {
    const t0 = performance.now();
    // The hot routes skip URL parsing; anything else (escapes, dot segments) goes through URL.
    const raw = rawPath(req.url);
    if (req.method === "POST" && (raw === "/order" || raw === "/orders/batch")) return this.hot(req, raw, t0);
    return this.handleOther(req, raw, t0);
  }

  /** The answer to an exception: an HttpError's own response, else 500 (logged). */
  private caught(e: unknown): Response {
    if (e instanceof HttpError) return e.response;
    log.error({ err: (e as Error).message }, "serve: request failed");
    return problem(500, "internal error", (e as Error).message);
  }

  /** Count the request as finished (in flight, metrics) and pass its answer on. */
  private finish(route: string, res: Response, t0: number): Response {
    this.inFlight--;
    this.metrics.observe(route, res.status, (performance.now() - t0) / 1000);
    return res;
  }

  /**
   * POST /order and POST /orders/batch without async frames: one promise per request (the one
   * Bun.serve waits for), settled from the body's promise and, on the fast path, from the
   * publisher's callback (the delivery report); errors end as caught() would.
   */
  private hot(req: Request, route: "/order" | "/orders/batch", t0: number): Response | Promise<Response> {
    this.inFlight++;
    let bytes: Promise<Uint8Array>;
    try {
      bytes = this.readBodyUnchecked(req);
    } catch (e) {
      return this.finish(route, this.caught(e), t0);
    }
    return new Promise<Response>((resolve) => {
      const answer = (res: Response | Promise<Response>) => {
        if (res instanceof Response) resolve(this.finish(route, res, t0));
        else
          resolve(
            res.then(
              (r) => this.finish(route, r, t0),
              (e) => this.finish(route, this.caught(e), t0),
            ),
          );
      };
      bytes.then(
        (b) => {
          try {
            if (route === "/order") this.orderFast(b, answer);
            else answer(this.batchBytes(b));
          } catch (e) {
            answer(this.caught(e));
          }
        },
        () => answer(this.bodyTooLarge()),
      );
    });
  }

  private async handleOther(req: Request, raw: string, t0: number): Promise<Response> {
    const pathname = raw === "/order" || raw === "/orders/batch" ? raw : new URL(req.url).pathname;
    let route = pathname;
    let res: Response;
    this.inFlight++;
    try {
      const m = pathname.startsWith("/users/") || pathname.startsWith("/products/") ? /^\/(users|products)\/([^/]+)$/.exec(pathname) : null;
      if (m) route = `/${m[1]}/:id`;
      res = await this.route(req, pathname, m);
    } catch (e) {
      res = this.caught(e);
    } finally {
      this.inFlight--;
    }
    this.metrics.observe(KNOWN_ROUTES.has(route) ? route : "other", res.status, (performance.now() - t0) / 1000);
    return res;
  }

  private async route(req: Request, pathname: string, m: RegExpExecArray | null): Promise<Response> {
    const method = req.method;
    const allow = (methods: string[]) => {
      if (!methods.includes(method)) throw new HttpError(problem(405, `method ${method} not allowed`, { allow: methods }, { allow: methods.join(", ") }));
    };
    switch (pathname) {
      case "/order":
        allow(["POST"]);
        return this.postOrder(req);
      case "/orders/batch":
        allow(["POST"]);
        return this.postBatch(req);
      case "/users":
        allow(["POST"]);
        return this.postUser(req);
      case "/health":
        allow(["GET"]);
        return this.health();
      case "/metrics":
        allow(["GET"]);
        return metricsResponse(
          this.metrics.render([
            { name: "ingest_http_produced_total", type: "counter", help: "messages the broker acknowledged", samples: [{ value: this.publisher.produced }] },
            { name: "ingest_http_failed_total", type: "counter", help: "messages that failed or were refused", samples: [{ value: this.publisher.failed }] },
            {
              name: "ingest_http_queue_depth",
              type: "gauge",
              help: "messages in the producer, not yet acknowledged",
              samples: [{ value: this.publisher.queueDepth }],
            },
            { name: "ingest_http_in_flight", type: "gauge", help: "requests being answered", samples: [{ value: this.inFlight }] },
          ]),
        );
    }
    if (m) {
      allow(["GET"]);
      let id: string;
      try {
        id = decodeURIComponent(m[2]!);
      } catch {
        return problem(400, "invalid id", { path: pathname, expected: "a percent-encoded UTF-8 id" });
      }
      return this.read(m[1] as "users" | "products", id);
    }
    return problem(404, "not found", { path: pathname });
  }

  /** The body as parsed JSON, with 413/415/400 for what is not acceptable. */
  private async body(req: Request): Promise<unknown> {
    return this.parse(await this.bodyBytes(req));
  }

  /** The raw body, with 415 and 413 (by Content-Length, or by reading) checked. */
  private bodyBytes(req: Request): Promise<Uint8Array> {
    try {
      return this.readBody(req);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The body's promise; throws (synchronously) an HttpError 415 or 413 by the headers, and the
   * promise rejects with one (413) when reading fails.
   */
  private readBody(req: Request): Promise<Uint8Array> {
    return this.readBodyUnchecked(req).catch(() => {
      throw new HttpError(this.bodyTooLarge());
    });
  }

  /** readBody whose promise rejects with whatever reading threw: the caller answers bodyTooLarge(). */
  private readBodyUnchecked(req: Request): Promise<Uint8Array> {
    const headers = req.headers;
    const type = headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(type)) throw new HttpError(problem(415, "expected Content-Type: application/json", { got: type || null }));
    const len = Number(headers.get("content-length") ?? "0");
    if (len > this.o.maxBody) throw new HttpError(this.bodyTooLarge());
    return req.bytes();
  }

  private bodyTooLarge(): Response {
    return problem(413, `body larger than ${this.o.maxBody} bytes`, { max_bytes: this.o.maxBody });
  }

  /** The body's UTF-8 text (as req.text() gives it) parsed as JSON; 413 past --max-body characters, 400 if not JSON. */
  private parse(bytes: Uint8Array): unknown {
    const text = utf8.decode(bytes);
    if (text.length > this.o.maxBody) throw new HttpError(problem(413, `body larger than ${this.o.maxBody} bytes`, { max_bytes: this.o.maxBody }));
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpError(problem(400, "body is not valid JSON", (e as Error).message));
    }
  }

  private failure(e: unknown): Response {
    if (e instanceof QueueFullError) return problem(503, "producer queue is full, retry later", null, { "retry-after": "1" });
    if (e instanceof DeliveryError) return problem(502, "the broker did not acknowledge the message", { code: e.code });
    throw e;
  }

  private async postOrder(req: Request): Promise<Response> {
    return this.orderBytes(await this.bodyBytes(req));
  }

  /** POST /order's answer from the body: at once when refused, else once published. */
  private orderBytes(bytes: Uint8Array): Response | Promise<Response> {
    return new Promise<Response>((resolve) => this.orderFast(bytes, resolve));
  }

  /**
   * POST /order's answer from the body, given to `answer` exactly once: at once when refused,
   * else from the publisher's callback, i.e. after the delivery report (--ack delivered) or at
   * hand-off (--ack queued). `answer` gets a promise only from the general path.
   */
  private orderFast(bytes: Uint8Array, answer: (res: Response | Promise<Response>) => void): void {
    const now = Date.now();
    const enc = this.encoder;
    // A body no longer than --max-body bytes is no longer in characters either: no 413 to give.
    if (!this.o.avro && bytes.length <= this.o.maxBody && enc.encode(bytes, true, 1, now) === 1) {
      const orderId = asciiAt(enc.ids, 0, 36);
      const queued = this.publisher.submitEncoded(this.o.ordersTopic, enc.buf, enc.spans, 1, this.o.ack === "delivered", (r) => {
        // Runs inside the publisher's delivery-report loop: it must not throw.
        let res: Response;
        try {
          res = r.errors ? this.failure(r.errors[0]!) : jsonText(202, orderAnswer(orderId, r.partitions[0]!, r.offsets[0]!));
        } catch (e) {
          res = this.caught(e);
        }
        answer(res);
      });
      if (!queued) answer(this.failure(new QueueFullError("producer queue is full")));
      return;
    }
    answer(this.orderGeneral(bytes));
  }

  /** POST /order through JSON.parse + checkOrderRequest: every body the fast path does not take. */
  private async orderGeneral(bytes: Uint8Array): Promise<Response> {
    const enc = this.encoder;
    const errors: FieldError[] = [];
    const order = checkOrderRequest(this.parse(bytes), errors);
    if (!order) return problem(400, "invalid order", errors);
    const orderId = enc.uuid.string();
    try {
      const d = await this.publisher.publish(this.o.ordersTopic, order.customer_id, orderJson(orderId, order, Date.now()), this.o.ack === "delivered");
      return jsonText(202, orderAnswer(orderId, d ? d.partition : -1, d ? d.offset : -1));
    } catch (e) {
      return this.failure(e);
    }
  }

  private async postBatch(req: Request): Promise<Response> {
    return this.batchBytes(await this.bodyBytes(req));
  }

  /** POST /orders/batch's answer from the body: at once when refused, else once published. */
  private batchBytes(bytes: Uint8Array): Response | Promise<Response> {
    const enc = this.encoder;
    if (!this.o.avro && bytes.length <= this.o.maxBody) {
      const n = enc.encode(bytes, false, this.o.maxBatch, Date.now());
      if (n > 0) {
        const ids = enc.ids.slice(0, 36 * n);
        return this.publisher.publishEncoded(this.o.ordersTopic, enc.buf, enc.spans, n, this.o.ack === "delivered").then(
          (r) => (r.errors ? this.batchFailed(r, n, (i) => asciiAt(ids, 36 * i, 36)) : jsonText(202, batchAnswer(ids, r.partitions, r.offsets, n))),
          (e) => this.failure(e),
        );
      }
    }
    return this.batchGeneral(bytes);
  }

  /** POST /orders/batch through JSON.parse + checkOrderRequest: every body the fast path does not take. */
  private async batchGeneral(bytes: Uint8Array): Promise<Response> {
    const enc = this.encoder;
    const body = this.parse(bytes);
    if (!Array.isArray(body)) return problem(400, "expected a JSON array of orders");
    if (body.length === 0) return problem(400, "empty batch");
    if (body.length > this.o.maxBatch) return problem(413, `batch larger than ${this.o.maxBatch} orders`, { max_batch: this.o.maxBatch, got: body.length });
    const errors: FieldError[] = [];
    const n = body.length;
    const orders = new Array<OrderIn>(n);
    for (let i = 0; i < n; i++) orders[i] = checkOrderRequest(body[i], errors, i)!;
    if (errors.length) return problem(400, `invalid orders: the whole batch is rejected (${new Set(errors.map((e) => e.index)).size} of ${n} invalid)`, errors);
    const now = Date.now();
    const idBytes = new Uint8Array(36 * n);
    const ids = new Array<string>(n);
    const keys = new Array<string>(n);
    const values = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const o = orders[i]!;
      enc.uuid.write(idBytes, 36 * i, now);
      ids[i] = asciiAt(idBytes, 36 * i, 36);
      keys[i] = o.customer_id;
      values[i] = orderJson(ids[i]!, o, now);
    }
    let r: GroupResult;
    try {
      r = await this.publisher.publishMany(this.o.ordersTopic, keys, values, this.o.ack === "delivered");
    } catch (e) {
      return this.failure(e);
    }
    if (r.errors) return this.batchFailed(r, n, (i) => ids[i]!);
    return jsonText(202, batchAnswer(idBytes, r.partitions, r.offsets, n));
  }

  /** Some of a batch's orders were not acknowledged: 503 if the queue refused them all, else 502 listing them. */
  private batchFailed(r: GroupResult, n: number, id: (i: number) => string): Response {
    const failed = [];
    let queueFull = 0;
    for (let i = 0; i < n; i++) {
      const e = r.errors![i];
      if (!e) continue;
      if (e instanceof QueueFullError) queueFull++;
      failed.push({ index: i, order_id: id(i), error: e.message });
    }
    if (queueFull === n) return this.failure(new QueueFullError("producer queue is full"));
    return problem(502, `${failed.length} of ${n} orders were not acknowledged; the others were`, failed);
  }

  private async postUser(req: Request): Promise<Response> {
    const errors: FieldError[] = [];
    const user = checkUserRequest(await this.body(req), errors);
    if (!user) return problem(400, "invalid user", errors);
    try {
      const d = await this.publisher.publish(this.o.usersTopic, String(user.id), JSON.stringify(user), this.o.ack === "delivered");
      return json(202, d ? { id: user.id, partition: d.partition, offset: d.offset } : { id: user.id, status: "queued" });
    } catch (e) {
      return this.failure(e);
    }
  }

  private async read(kind: "users" | "products", id: string): Promise<Response> {
    const store = this.o.store;
    if (!store) return problem(503, "no store configured", "set MYSQL_URL or SQLITE_PATH (and REDIS_URL for the cache) to read users and products");
    if (kind === "users" && !/^\d{1,16}$/.test(id)) return problem(400, "user id must be an integer", { id });
    if (kind === "products" && !/^[A-Za-z0-9._:-]{1,64}$/.test(id)) return problem(400, "invalid product id", { id });
    const key = `${kind === "users" ? "user" : "product"}:${id}`;
    const cache = this.o.cache;
    if (cache) {
      try {
        const hit = await cache.getJson<User | Product>(key);
        if (hit) return json(200, hit, { "x-cache": "hit" });
      } catch {
        // The cache is an optimization: a Redis problem falls through to the store.
      }
    }
    const row = kind === "users" ? await store.getUser(Number(id)) : await store.getProduct(id);
    if (!row) return problem(404, `${kind === "users" ? "user" : "product"} not found`, { id: kind === "users" ? Number(id) : id });
    if (cache) await cache.putJson(key, row).catch(() => undefined);
    return json(200, row, { "x-cache": cache ? "miss" : "none" });
  }

  private async health(): Promise<Response> {
    const storeOk = this.o.store ? await this.o.store.ping() : null;
    const cacheOk = this.o.cache ? await this.o.cache.ping() : null;
    const ok = this.brokerOk && storeOk !== false;
    return json(ok ? 200 : 503, {
      status: ok ? "ok" : "unavailable",
      broker: { reachable: this.brokerOk, checked_ms_ago: Date.now() - this.brokerCheckedAt, partitions: Object.fromEntries(this.partitionCounts) },
      producer: { queue_depth: this.publisher.queueDepth, max_queued: this.o.maxQueued, produced: this.publisher.produced, failed: this.publisher.failed },
      store: this.o.store ? { name: this.o.store.name, target: this.o.store.target, reachable: storeOk } : null,
      cache: this.o.cache ? { target: this.o.cache.target, reachable: cacheOk } : null,
    });
  }

  /** Stop accepting, let in-flight requests finish, flush the producer. */
  async shutdown(timeoutMs = 15_000): Promise<void> {
    this.server?.stop(false);
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await Bun.sleep(10);
    this.brokerCheck?.terminate();
    await this.publisher.close(Math.max(1000, deadline - Date.now()));
  }
}
