// The Node.js peer of `ingest serve` for bun run bench:serve: what a competent Node user would
// write with node:http and @confluentinc/kafka-javascript (its node-rdkafka style producer,
// delivery reports polled in the background). Same routes, validation rules and answers as
// src/http/ (POST /order, POST /orders/batch), --ack delivered only: 202 after the delivery
// report, a batch once all of its orders are delivered.
//
//   node bench/node/serve.mjs --port 0 --brokers HOST:PORT [--topic orders]
// Prints "listening on http://HOST:PORT" once the producer is connected.
import http from "node:http";
import { randomFillSync } from "node:crypto";
import { parseArgs } from "node:util";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const Kafka = require("@confluentinc/kafka-javascript");

const { values } = parseArgs({
  options: { port: { type: "string", default: "8081" }, brokers: { type: "string", default: "127.0.0.1:9092" }, topic: { type: "string", default: "orders" } },
});
const TOPIC = values.topic;
const MAX_BODY = 1 << 20;
const MAX_BATCH = 10_000;
const MAX_QUEUED = 100_000;

// ---- validation: the rules of src/http/validate.ts -------------------------------------------
const ID_MAX = 64;
const ID_RE = /^[A-Za-z0-9._:-]+$/;
const ORDER_FIELDS = new Set(["customer_id", "product_id", "quantity", "amount", "currency"]);

function idField(v, field, errors, index) {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) v = String(v);
  if (typeof v !== "string" || v.length === 0) return void errors.push({ index, field, message: "required: a non-empty string" });
  if (v.length > ID_MAX) return void errors.push({ index, field, message: `at most ${ID_MAX} characters` });
  if (!ID_RE.test(v)) return void errors.push({ index, field, message: "letters, digits and . _ : - only" });
  return v;
}

function validateOrder(b, errors, index) {
  if (b === null || typeof b !== "object" || Array.isArray(b)) {
    errors.push({ index, field: "", message: "expected a JSON object" });
    return undefined;
  }
  const before = errors.length;
  const customer_id = idField(b.customer_id, "customer_id", errors, index);
  const product_id = idField(b.product_id, "product_id", errors, index);
  const q = b.quantity;
  if (typeof q !== "number" || !Number.isInteger(q) || q <= 0 || q > 1_000_000)
    errors.push({ index, field: "quantity", message: "a positive integer up to 1000000" });
  const a = b.amount;
  if (typeof a !== "number" || !Number.isFinite(a) || a < 0 || a > 1e12) errors.push({ index, field: "amount", message: "a non-negative number" });
  else if (Math.abs(Math.round(a * 100) - a * 100) > 1e-6) errors.push({ index, field: "amount", message: "at most 2 decimals" });
  const c = b.currency ?? "USD";
  if (typeof c !== "string" || !/^[A-Z]{3}$/.test(c)) errors.push({ index, field: "currency", message: "a 3-letter ISO 4217 code" });
  for (const k of Object.keys(b)) if (!ORDER_FIELDS.has(k)) errors.push({ index, field: k, message: "unknown field" });
  if (errors.length > before) return undefined;
  return { customer_id, product_id, quantity: q, amount: a, currency: c };
}

// ---- UUIDv7 (no built-in in Node 20): 48-bit ms timestamp, version, variant, random ----------
const rnd = Buffer.alloc(4096);
let rndPos = rnd.length;
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
function uuidv7() {
  if (rndPos + 10 > rnd.length) {
    randomFillSync(rnd);
    rndPos = 0;
  }
  const t = Date.now();
  const b = new Uint8Array(16);
  b[0] = t / 2 ** 40;
  b[1] = t / 2 ** 32;
  b[2] = t / 2 ** 24;
  b[3] = t / 2 ** 16;
  b[4] = t / 2 ** 8;
  b[5] = t;
  for (let i = 6; i < 16; i++) b[i] = rnd[rndPos++];
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => hex[x]).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- producer ---------------------------------------------------------------------------------
const pending = new Map(); // opaque id -> callback(err, report)
let seq = 0;
const producer = new Kafka.Producer({
  "bootstrap.servers": values.brokers,
  // Same producer settings as ingest serve: no linger (every request waits for its delivery).
  "linger.ms": 0,
  "queue.buffering.max.messages": MAX_QUEUED * 2,
  dr_cb: true,
});
producer.on("delivery-report", (err, report) => {
  const cb = pending.get(report.opaque);
  if (!cb) return;
  pending.delete(report.opaque);
  cb(err, report);
});
producer.on("event.error", (e) => console.error("kafka error:", e.message));

/** Produce one message; calls back after its delivery report. Throws when librdkafka refuses. */
function send(key, value, cb) {
  const id = ++seq;
  pending.set(id, cb);
  try {
    producer.produce(TOPIC, null, Buffer.from(value), key, Date.now(), id);
  } catch (e) {
    pending.delete(id);
    throw e;
  }
}

// ---- HTTP -------------------------------------------------------------------------------------
function reply(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}
const problem = (res, status, error, details = null, headers) => reply(res, status, { error, details }, headers);
const queueFull = (res) => problem(res, 503, "producer queue is full, retry later", null, { "retry-after": "1" });

/** The parsed JSON body, or undefined after answering 413/415/400. */
function readBody(req, res, done) {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) return problem(res, 415, "expected Content-Type: application/json", { got: type || null });
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY) return problem(res, 413, `body larger than ${MAX_BODY} bytes`, { max_bytes: MAX_BODY });
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on("end", () => {
    if (size > MAX_BODY) return problem(res, 413, `body larger than ${MAX_BODY} bytes`, { max_bytes: MAX_BODY });
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      return problem(res, 400, "body is not valid JSON", e.message);
    }
    done(body);
  });
}

function postOrder(req, res) {
  readBody(req, res, (body) => {
    const errors = [];
    const order = validateOrder(body, errors);
    if (!order) return problem(res, 400, "invalid order", errors);
    if (pending.size >= MAX_QUEUED) return queueFull(res);
    const full = { order_id: uuidv7(), ...order, created_at: Date.now() };
    try {
      send(order.customer_id, JSON.stringify(full), (err, r) => {
        if (err) return problem(res, 502, "the broker did not acknowledge the message", { code: String(err.code) });
        reply(res, 202, { order_id: full.order_id, partition: r.partition, offset: r.offset });
      });
    } catch (e) {
      if (e.code === Kafka.CODES.ERRORS.ERR__QUEUE_FULL) return queueFull(res);
      problem(res, 500, "internal error", e.message);
    }
  });
}

function postBatch(req, res) {
  readBody(req, res, (body) => {
    if (!Array.isArray(body)) return problem(res, 400, "expected a JSON array of orders");
    if (body.length === 0) return problem(res, 400, "empty batch");
    if (body.length > MAX_BATCH) return problem(res, 413, `batch larger than ${MAX_BATCH} orders`, { max_batch: MAX_BATCH, got: body.length });
    const errors = [];
    const orders = body.map((b, i) => validateOrder(b, errors, i));
    if (errors.length)
      return problem(res, 400, `invalid orders: the whole batch is rejected (${new Set(errors.map((e) => e.index)).size} of ${body.length} invalid)`, errors);
    if (pending.size + orders.length > MAX_QUEUED) return queueFull(res);
    const now = Date.now();
    const full = orders.map((o) => ({ order_id: uuidv7(), ...o, created_at: now }));
    const results = new Array(full.length);
    let left = full.length;
    let failed = 0;
    const settle = () => {
      if (--left > 0) return;
      if (failed) {
        const bad = results.flatMap((r, i) => (r.error ? [{ index: i, order_id: full[i].order_id, error: r.error }] : []));
        return problem(res, 502, `${failed} of ${full.length} orders were not acknowledged; the others were`, bad);
      }
      reply(res, 202, { count: full.length, orders: results });
    };
    full.forEach((o, i) => {
      try {
        send(o.customer_id, JSON.stringify(o), (err, r) => {
          if (err) {
            failed++;
            results[i] = { error: `delivery failed: ${err.message}` };
          } else results[i] = { order_id: o.order_id, partition: r.partition, offset: r.offset };
          settle();
        });
      } catch (e) {
        failed++;
        results[i] = { error: e.message };
        settle();
      }
    });
  });
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?", 1)[0];
  if (path === "/order" || path === "/orders/batch") {
    if (req.method !== "POST") return problem(res, 405, `method ${req.method} not allowed`, { allow: ["POST"] }, { allow: "POST" });
    return path === "/order" ? postOrder(req, res) : postBatch(req, res);
  }
  if (path === "/health") return reply(res, 200, { status: "ok", producer: { queue_depth: pending.size } });
  problem(res, 404, "not found", { path });
});
server.keepAliveTimeout = 65_000;

producer.on("ready", () => {
  producer.setPollInBackground(true);
  server.listen(Number(values.port), "127.0.0.1", () => {
    const a = server.address();
    process.stdout.write(`listening on http://${a.address}:${a.port}\n`);
  });
});
producer.connect();

function shutdown() {
  server.close();
  // Give in-flight requests their reports, then flush what is left and exit.
  producer.flush(10_000, () => producer.disconnect(() => process.exit(0)));
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
