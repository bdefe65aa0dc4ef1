/**
 * Shared by the consumer reliability tests and the soak scenarios: build users+orders topics
 * (with poison records at known positions), give each run its own MariaDB database and Redis db
 * index, and check the end state against what was produced. The checks return counts instead of
 * asserting, so a soak scenario can report them and a test can expect() them.
 */
import { createConnection, type Connection } from "mysql2/promise";
import { createClient } from "redis";
import { rng as prng } from "../../src/gen/random.ts";

export const MYSQL = { host: "127.0.0.1", port: 3306, user: "root" } as const;
export const REDIS = { host: "127.0.0.1", port: 6379 } as const;

export function rand(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

// ---- data -------------------------------------------------------------------------------------

/** A deterministic PRNG (mulberry32, the generator's), so a failing run can be reproduced from its seed. */
export { prng };

export interface Dataset {
  /** `key:value` lines for `kcat -P -K:`, users then orders each in their own topic. */
  usersLines: string[];
  ordersLines: string[];
  userIds: number[];
  orderIds: string[];
  /** Keys of the poison records (every `poisonEvery`-th record of each topic). */
  poisonKeys: Set<string>;
}

/**
 * `users` users and `orders` orders over 200 products (so stock runs out and some orders are
 * rejected). Every `poisonEvery`-th record of each topic is poison (keyed `poison-...`).
 */
export function makeDataset(o: { users: number; orders: number; poisonEvery?: number; seed?: number; idBase?: number }): Dataset {
  const r = prng(o.seed ?? 1);
  const base = o.idBase ?? 0;
  const every = o.poisonEvery ?? 0;
  const ds: Dataset = { usersLines: [], ordersLines: [], userIds: [], orderIds: [], poisonKeys: new Set() };
  let n = 0;
  for (let i = 1; i <= o.users; i++) {
    if (every && ++n % every === 0) {
      const k = `poison-u${base}-${n}`;
      ds.poisonKeys.add(k);
      ds.usersLines.push(`${k}:{"id":"not a number",`);
    }
    const id = base + i;
    ds.userIds.push(id);
    const u = {
      id,
      first_name: `F${id}`,
      last_name: `L${id} é,"q"`,
      email: `u${id}@example.com`,
      age: 18 + (id % 60),
      country: "FR",
      city: "Paris",
      signup_ts: 1_700_000_000_000 + id,
      is_active: id % 3 !== 0,
      score: Math.round(r() * 10_000) / 100,
      phone: id % 5 ? `+33${id}` : null,
    };
    ds.usersLines.push(`${id}:${JSON.stringify(u)}`);
  }
  n = 0;
  for (let i = 1; i <= o.orders; i++) {
    if (every && ++n % every === 0) {
      const k = `poison-o${base}-${n}`;
      ds.poisonKeys.add(k);
      ds.ordersLines.push(`${k}:{"order_id":"x","quantity":-1}`);
    }
    const id = `o${base}-${i}-${Math.floor(r() * 1e9).toString(36)}`;
    ds.orderIds.push(id);
    const customer = base + 1 + Math.floor(r() * Math.max(1, o.users));
    const ord = {
      order_id: id,
      customer_id: String(customer),
      product_id: `P${String(1 + Math.floor(r() * 200)).padStart(4, "0")}`,
      quantity: 1 + Math.floor(r() * 5),
      amount: Math.round(r() * 50_000) / 100,
      currency: "EUR",
      created_at: 1_735_689_600_000 + i,
    };
    ds.ordersLines.push(`${customer}:${JSON.stringify(ord)}`);
  }
  return ds;
}

/**
 * Produce `key:value` lines with kcat (async: a test may run a proxy on this thread). kcat exits 1
 * after any error its client reports, also a broker disconnect it recovered from (a broker killed
 * in a fault run): only a message that was not delivered counts as a failure here, and the
 * producer is idempotent, so a retried batch is not written twice.
 */
export async function produceLines(bootstrap: string, topic: string, lines: string[]): Promise<void> {
  if (!lines.length) return;
  const p = Bun.spawn(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K:", "-z", "lz4", "-X", "enable.idempotence=true"], {
    stdin: new TextEncoder().encode(lines.join("\n") + "\n"),
    stdout: "ignore",
    stderr: "pipe",
  });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0 && /Delivery failed|Failed to produce|Fatal|FATAL/.test(err)) throw new Error(`kcat produce to ${topic} failed (${code}): ${err}`);
  if (code !== 0 && !/Disconnected|Connection refused|Connect to|broker.*down|timed out/i.test(err))
    throw new Error(`kcat produce to ${topic} failed (${code}): ${err}`);
}

/** Keys of a topic's records, with kcat (DLQ contents). */
export async function topicKeys(bootstrap: string, topic: string): Promise<string[]> {
  const p = Bun.spawn(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", "%k\n"], { stdout: "pipe", stderr: "ignore" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.split("\n").filter(Boolean);
}

// ---- stores -----------------------------------------------------------------------------------

export interface TestDb {
  name: string;
  url: string;
  conn: Connection;
  drop(): Promise<void>;
}

/** A MariaDB database of its own (`<prefix>_<random>`), dropped by drop(). */
export async function createDb(prefix = "soak"): Promise<TestDb> {
  const name = `${prefix}_${rand()}`.replace(/[^a-z0-9_]/gi, "_");
  const admin = await createConnection(MYSQL);
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.end();
  const conn = await createConnection({ ...MYSQL, database: name });
  return {
    name,
    url: `mysql://root@${MYSQL.host}:${MYSQL.port}/${name}`,
    conn,
    async drop() {
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
      await conn.end().catch(() => undefined);
    },
  };
}

function redisClient(url: string) {
  const c = createClient({ url });
  c.on("error", () => {});
  return c;
}
export type RedisClient = ReturnType<typeof redisClient>;

export interface TestRedis {
  db: number;
  url: string;
  client: RedisClient;
  drop(): Promise<void>;
}

/**
 * ingest has no Redis key prefix, so each run takes an empty Redis db index (8..15: the suite
 * uses db 0) and flushes it afterwards.
 */
export async function claimRedisDb(): Promise<TestRedis> {
  const order = [8, 9, 10, 11, 12, 13, 14, 15].sort(() => Math.random() - 0.5);
  for (const db of order) {
    const client = redisClient(`redis://${REDIS.host}:${REDIS.port}/${db}`);
    await client.connect();
    // SETNX a claim key so two runs never pick the same empty db.
    if ((await client.dbSize()) === 0 && (await client.set("__ingest_test_claim", "1", { NX: true })) === "OK") {
      return {
        db,
        url: `redis://${REDIS.host}:${REDIS.port}/${db}`,
        client,
        async drop() {
          await client.flushDb().catch(() => undefined);
          await client.quit().catch(() => undefined);
        },
      };
    }
    await client.quit();
  }
  throw new Error("no empty Redis db among 8..15");
}

export interface StoreCheck {
  users: number;
  distinctUsers: number;
  orders: number;
  distinctOrders: number;
  /** Produced records absent from MySQL. */
  lostUsers: number;
  lostOrders: number;
  /** Rows beyond one per produced record (a second row for an id), or rows nobody produced. */
  duplicated: number;
  accepted: number;
  rejected: number;
  /** Products whose stock + accepted quantities != initial stock, or below zero. */
  stockBad: number;
  /** Redis entries missing or different from MySQL (users and touched products); -1 when not checked. */
  redisMismatch: number;
}

/** Compare MySQL (and Redis when given) with what was produced. */
export async function checkStores(
  conn: Connection,
  ds: { userIds: number[]; orderIds: string[] },
  initialStock: number,
  redis?: RedisClient,
): Promise<StoreCheck> {
  const [[c]] = (await conn.query("SELECT COUNT(*) AS u, COUNT(DISTINCT id) AS du FROM users")) as unknown as [{ u: number; du: number }[]];
  const [[o]] = (await conn.query("SELECT COUNT(*) AS o, COUNT(DISTINCT order_id) AS d FROM orders")) as unknown as [{ o: number; d: number }[]];
  const [uids] = (await conn.query("SELECT id FROM users")) as unknown as [{ id: number }[]];
  const [oids] = (await conn.query("SELECT CONVERT(order_id USING utf8mb4) AS order_id FROM orders")) as unknown as [{ order_id: string }[]];
  const haveU = new Set(uids.map((x) => Number(x.id)));
  const haveO = new Set(oids.map((x) => x.order_id));
  const wantU = new Set(ds.userIds);
  const wantO = new Set(ds.orderIds);
  const lostUsers = ds.userIds.filter((id) => !haveU.has(id)).length;
  const lostOrders = ds.orderIds.filter((id) => !haveO.has(id)).length;
  const strayU = [...haveU].filter((id) => !wantU.has(id)).length;
  const strayO = [...haveO].filter((id) => !wantO.has(id)).length;
  const duplicated = Number(c!.u) - Number(c!.du) + (Number(o!.o) - Number(o!.d)) + strayU + strayO;
  const [prods] = (await conn.query(
    `SELECT p.product_id, p.stock, p.version, COALESCE(SUM(CASE WHEN o.status = 'accepted' THEN o.quantity END), 0) AS taken
     FROM products p LEFT JOIN orders o ON o.product_id = p.product_id GROUP BY p.product_id, p.stock, p.version`,
  )) as unknown as [{ product_id: string; stock: number; version: number; taken: number }[]];
  const stockBad = prods.filter((p) => Number(p.stock) < 0 || Number(p.stock) + Number(p.taken) !== initialStock).length;
  const [st] = (await conn.query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")) as unknown as [{ status: string; n: number }[]];
  const n = (s: string) => Number(st.find((x) => x.status === s)?.n ?? 0);
  let redisMismatch = -1;
  if (redis) {
    redisMismatch = 0;
    const [urows] = (await conn.query("SELECT id, email, score, is_active FROM users")) as unknown as [
      { id: number; email: string; score: number; is_active: number }[],
    ];
    for (let i = 0; i < urows.length; i += 1000) {
      const part = urows.slice(i, i + 1000);
      const got = await redis.mGet(part.map((u) => `user:${u.id}`));
      part.forEach((u, j) => {
        const v = got[j] ? JSON.parse(got[j]!) : null;
        if (!v || v.email !== u.email || v.score !== Number(u.score) || v.is_active !== Boolean(u.is_active)) redisMismatch++;
      });
    }
    // Untouched products (version 0) were never written to the cache; every other one must match.
    const touched = prods.filter((p) => Number(p.version) > 0);
    const got = touched.length ? await redis.mGet(touched.map((p) => `product:${p.product_id}`)) : [];
    touched.forEach((p, j) => {
      const v = got[j] ? JSON.parse(got[j]!) : null;
      if (!v || v.stock !== Number(p.stock) || v.version !== Number(p.version)) redisMismatch++;
    });
  }
  return {
    users: Number(c!.u),
    distinctUsers: Number(c!.du),
    orders: Number(o!.o),
    distinctOrders: Number(o!.d),
    lostUsers,
    lostOrders,
    duplicated,
    accepted: n("accepted"),
    rejected: n("rejected"),
    stockBad,
    redisMismatch,
  };
}

// ---- offsets ----------------------------------------------------------------------------------

export interface LagRow {
  topic: string;
  partition: number;
  committed: number | null;
  high: number;
  low: number;
  lag: number;
}

/** `ingest lag --json` for a group (`timeoutMs`: its --timeout-ms, for a cluster that is losing a broker). */
export async function groupLag(
  argv: (...a: string[]) => string[],
  bootstrap: string,
  group: string,
  topics: string[],
  timeoutMs = 10_000,
): Promise<{ total_lag: number; partitions: LagRow[] }> {
  const p = Bun.spawn(argv("lag", "--group", group, "--topic", topics.join(","), "--json", "--timeout-ms", String(timeoutMs), "-b", bootstrap), {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "error" },
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`ingest lag failed (${code}): ${err}`);
  return JSON.parse(out);
}

/** Where each record sits: `topic/partition` -> keys by offset (read once after producing). */
export async function recordPositions(bootstrap: string, topics: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const t of topics) {
    const p = Bun.spawn(["kcat", "-C", "-b", bootstrap, "-t", t, "-e", "-q", "-f", "%p %o %k\n"], { stdout: "pipe", stderr: "ignore" });
    const text = await new Response(p.stdout).text();
    await p.exited;
    for (const line of text.split("\n")) {
      if (!line) continue;
      const [part, off, key] = line.split(" ");
      const k = `${t}/${part}`;
      if (!out.has(k)) out.set(k, []);
      out.get(k)![Number(off)] = key!;
    }
  }
  return out;
}

/**
 * Records below a committed offset that are not stored: must be 0 (commits never ahead of rows).
 * Read the lag first and the stores after: rows only grow, so this can miss a violation but never
 * invents one. Poison records count as handled (the DLQ is checked at the end).
 * `orderKeyToId` maps an orders record's position to its order id via the dataset order.
 */
export async function committedAheadOfStored(
  lag: { partitions: LagRow[] },
  positions: Map<string, string[]>,
  values: Map<string, string[]>,
  conn: Connection,
  kinds: Map<string, "users" | "orders">,
): Promise<number> {
  const [uids] = (await conn.query("SELECT id FROM users").catch(() => [[]])) as unknown as [{ id: number }[]];
  const [oids] = (await conn.query("SELECT CONVERT(order_id USING utf8mb4) AS order_id FROM orders").catch(() => [[]])) as unknown as [{ order_id: string }[]];
  const haveU = new Set(uids.map((x) => String(x.id)));
  const haveO = new Set(oids.map((x) => x.order_id));
  let ahead = 0;
  for (const p of lag.partitions) {
    if (p.committed === null) continue;
    const key = `${p.topic}/${p.partition}`;
    const keys = positions.get(key) ?? [];
    const ids = values.get(key) ?? [];
    for (let off = 0; off < p.committed && off < keys.length; off++) {
      const k = keys[off];
      if (k === undefined || k.startsWith("poison-")) continue;
      if (kinds.get(p.topic) === "users" ? !haveU.has(k) : !haveO.has(ids[off]!)) ahead++;
    }
  }
  return ahead;
}

/** Like recordPositions, but the order id of each orders record (by offset), for committedAheadOfStored. */
export async function orderIdPositions(bootstrap: string, topic: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const p = Bun.spawn(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", "%p %o %s\n"], { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(p.stdout).text();
  await p.exited;
  for (const line of text.split("\n")) {
    if (!line) continue;
    const [part, off, ...rest] = line.split(" ");
    const v = rest.join(" ");
    const m = /"order_id":"([^"]*)"/.exec(v);
    const k = `${topic}/${part}`;
    if (!out.has(k)) out.set(k, []);
    out.get(k)![Number(off)] = m ? m[1]! : "";
  }
  return out;
}
