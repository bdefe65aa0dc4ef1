/**
 * The HTTP intake's fast path (src/http/fast.ts) against the general one: whatever it accepts
 * must be valid for JSON.parse + checkOrderRequest and encode to the very bytes the general path
 * sends (key = customer_id, value = JSON.stringify({order_id, ...order, created_at})); whatever
 * is invalid it must leave to the general path. Over many generated orders, with unicode,
 * escapes, odd numbers, whitespace, repeated and unknown keys.
 */
import { test, expect } from "bun:test";
import { OrderEncoder, Uuid7, batchAnswer, asciiAt } from "../../src/http/fast.ts";
import { checkOrderRequest, orderJson, type FieldError } from "../../src/http/validate.ts";
import { HttpMetrics } from "../../src/http/metrics.ts";

let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const enc = new TextEncoder();
const dec = new TextDecoder();

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
function idText(): string {
  const r = rnd();
  if (r < 0.75) {
    const n = 1 + Math.floor(rnd() * (rnd() < 0.1 ? 70 : 12));
    let s = "";
    for (let i = 0; i < n; i++) s += ID_CHARS[Math.floor(rnd() * ID_CHARS.length)];
    return JSON.stringify(s);
  }
  return pick([
    '""',
    '"CUST 1"',
    '"CUSTé"',
    '"ü"',
    '"😀x"',
    '"a\\"b"',
    '"a\\\\b"',
    '"\\u0041BC"',
    '"A\\/B"',
    '"tab\\there"',
    '"a\\nb"',
    "42",
    "0",
    "-1",
    "1.5",
    "9007199254740993",
    "null",
    "true",
    "[]",
    "{}",
    '"CUST001"',
    '"P-1.x:y_z"',
    `"${"x".repeat(64)}"`,
    `"${"x".repeat(65)}"`,
  ]);
}
function quantityText(): string {
  if (rnd() < 0.7) return String(1 + Math.floor(rnd() * (rnd() < 0.5 ? 9 : 1_000_000)));
  return pick(["0", "1", "1000000", "1000001", "1.0", "1.5", "-1", "-0", '"5"', "1e3", "1E0", "10e-1", "01", "5.", ".5", "null", "12345678", "2.50"]);
}
function amountText(): string {
  const r = rnd();
  if (r < 0.6) {
    const ip = Math.floor(rnd() * (rnd() < 0.2 ? 1e12 : 1000));
    const f = Math.floor(rnd() * 100);
    const style = Math.floor(rnd() * 4);
    return style === 0
      ? String(ip)
      : style === 1
        ? `${ip}.${String(f).padStart(2, "0")}`
        : style === 2
          ? `${ip}.${f % 10}`
          : `${ip}.${String(f).padStart(2, "0")}`;
  }
  return pick([
    "0",
    "0.0",
    "0.00",
    "0.1",
    "0.10",
    "0.01",
    "0.05",
    "12.30",
    "99.99",
    "1.005",
    "0.001",
    "999999999999.99",
    "999999999999.9",
    "999999999999",
    "1000000000000",
    "1000000000000.00",
    "1e12",
    "1e2",
    "1.5e1",
    "-0",
    "-0.0",
    "-1",
    "00.5",
    "01",
    "5.",
    ".5",
    '"9.99"',
    "null",
    "1.1000000001",
    "123456789012.34",
    "4503599627370.49",
    "70368744177.66",
    "0.07",
    "1.15",
    "2.675",
    "8.325",
  ]);
}
function currencyText(): string | undefined {
  if (rnd() < 0.4) return undefined;
  return pick(['"USD"', '"EUR"', '"GBP"', '"eur"', '"US"', '"USDX"', "null", '"\\u0045UR"', '"ÉUR"', "1"]);
}
const ws = () => (rnd() < 0.8 ? "" : pick([" ", "\n", "\t", "\r\n", "  "]));

function orderText(): string {
  const fields: [string, string][] = [];
  if (rnd() > 0.02) fields.push(["customer_id", idText()]);
  if (rnd() > 0.02) fields.push(["product_id", idText()]);
  if (rnd() > 0.02) fields.push(["quantity", quantityText()]);
  if (rnd() > 0.02) fields.push(["amount", amountText()]);
  const c = currencyText();
  if (c !== undefined) fields.push(["currency", c]);
  if (rnd() < 0.03) fields.push([pick(["extra", "order_id", "created_at", "Customer_id", "customer_id", "amount"]), pick(["1", '"x"', "null"])]);
  for (let i = fields.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  const key = (k: string) => (rnd() < 0.02 ? JSON.stringify(k).replace("_", "\\u005f") : JSON.stringify(k));
  const body = fields.map(([k, v]) => `${ws()}${key(k)}${ws()}:${ws()}${v}${ws()}`).join(",");
  return rnd() < 0.01 ? pick(["[]", "null", "1", '"x"', "{", `{${body},}`]) : `{${body}}`;
}

/** The general path: what the server did before the fast path, for one body. */
function general(text: string): { ok: true; orders: ReturnType<typeof checkOrderRequest>[] } | { ok: false } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  const errors: FieldError[] = [];
  if (!Array.isArray(v)) {
    const o = checkOrderRequest(v, errors);
    return o ? { ok: true, orders: [o] } : { ok: false };
  }
  if (v.length === 0) return { ok: false };
  const orders = v.map((x, i) => checkOrderRequest(x, errors, i));
  return errors.length ? { ok: false } : { ok: true, orders };
}

function checkMessages(e: OrderEncoder, orders: NonNullable<ReturnType<typeof checkOrderRequest>>[], now: number) {
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i]!;
    const [ko, kl, vo, vl] = [e.spans[4 * i]!, e.spans[4 * i + 1]!, e.spans[4 * i + 2]!, e.spans[4 * i + 3]!];
    expect(vo).toBe(ko + kl);
    if (i > 0) expect(ko).toBe(e.spans[4 * i - 2]! + e.spans[4 * i - 1]!); // contiguous
    const id = asciiAt(e.ids, 36 * i, 36);
    const value = dec.decode(e.buf.subarray(vo, vo + vl));
    expect(dec.decode(e.buf.subarray(ko, ko + kl))).toBe(o.customer_id);
    expect(value).toBe(JSON.stringify({ order_id: id, ...o, created_at: now }));
    expect(value).toBe(orderJson(id, o, now));
  }
}

test("single orders: the fast path accepts only valid orders, and encodes them byte for byte as JSON.stringify did", () => {
  const e = new OrderEncoder();
  let fast = 0;
  let valid = 0;
  for (let k = 0; k < 40_000; k++) {
    const text = `${ws()}${orderText()}${ws()}`;
    const now = 1_700_000_000_000 + k * 7;
    const n = e.encode(enc.encode(text), true, 1, now);
    const g = general(text);
    if (g.ok) valid++;
    if (n === -1) {
      if (g.ok && process.env.SHOW_SLOW) console.log(text);
      continue;
    }
    fast++;
    expect(n).toBe(1);
    if (!g.ok) throw new Error(`fast path accepted an invalid order: ${text}`);
    checkMessages(e, g.orders as NonNullable<(typeof g.orders)[0]>[], now);
  }
  // The generator leans on odd forms (escapes, exponents, -0, numeric ids, null currency) that
  // are valid but left to the general path; plain orders are covered by the next test.
  expect(valid).toBeGreaterThan(1000);
  expect(fast / valid).toBeGreaterThan(0.5);
});

test("plain valid orders (what clients send) always take the fast path", () => {
  const e = new OrderEncoder();
  for (let k = 0; k < 5000; k++) {
    const o: Record<string, unknown> = { customer_id: `CUST${k}`, product_id: `P${k % 1000}`, quantity: 1 + (k % 50), amount: Math.round(rnd() * 1e7) / 100 };
    if (k % 3 === 0) o.currency = "EUR";
    const text = JSON.stringify(o);
    expect(e.encode(enc.encode(text), true, 1, 1_700_000_000_000)).toBe(1);
    checkMessages(e, [checkOrderRequest(o, [])!], 1_700_000_000_000);
  }
});

test("batches: all valid -> every message equal to the general path's; any invalid item, empty, too many or not an array -> the general path", () => {
  const e = new OrderEncoder();
  let fast = 0;
  for (let k = 0; k < 3000; k++) {
    const n = 1 + Math.floor(rnd() * (k % 10 === 0 ? 300 : 20));
    const items: string[] = [];
    for (let i = 0; i < n; i++) {
      // mostly valid items, so that whole batches pass
      items.push(
        rnd() < 0.97
          ? JSON.stringify({
              customer_id: `C${Math.floor(rnd() * 1e6)}`,
              product_id: `P${i}`,
              quantity: 1 + i,
              amount: Math.floor(rnd() * 1e6) / 100,
              ...(i % 2 ? { currency: "GBP" } : {}),
            })
          : orderText(),
      );
    }
    const text = `${ws()}[${ws()}${items.join(`${ws()},${ws()}`)}${ws()}]${ws()}`;
    const max = k % 7 === 0 ? n - 1 : 1000;
    const now = 1_700_000_000_000 + k;
    const got = e.encode(enc.encode(text), false, max, now);
    const g = general(text);
    if (got === -1) continue;
    fast++;
    expect(got).toBe(n);
    expect(n).toBeLessThanOrEqual(max);
    if (!g.ok) throw new Error(`fast path accepted an invalid batch: ${text}`);
    checkMessages(e, g.orders as NonNullable<(typeof g.orders)[0]>[], now);
  }
  expect(fast).toBeGreaterThan(500);
  for (const t of [
    "[]",
    " [ ] ",
    "{}",
    "[{}]",
    "[1]",
    "[null]",
    '[{"customer_id":"a","product_id":"b","quantity":1,"amount":1},]',
    '[{"customer_id":"a","product_id":"b","quantity":1,"amount":1}] x',
    "\ufeff[]",
  ]) {
    expect(e.encode(enc.encode(t), false, 100, 1)).toBe(-1);
  }
  // A single order's route refuses an array, and the batch route a bare object.
  const one = '{"customer_id":"a","product_id":"b","quantity":1,"amount":1}';
  expect(e.encode(enc.encode(`[${one}]`), true, 1, 1)).toBe(-1);
  expect(e.encode(enc.encode(one), false, 100, 1)).toBe(-1);
  expect(e.encode(enc.encode(`\ufeff${one}`), true, 1, 1)).toBe(-1);
});

test("UUIDv7: the format, strictly increasing, also past 4096 ids in one millisecond", () => {
  const u = new Uuid7();
  const out = new Uint8Array(36);
  let prev = "";
  const re = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const now = Date.now();
  for (let i = 0; i < 20_000; i++) {
    u.write(out, 0, now + Math.floor(i / 10_000)); // 10,000 ids in each of two milliseconds
    const s = asciiAt(out, 0, 36);
    expect(s).toMatch(re);
    expect(s > prev).toBe(true);
    prev = s;
  }
  const s = u.string(now - 5); // a clock going back does not break the order
  expect(s > prev).toBe(true);
  const t = u.string(1_700_000_000_123);
  expect(parseInt(t.slice(0, 8) + t.slice(9, 13), 16)).toBeGreaterThanOrEqual(now); // never behind the last time used
  const fresh = new Uuid7().string(1_700_000_000_123);
  expect(parseInt(fresh.slice(0, 8) + fresh.slice(9, 13), 16)).toBe(1_700_000_000_123);
  const bun = Bun.randomUUIDv7(undefined, 1_700_000_000_123);
  expect(fresh.slice(0, 15)).toBe(bun.slice(0, 15)); // same time field and version as Bun's
});

test("batch answers are the JSON the general path built", () => {
  const u = new Uuid7();
  for (const n of [1, 2, 7, 1000]) {
    const ids = new Uint8Array(36 * n);
    for (let i = 0; i < n; i++) u.write(ids, 36 * i, Date.now());
    const partitions = Array.from({ length: n }, (_, i) => (i % 5 === 4 ? -1 : i % 24));
    const offsets = Array.from({ length: n }, (_, i) => [0, 9, 10, 99, 12345, -1001, 2 ** 40 + 3, 999999999999][i % 8]!);
    const want = JSON.stringify({
      count: n,
      orders: Array.from({ length: n }, (_, i) =>
        partitions[i]! >= 0
          ? { order_id: asciiAt(ids, 36 * i, 36), partition: partitions[i], offset: offsets[i] }
          : { order_id: asciiAt(ids, 36 * i, 36), status: "queued" },
      ),
    });
    expect(dec.decode(batchAnswer(ids, partitions, offsets, n))).toBe(want);
  }
});

test("amounts: every amount written with 0, 1 or 2 decimals is accepted at any size below 1e12, 3 decimals never", () => {
  // Before the fix the check was |round(a*100) - a*100| > 1e-6, which refused about one large
  // amount in ten (12345678901.23 * 100 is 1234567890123.0002 in binary).
  const accepts = (text: string): boolean => {
    const errors: FieldError[] = [];
    checkOrderRequest(JSON.parse(`{"customer_id":"c","product_id":"p","quantity":1,"amount":${text}}`), errors);
    return errors.length === 0;
  };
  let refusedValid = 0;
  let acceptedThree = 0;
  for (let i = 0; i < 20_000; i++) {
    const ip = String(Math.floor(rnd() * 10 ** (1 + Math.floor(rnd() * 12))));
    const f = String(Math.floor(rnd() * 100)).padStart(2, "0");
    for (const text of [ip, `${ip}.${f[0]}`, `${ip}.${f}`]) if (!accepts(text)) refusedValid++;
    if (accepts(`${ip}.${f}${1 + Math.floor(rnd() * 9)}`)) acceptedThree++;
  }
  expect({ refusedValid, acceptedThree }).toEqual({ refusedValid: 0, acceptedThree: 0 });
  expect(accepts("12345678901.23")).toBe(true);
  expect(accepts("0.000001")).toBe(false);
  expect(accepts("1e-7")).toBe(false);
  expect(accepts("0e5")).toBe(true);
});

test("metrics: cumulative latency buckets, +Inf, sum and count per route; requests by route and status", () => {
  const m = new HttpMetrics();
  for (const s of [0.0005, 0.001, 0.002, 0.02, 3]) m.observe("/order", 202, s);
  m.observe("/order", 503, 0.004);
  m.observe("/health", 200, 0.0001);
  const text = m.render([{ name: "ingest_http_queue_depth", type: "gauge", samples: [{ value: 7 }] }]);
  const line = (name: string) =>
    text
      .split("\n")
      .find((l) => l.startsWith(name))
      ?.split(" ")[1];
  const b = (le: string) => line(`ingest_http_request_duration_seconds_bucket{route="/order",le="${le}"}`);
  expect([b("0.001"), b("0.0025"), b("0.005"), b("0.01"), b("0.025"), b("2.5"), b("+Inf")]).toEqual(["2", "3", "4", "4", "5", "5", "6"]);
  expect(line('ingest_http_request_duration_seconds_count{route="/order"}')).toBe("6");
  expect(Number(line('ingest_http_request_duration_seconds_sum{route="/order"}'))).toBeCloseTo(3.0275, 6);
  expect(line('ingest_http_requests_total{route="/order",status="202"}')).toBe("5");
  expect(line('ingest_http_requests_total{route="/order",status="503"}')).toBe("1");
  expect(line('ingest_http_request_duration_seconds_bucket{route="/health",le="0.001"}')).toBe("1");
  expect(text).toContain("ingest_http_queue_depth 7");
});
