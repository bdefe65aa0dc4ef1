/**
 * A seeded generator of bad HTTP requests for `ingest serve`, and a runner that fires them and
 * tallies the answers. Shared by test/integration/reliability-http.test.ts and scripts/soak/http-fuzz.ts.
 * Every generated request is invalid for sure (each body carries at least one field no lenient
 * parser could accept), so a 2xx is a bug as much as a 5xx.
 */
import { readFileSync } from "node:fs";
import { rng, pick } from "../../src/gen/random.ts";

export type FuzzCase =
  | { kind: string; via: "fetch"; method: string; path: string; headers: Record<string, string>; body?: string | Uint8Array }
  /** Raw bytes over a socket: `trickleMs` sends one byte at a time; `abort` closes mid-body (no answer expected). */
  | { kind: string; via: "raw"; bytes: Uint8Array; trickleMs: number; abort: boolean };

const enc = new TextEncoder();
const JSON_T = { "content-type": "application/json" };
const okOrder = { customer_id: "CUST001", product_id: "PROD123", quantity: 5, amount: 9.99 };

/** Values no field accepts, one per kind of wrongness. */
const BAD_VALUES: unknown[] = [
  null,
  true,
  false,
  [],
  {},
  [1, 2],
  { a: 1 },
  "",
  " ",
  "5",
  "1e3",
  -1,
  0,
  1.5,
  -0.001,
  1e308,
  -1e308,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER * 10,
  "x".repeat(65),
  "a b",
  "é",
  "😀",
  "\u0000",
  "\ud800",
  "\u202eRTL",
  "ｆｕｌｌ",
];
/** Raw JSON number texts JSON.parse turns into Infinity, -0 or precision loss. */
const HUGE_NUMBER_TEXTS = ["1e400", "-1e400", "123456789012345678901234567890", "0.0000000000000000000000001", "1" + "0".repeat(400), "9".repeat(5000)];

function badOrder(r: () => number): Record<string, unknown> {
  const o: Record<string, unknown> = { ...okOrder };
  // quantity is always broken (no valid quantity among BAD_VALUES except none), plus maybe more.
  o.quantity = pick(
    r,
    BAD_VALUES.filter((v) => !(typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 1_000_000)),
  );
  if (r() < 0.5) o[pick(r, ["customer_id", "product_id", "amount", "currency"])] = pick(r, BAD_VALUES);
  if (r() < 0.2) o[pick(r, ["__proto__", "constructor", "extra", "", "😀", "a".repeat(1000)])] = pick(r, BAD_VALUES);
  if (r() < 0.2) delete o[pick(r, ["customer_id", "product_id", "amount"])];
  return o;
}

function deep(r: () => number, depth: number): string {
  const open = r() < 0.5 ? "[" : '{"a":';
  const close = open === "[" ? "]" : "}";
  return open.repeat(depth) + "1" + close.repeat(depth);
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** Invalid UTF-8 sequences: overlong, lone continuation, surrogate halves encoded, truncated. */
const BAD_UTF8 = [[0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xff, 0xfe]];

function rawRequest(path: string, headers: Record<string, string>, body: Uint8Array, declaredLength = body.length): Uint8Array {
  const head =
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: ${declaredLength}\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("") +
    "\r\n";
  const h = enc.encode(head);
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}

/** The n-th case of the seed's sequence: deterministic, so a failure is reproducible by (seed, index). */
export function makeCases(seed: number, n: number, maxBody: number): FuzzCase[] {
  const r = rng(seed);
  const cases: FuzzCase[] = [];
  const post = (kind: string, path: string, body: string | Uint8Array, headers: Record<string, string> = JSON_T): FuzzCase => ({
    kind,
    via: "fetch",
    method: "POST",
    path,
    headers,
    body,
  });
  const gens: Array<() => FuzzCase> = [
    // bad JSON
    () => {
      const good = JSON.stringify(badOrder(r));
      const cut = good.slice(0, Math.floor(r() * good.length));
      return post(
        "bad-json",
        pick(r, ["/order", "/orders/batch", "/users"]),
        pick(r, [
          cut,
          good + "}",
          good.replace(":", ""),
          "{'a':1}",
          "{a:1}",
          "[1,]",
          "{,}",
          "NaN",
          "undefined",
          "\u0000",
          '{"quantity":01}',
          good.replaceAll('"', "'"),
        ]),
      );
    },
    () => post("bad-json-bytes", pick(r, ["/order", "/orders/batch", "/users"]), randomBytes(r, 1 + Math.floor(r() * 300))),
    // wrong types, well-formed JSON
    () => post("wrong-types", "/order", JSON.stringify(r() < 0.8 ? badOrder(r) : pick(r, BAD_VALUES))),
    () =>
      post(
        "wrong-types-batch",
        "/orders/batch",
        JSON.stringify(
          pick(r, [[], {}, "[]", null, 1, [null], [badOrder(r)], [okOrder, badOrder(r), okOrder], Array.from({ length: 3 }, () => pick(r, BAD_VALUES))]),
        ),
      ),
    () =>
      post(
        "wrong-types-user",
        "/users",
        JSON.stringify(
          pick(r, [
            {
              id: pick(
                r,
                BAD_VALUES.filter((v) => !(Number.isSafeInteger(v) && (v as number) >= 0)),
              ),
              first_name: "a",
              last_name: "b",
              email: "a@b",
              age: 30,
              country: "US",
              city: "x",
            },
            { id: 1, age: 999 },
            [],
            null,
            { id: -1 },
          ]),
        ),
      ),
    // huge numbers as raw JSON text
    () =>
      post("huge-number", "/order", `{"customer_id":"C1","product_id":"P1","quantity":${pick(r, HUGE_NUMBER_TEXTS)},"amount":${pick(r, HUGE_NUMBER_TEXTS)}}`),
    // huge bodies: over --max-body (413 from the handler) and far over (the hard cap)
    () => post("huge-body", "/order", JSON.stringify({ ...okOrder, quantity: 0, pad: "x".repeat(maxBody + Math.floor(r() * maxBody * 3)) })),
    () => post("huge-batch", "/orders/batch", JSON.stringify(Array.from({ length: Math.floor(maxBody / 20) }, () => ({ quantity: 0 })))),
    // empty bodies
    () => post("empty-body", pick(r, ["/order", "/orders/batch", "/users"]), pick(r, ["", " ", "\n", "\r\n\r\n"])),
    // wrong content types
    () =>
      post(
        "content-type",
        "/order",
        JSON.stringify(okOrder),
        pick<Record<string, string>>(r, [
          {},
          { "content-type": "text/plain" },
          { "content-type": "application/x-www-form-urlencoded" },
          { "content-type": "multipart/form-data; boundary=x" },
          { "content-type": "application/jsonx" },
          { "content-type": "json" },
          { "content-type": "" },
          { "content-type": "application/xml" },
        ]),
      ),
    // deep nesting (kept under --max-body so the parser, not the size check, meets it)
    () => post("deep-nesting", pick(r, ["/order", "/orders/batch"]), deep(r, Math.min(Math.floor(maxBody / 6), 1 + Math.floor(r() * 20000)))),
    () => post("deep-field", "/order", `{"customer_id":${deep(r, 1 + Math.floor(r() * 5000))},"product_id":"P","quantity":0,"amount":1}`),
    // unicode edge cases: escapes of lone surrogates, raw invalid UTF-8, BOM, NUL, bidi, wide chars
    () =>
      post(
        "unicode-escape",
        "/order",
        `{"customer_id":"${pick(r, ["\\ud800", "\\udfff", "\\u0000", "\\ufeff", "\\u202e", "a\\u0301"])}","product_id":"P","quantity":${pick(r, ["0", '"1"', "null"])},"amount":1}`,
      ),
    () => {
      const before = enc.encode('{"customer_id":"');
      const bad = new Uint8Array(pick(r, BAD_UTF8));
      const after = enc.encode('","product_id":"P","quantity":0,"amount":1}');
      const b = new Uint8Array(before.length + bad.length + after.length);
      b.set(before);
      b.set(bad, before.length);
      b.set(after, before.length + bad.length);
      return post("invalid-utf8", "/order", b);
    },
    () => post("bom", "/order", "\uFEFF" + JSON.stringify({ ...okOrder, quantity: -1 })),
    // wrong methods and paths
    () => ({
      kind: "method",
      via: "fetch",
      method: pick(r, ["GET", "PUT", "DELETE", "PATCH"]),
      path: pick(r, ["/order", "/orders/batch", "/users"]),
      headers: JSON_T,
      body: undefined,
    }),
    () => ({
      kind: "path",
      via: "fetch",
      method: pick(r, ["GET", "POST"]),
      path: pick(r, ["/", "/orders", "/order/", "/ORDER", "/order/../x", "/%2e%2e/etc/passwd", "/a".repeat(200), "/metrics/x", "/users/1/2"]),
      headers: JSON_T,
      body: undefined,
    }),
    // slow clients: a bad body one byte at a time
    () => ({ kind: "slow-trickle", via: "raw", bytes: rawRequest("/order", JSON_T, enc.encode(JSON.stringify(badOrder(r)))), trickleMs: 1, abort: false }),
    // clients that stop mid-body (deliberately aborted: no answer expected, the server must carry on)
    () => {
      const body = enc.encode(JSON.stringify(okOrder));
      const full = rawRequest("/order", JSON_T, body, body.length + 100);
      return {
        kind: "abort-mid-body",
        via: "raw",
        bytes: full.subarray(0, full.length - Math.floor(r() * body.length)),
        trickleMs: r() < 0.3 ? 1 : 0,
        abort: true,
      };
    },
    // an HTTP version the parser does not speak: 505 is the right answer here (the one non-4xx allowed)
    () => ({
      kind: "bad-version",
      via: "raw",
      bytes: enc.encode(`POST /order HTTP/${pick(r, ["9.9", "2.0", "1.2"])}\r\nhost: x\r\nconnection: close\r\n\r\n`),
      trickleMs: 0,
      abort: false,
    }),
    // malformed HTTP framing
    () => ({
      kind: "bad-framing",
      via: "raw",
      bytes: enc.encode(
        pick(r, [
          "GARBAGE\r\n\r\n",
          "POST /order HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n",
          "POST /order HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n",
          `POST /order HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(70000)}\r\n\r\n`,
          "POST /order HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\nconnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        ]),
      ),
      trickleMs: 0,
      abort: false,
    }),
  ];
  // Slow and raw cases are rarer: they take wall time, not CPU.
  const weights = gens.map((_, i) => (i >= gens.length - 4 ? 0.3 : 1));
  const total = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) {
    let x = r() * total;
    let g = 0;
    while ((x -= weights[g]!) > 0) g++;
    cases.push(gens[Math.min(g, gens.length - 1)]!());
  }
  return cases;
}

export interface FuzzOutcome {
  index: number;
  kind: string;
  /** HTTP status, 0 when the connection ended without an answer. */
  status: number;
}

/** Send raw bytes, return the status of the answer (0 if the connection closed without one). */
async function sendRaw(host: string, port: number, c: Extract<FuzzCase, { via: "raw" }>): Promise<number> {
  let got = "";
  let resolveClosed!: () => void;
  const closed = new Promise<void>((res) => (resolveClosed = res));
  const sock = await Bun.connect({
    hostname: host,
    port,
    socket: {
      data(_s, d) {
        got += new TextDecoder().decode(d);
      },
      close() {
        resolveClosed();
      },
      error() {
        resolveClosed();
      },
    },
  });
  if (c.trickleMs > 0) {
    // Headers at once, then the body one byte at a time.
    const split = findBodyStart(c.bytes);
    sock.write(c.bytes.subarray(0, split));
    for (let i = split; i < c.bytes.length; i++) {
      sock.write(c.bytes.subarray(i, i + 1));
      await Bun.sleep(c.trickleMs);
    }
  } else sock.write(c.bytes);
  if (c.abort) {
    await Bun.sleep(5);
    sock.end();
    return 0;
  }
  const timer = setTimeout(() => sock.end(), 10_000);
  await closed;
  clearTimeout(timer);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
  return m ? Number(m[1]) : 0;
}

function findBodyStart(b: Uint8Array): number {
  for (let i = 3; i < b.length; i++) if (b[i - 3] === 13 && b[i - 2] === 10 && b[i - 1] === 13 && b[i] === 10) return i + 1;
  return b.length;
}

/** Fire the cases with `concurrency` in flight; `onProgress` is called every 1000 answers. */
export async function runCases(base: string, cases: FuzzCase[], concurrency: number, onProgress?: (done: number) => void): Promise<FuzzOutcome[]> {
  const u = new URL(base);
  const out: FuzzOutcome[] = new Array(cases.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= cases.length) return;
      const c = cases[i]!;
      let status = 0;
      try {
        if (c.via === "fetch") {
          const res = await fetch(base + c.path, { method: c.method, headers: c.headers, body: c.body as BodyInit | undefined, keepalive: false });
          status = res.status;
          await res.arrayBuffer();
        } else status = await sendRaw(u.hostname, Number(u.port), c);
      } catch {
        status = 0;
      }
      out[i] = { index: i, kind: c.kind, status };
      if (++done % 1000 === 0) onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Outcomes that break the contract: anything not 4xx, except deliberately aborted requests. */
export function violations(cases: FuzzCase[], outcomes: FuzzOutcome[]): FuzzOutcome[] {
  return outcomes.filter((o) => {
    const c = cases[o.index]!;
    if (c.via === "raw" && c.abort) return false;
    if (c.kind === "bad-version") return o.status !== 505 && !(o.status >= 400 && o.status < 500);
    return !(o.status >= 400 && o.status < 500);
  });
}

/** VmRSS of a process in KiB (Linux). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}
