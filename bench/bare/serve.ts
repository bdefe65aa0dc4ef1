/**
 * The ceiling contender of `bun run bench:serve` (`--only bare`): a minimal Bun.serve intake with
 * no Kafka. It does only what any intake must do: read the body as bytes, JSON.parse it, check it
 * is an object (POST /order) or a non-empty array of objects (POST /orders/batch), and answer 202
 * with a body shaped like ingest serve's answer ({order_id, partition, offset} per order; for the
 * batch {count, orders: [...]}), ids from a counter. No validation of fields, no publishing, no
 * delivery reports: what Bun.serve + wrk reach on this machine, so a target above it is visibly
 * out of reach here.
 *
 *   bun bench/bare/serve.ts [--port 0] [--host 127.0.0.1]
 * Prints "listening on http://HOST:PORT". GET /health answers {"producer":{"queue_depth":0}}.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } } });
const PARTITIONS = 12;
const HEADERS = new Headers({ "content-type": "application/json" });
const utf8 = new TextDecoder();
let next = 0;

/** A UUID-shaped id (36 characters, like ingest's UUIDv7) from the counter. */
const ID_PREFIX = "00000000-0000-7000-8000-";
const id = (n: number) => ID_PREFIX + n.toString(16).padStart(12, "0");
const one = (n: number) => `{"order_id":"${id(n)}","partition":${n % PARTITIONS},"offset":${Math.floor(n / PARTITIONS)}}`;

const bad = (status: number, error: string) => new Response(JSON.stringify({ error, details: null }), { status, headers: HEADERS });

async function parse(req: Request): Promise<unknown> {
  const bytes = await req.bytes();
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);

const server = Bun.serve({
  hostname: values.host,
  port: Number(values.port),
  routes: {
    "/order": {
      POST: async (req) => {
        const body = await parse(req);
        if (!isObject(body)) return bad(400, "expected a JSON object");
        return new Response(one(next++), { status: 202, headers: HEADERS });
      },
    },
    "/orders/batch": {
      POST: async (req) => {
        const body = await parse(req);
        if (!Array.isArray(body) || body.length === 0) return bad(400, "expected a non-empty JSON array of orders");
        const n = body.length;
        const parts = new Array<string>(n);
        for (let i = 0; i < n; i++) {
          if (!isObject(body[i])) return bad(400, `item ${i} is not a JSON object`);
          parts[i] = one(next++);
        }
        return new Response(`{"count":${n},"orders":[${parts.join(",")}]}`, { status: 202, headers: HEADERS });
      },
    },
    "/health": { GET: () => Response.json({ status: "ok", producer: { queue_depth: 0 } }) },
  },
  fetch: () => bad(404, "not found"),
});

console.log(`listening on http://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(false);
  process.exit(0);
});
