import { test, expect, afterEach } from "bun:test";
import { runIngest } from "../helpers/cli.ts";
import { parseHead, chunkedEnd, head, NEED_MORE, MALFORMED } from "../../src/http/client.ts";

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);

/**
 * A raw TCP server answering each complete request (head + Content-Length body) with
 * `answer(n, body)`: the response as pieces written apart (to split it across reads), or
 * "close" to hang up. It records every request body.
 */
function rawServer(answer: (n: number, body: string) => string[] | "close" | "never", opts: { gapMs?: number; delayMs?: number } = {}) {
  const bodies: string[] = [];
  let accepted = 0;
  const srv = Bun.listen<{ buf: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { buf: "" };
        accepted++;
      },
      async data(s, chunk) {
        s.data.buf += chunk.toString("latin1");
        for (;;) {
          const end = s.data.buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const len = Number(/content-length: *(\d+)/i.exec(s.data.buf.slice(0, end))?.[1] ?? 0);
          if (s.data.buf.length < end + 4 + len) return;
          const body = s.data.buf.slice(end + 4, end + 4 + len);
          s.data.buf = s.data.buf.slice(end + 4 + len);
          const n = bodies.push(body) - 1;
          const a = answer(n, body);
          if (a === "never") continue;
          if (opts.delayMs) await Bun.sleep(opts.delayMs);
          if (a === "close") return void s.end();
          for (const piece of a) {
            if (piece === CLOSE) return void s.end();
            s.write(piece);
            s.flush();
            if (opts.gapMs) await Bun.sleep(opts.gapMs);
          }
        }
      },
    },
  });
  servers.push(srv);
  return { url: `http://127.0.0.1:${srv.port}`, bodies, accepted: () => accepted };
}
/** A piece that hangs up instead of writing. */
const CLOSE = "\0close";
const servers: { stop(force?: boolean): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});

const load = async (url: string, ...args: string[]) => {
  const r = await runIngest(["load", "--url", url, "--json", ...args], { timeoutMs: 60_000 });
  return { code: r.code, stderr: r.stderr, rep: r.stdout ? JSON.parse(r.stdout) : undefined };
};

test("parseHead: status, Content-Length, chunked and Connection, case-insensitively; partial and malformed heads", () => {
  const r = b('HTTP/1.1 202 Accepted\r\ncontent-LENGTH: 17\r\nConnection: keep-alive\r\n\r\n{"order_id":"x"}');
  expect(parseHead(r, 0, r.length)).toBe(202);
  expect({ ...head }).toEqual({ status: 202, bodyStart: r.length - 16, contentLength: 17, chunked: false, close: false });
  const c = b("HTTP/1.1 500 Oops\r\nTransfer-Encoding: Chunked\r\nCONNECTION: Close\r\n\r\n");
  expect(parseHead(c, 0, c.length)).toBe(500);
  expect(head.chunked).toBe(true);
  expect(head.close).toBe(true);
  expect(head.contentLength).toBe(-1);
  // HTTP/1.0 closes unless it says keep-alive
  const old = b("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  expect(parseHead(old, 0, old.length)).toBe(200);
  expect(head.close).toBe(true);
  const oldKa = b("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
  parseHead(oldKa, 0, oldKa.length);
  expect(head.close).toBe(false);
  // every prefix of a head is incomplete, never a wrong answer
  for (let i = 0; i < r.length - 16; i++) expect(parseHead(r, 0, i)).toBe(NEED_MORE);
  expect(parseHead(b("SSH-2.0-OpenSSH\r\n\r\n"), 0, 19)).toBe(MALFORMED);
  const bad = b("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n");
  expect(parseHead(bad, 0, bad.length)).toBe(MALFORMED);
});

test("chunkedEnd: chunks, extensions, trailers; every prefix is incomplete", () => {
  const body = b("5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT");
  const end = body.length - 4;
  expect(chunkedEnd(body, 0, body.length)).toBe(end);
  for (let i = 0; i < end; i++) expect(chunkedEnd(body, 0, i)).toBe(NEED_MORE);
  const plain = b("0\r\n\r\n");
  expect(chunkedEnd(plain, 0, plain.length)).toBe(5);
  expect(chunkedEnd(b("zz\r\n"), 0, 4)).toBe(MALFORMED);
});

test("load: chunked answers, heads and bodies split across reads, 1xx interim heads and bodies up to the close all count as their status", async () => {
  const kinds = [
    ["HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n", '4\r\n{"a"', "\r\n3\r\n:1}\r\n", "0\r\n\r\n"],
    ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 202 Accepted\r\nContent-Len", 'gth: 10\r\n\r\n{"o":', "12345}"],
    ["HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}"],
  ];
  const s = rawServer((n) => kinds[n % 3]!, { gapMs: 2 });
  const r = await load(`${s.url}/order`, "--rate", "30", "--duration", "1s", "--connections", "4");
  expect(r.rep.status).toEqual({ "202": 30 });
  expect(r.code).toBe(0);
  expect(r.rep.unanswered).toBe(0);
  // keep-alive: the connections were reused, not one per request
  expect(r.rep.connections_opened).toBeLessThanOrEqual(4);
  expect(s.accepted()).toBe(r.rep.connections_opened);
  // the request bodies are the orders, as JSON
  expect(s.bodies).toHaveLength(30);
  for (const body of s.bodies) expect(Object.keys(JSON.parse(body))).toEqual(["customer_id", "product_id", "quantity", "amount"]);

  // A body with neither length nor chunks ends with the connection: it counts once the server hangs up.
  const untilClose = rawServer(() => ['HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n\r\n{"ok":', "true}", CLOSE], { gapMs: 2 });
  const r2 = await load(`${untilClose.url}/order`, "--rate", "10", "--duration", "0.5s", "--connections", "2");
  expect(r2.rep.status).toEqual({ "202": 5 });
  expect(r2.rep.connections_opened).toBe(5);
  // HTTP/1.0 without keep-alive: the client hangs up after the answer and opens a new connection.
  const old = rawServer(() => ["HTTP/1.0 202 Accepted\r\nContent-Length: 2\r\n\r\n{}"]);
  const r3 = await load(`${old.url}/order`, "--rate", "10", "--duration", "0.5s", "--connections", "2");
  expect(r3.rep.status).toEqual({ "202": 5 });
  expect(old.accepted()).toBe(5);
}, 60_000);

test("load: 4xx and 5xx answers are counted by status and make the exit code 1", async () => {
  const s = rawServer((n) => [
    n % 3 === 0
      ? "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}"
      : n % 3 === 1
        ? "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n"
        : "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
  ]);
  const r = await load(`${s.url}/order`, "--rate", "30", "--duration", "1s");
  expect(r.rep.status).toEqual({ "400": 10, "503": 10, "202": 10 });
  expect(r.rep.requests).toBe(30);
  expect(r.code).toBe(1);
});

test("load: Connection: close answers: each request on a fresh connection, none lost", async () => {
  const s = rawServer(() => ["HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"]);
  const r = await load(`${s.url}/order`, "--rate", "40", "--duration", "1s", "--connections", "2");
  expect(r.rep.status).toEqual({ "202": 40 });
  expect(r.rep.connections_opened).toBe(40);
  expect(s.accepted()).toBe(40);
  expect(r.code).toBe(0);
});

test("load: a server that hangs up without answering, and one that refuses connections, are counted as errors", async () => {
  const s = rawServer((n) => (n % 2 ? "close" : ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"]));
  const r = await load(`${s.url}/order`, "--rate", "20", "--duration", "1s", "--connections", "1");
  expect(r.rep.status["202"] + r.rep.status["error: connection closed before the response"]).toBe(20);
  expect(r.rep.status["error: connection closed before the response"]).toBeGreaterThanOrEqual(9);
  expect(r.code).toBe(1);

  // port 1 on loopback: nothing listens
  const refused = await load("http://127.0.0.1:1/order", "--rate", "20", "--duration", "0.5s");
  expect(refused.rep.status).toEqual({ "error: connection refused": 10 });
  expect(refused.rep.requests).toBe(10);
  expect(refused.code).toBe(1);
});

test("load: a connection idle longer than --idle-timeout is closed and a new one opened, not reused as the server may be closing it", async () => {
  const s = rawServer(() => ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"]);
  // 4 requests/s: each connection idles ~250 ms between requests
  const r = await load(`${s.url}/order`, "--rate", "4", "--duration", "1.5s", "--connections", "2", "--idle-timeout", "100ms");
  expect(r.rep.status).toEqual({ "202": 6 });
  expect(r.rep.connections_opened).toBe(6);
  expect(s.accepted()).toBe(6);
  // under the limit they are reused
  const kept = await load(`${s.url}/order`, "--rate", "4", "--duration", "1.5s", "--connections", "2", "--idle-timeout", "2s");
  expect(kept.rep.connections_opened).toBe(1);
});

test("load: latency counts from each request's scheduled time, so a slow server's queueing shows (no coordinated omission)", async () => {
  // One connection, 100 ms per answer, 20 requests scheduled over 1 s: request i goes out only at
  // about i x 100 ms, so measured from its send it would be ~100 ms, from its schedule ~(i x 50) ms.
  const s = rawServer(() => ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"], { delayMs: 100 });
  const r = await load(`${s.url}/order`, "--rate", "20", "--duration", "1s", "--connections", "1");
  expect(r.rep.status).toEqual({ "202": 20 });
  expect(r.rep.latency_ms.p50).toBeGreaterThan(400);
  expect(r.rep.latency_ms.max).toBeGreaterThan(900);
  expect(r.rep.seconds).toBeGreaterThan(1.9);
  // and the summary says the generator, not the server, held them back: all but the first waited
  expect(r.rep.waited_for_connection).toBeGreaterThanOrEqual(18);
  const t = await runIngest(["load", "--url", `${s.url}/order`, "--rate", "20", "--duration", "0.5s", "--connections", "1"]);
  expect(t.stdout).toMatch(/\n {2}\d+ of 10 requests found all 1 connections busy and waited for one: raise --connections/);
});

test("load: the summary gives the generator's own CPU per request, in text and JSON", async () => {
  const s = rawServer(() => ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"]);
  const r = await load(`${s.url}/order`, "--rate", "200", "--duration", "1s");
  expect(r.rep.cpu_seconds).toBeGreaterThan(0);
  expect(r.rep.cpu_us_per_request).toBeCloseTo((r.rep.cpu_seconds / r.rep.requests) * 1e6, -1);
  expect(r.rep.waited_for_connection).toBe(0); // an instant server never keeps 64 connections busy at 200/s
  const t = await runIngest(["load", "--url", `${s.url}/order`, "--rate", "50", "--duration", "0.2s"]);
  expect(t.stdout).toMatch(/\n {2}own cpu: \d+\.\d\d s, [\d.]+ us per request \(\d+% of a core\), \d+ connections opened\n$/);
});

test("load --kind users --batch 3: unique ids, a JSON array per request", async () => {
  const s = rawServer(() => ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"]);
  const r = await load(`${s.url}/users`, "--rate", "20", "--duration", "0.5s", "--kind", "users", "--batch", "3");
  expect(r.code).toBe(0);
  const users = s.bodies.flatMap((x) => JSON.parse(x));
  expect(users).toHaveLength(30);
  expect(new Set(users.map((u: { id: number }) => u.id)).size).toBe(30);
  expect(users[0]).toEqual({
    id: 1_000_000_000,
    first_name: "Load",
    last_name: "Test",
    email: "load.1000000000@example.com",
    age: users[0].age,
    country: "US",
    city: "Austin",
  });
});

test("load: requests a server never answers are reported unanswered after the bounded drain, and the run still ends", async () => {
  const s = rawServer((n) => (n < 3 ? ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"] : "never"));
  const t0 = performance.now();
  const r = await load(`${s.url}/order`, "--rate", "10", "--duration", "0.5s", "--connections", "1");
  expect(r.rep.status).toEqual({ "202": 3 });
  expect(r.rep.unanswered).toBe(2); // one in flight on the only connection, one waiting for it
  expect(r.rep.scheduled).toBe(5);
  expect(r.code).toBe(1);
  expect(performance.now() - t0).toBeLessThan(20_000);
}, 30_000);

test.skipIf(!Bun.which("openssl"))(
  "load over https: a certificate that does not verify is named in the errors; accepted (NODE_TLS_REJECT_UNAUTHORIZED=0), the answers count",
  async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "load-tls-"));
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    expect(
      Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"], {
        stdout: "ignore",
        stderr: "ignore",
      }).exitCode,
    ).toBe(0);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { key: Bun.file(key), cert: Bun.file(cert) },
      fetch: () => new Response("{}", { status: 202 }),
    });
    try {
      const url = `https://127.0.0.1:${server.port}/order`;
      const bad = await load(url, "--rate", "20", "--duration", "0.5s");
      expect(bad.rep.status).toEqual({ "error: TLS: self signed certificate": 10 });
      const r = await runIngest(["load", "--url", url, "--rate", "20", "--duration", "0.5s", "--json"], { env: { NODE_TLS_REJECT_UNAUTHORIZED: "0" } });
      expect(JSON.parse(r.stdout).status).toEqual({ "202": 10 });
      expect(r.code).toBe(0);
    } finally {
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("load: a generator that wakes after the end (stopped by the OS) still sends every request scheduled before it, late, with the lateness in their latency", async () => {
  const { spawnIngest } = await import("../helpers/cli.ts");
  const s = rawServer(() => ["HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"]);
  const p = spawnIngest(["load", "--url", `${s.url}/order`, "--rate", "10", "--duration", "1s", "--json"]);
  const out = new Response(p.stdout as ReadableStream).text();
  await Bun.sleep(400);
  p.kill("SIGSTOP");
  await Bun.sleep(1200);
  p.kill("SIGCONT");
  expect(await p.exited).toBe(0);
  const rep = JSON.parse(await out);
  expect(rep.scheduled).toBe(10); // was 4 to 6: the loop stopped at the end's clock
  expect(rep.status).toEqual({ "202": 10 });
  expect(rep.latency_ms.max).toBeGreaterThan(300);
});
