/**
 * ingest against a real Apache Kafka 4.4 (KRaft) broker from tools/kafka (one node, shared by
 * this file's tests), checked with clients nobody here wrote: kcat and Kafka's own Java tools
 * (ConsoleConsumer, ConsoleProducer, ConsumerGroupCommand, TopicCommand, TransactionsCommand,
 * DumpLogSegments).
 */
import { expect, beforeAll, afterAll } from "bun:test";
import avro from "avsc";
import { decode as msgpackDecode } from "@msgpack/msgpack";
import Papa from "papaparse";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kafka4Test, sharedKafka4, startKafka4, type KafkaCluster } from "../helpers/kafka4.ts";
import { Producer } from "../../src/kafka/index.ts";
import { javaConsume, javaDescribeGroup, javaGroupMembers } from "../helpers/java-tools.ts";
import { runIngest, spawnIngest, ingestArgv } from "../helpers/cli.ts";
import { uniqueName } from "../helpers/broker.ts";
import {
  checkStores,
  claimRedisDb,
  committedAheadOfStored,
  createDb,
  groupLag,
  makeDataset,
  orderIdPositions,
  produceLines,
  recordPositions,
  type TestDb,
  type TestRedis,
} from "../helpers/stores.ts";
import usersSchemaText from "../../data/users.avsc" with { type: "text" };

const usersType = avro.Type.forSchema(JSON.parse(usersSchemaText));
const dir = mkdtempSync(join(tmpdir(), "ingest-kafka4-"));
const ROWS = 2000;
const csv = join(dir, "users.csv");
/** Consumer-group settings for quick rebalances after a member dies (the broker's minimum session). */
const GROUP = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"];
let k: KafkaCluster;

beforeAll(async () => {
  k = await sharedKafka4();
  expect((await runIngest(["gen", "users", "--rows", String(ROWS), "--out", csv, "--seed", "11"])).code).toBe(0);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CSV's rows with the schema's types, read by papaparse (not by ingest's CSV reader). */
function expectedRows(): Map<string, Record<string, unknown>> {
  const rows = Papa.parse<Record<string, string>>(readFileSync(csv, "utf8"), { header: true, skipEmptyLines: true }).data;
  return new Map(
    rows.map((r) => [
      r.id!,
      {
        id: Number(r.id),
        first_name: r.first_name,
        last_name: r.last_name,
        email: r.email,
        age: Number(r.age),
        country: r.country,
        city: r.city,
        signup_ts: Number(r.signup_ts),
        is_active: r.is_active === "true",
        score: Number(r.score),
        phone: r.phone === "" ? null : r.phone,
      },
    ]),
  );
}

async function createTopic(name: string, partitions: number, extra: string[] = []): Promise<void> {
  const r = await runIngest(["topic", "create", name, "--partitions", String(partitions), ...extra, "-b", k.bootstrap]);
  if (r.code !== 0) throw new Error(`topic create ${name}: ${r.stderr}`);
}

/** Each key's partition as kcat reads the topic. */
async function kcatPartitions(topic: string): Promise<Map<string, number>> {
  const p = Bun.spawn(["kcat", "-C", "-b", k.bootstrap, "-t", topic, "-e", "-q", "-f", "%k %p\n"], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = new Map<string, number>();
  for (const l of out.split("\n")) {
    if (!l) continue;
    const [key, part] = l.split(" ");
    m.set(key!, Number(part));
  }
  return m;
}

/** Compression codecs of each topic's partition batches on disk, as Kafka's DumpLogSegments prints them. */
function codecsOnDisk(topics: string[], partition: number): string[][] {
  const files = topics.map((t) => {
    const dataDir = join(k.nodes[0]!.dir, "data", `${t}-${partition}`);
    return join(dataDir, readdirSync(dataDir).find((f) => f.endsWith(".log"))!);
  });
  const r = k.tool("dump-log", ["--files", files.join(",")]);
  expect(r.code).toBe(0);
  // Output: "Dumping <file>" then that file's batches.
  const parts = r.stdout.split(/^Dumping /m).slice(1);
  return files.map((f) => {
    const part = parts.find((p) => p.startsWith(f))!;
    return [...new Set([...part.matchAll(/compresscodec: (\w+)/g)].map((m) => m[1]!.toLowerCase()))];
  });
}

kafka4Test(
  "topic create/list/describe through ingest's admin API, as Kafka's own TopicCommand sees them",
  async () => {
    const topic = uniqueName("k4-admin");
    const c = await runIngest(["topic", "create", topic, "--partitions", "5", "--config", "retention.ms=3600000", "-b", k.bootstrap]);
    expect(c.stderr + c.stdout).toContain(`created topic ${topic} with 5 partitions`);
    expect(c.code).toBe(0);
    const again = await runIngest(["topic", "create", topic, "--partitions", "5", "--if-not-exists", "-b", k.bootstrap]);
    expect(again.code).toBe(0);
    const dup = await runIngest(["topic", "create", topic, "--partitions", "5", "-b", k.bootstrap]);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/already exists/i);

    const java = k.tool("topics", ["--bootstrap-server", k.bootstrap, "--describe", "--topic", topic]);
    expect(java.code).toBe(0);
    expect(java.stdout).toContain("PartitionCount: 5");
    expect(java.stdout).toContain("retention.ms=3600000");

    const list = await runIngest(["topic", "list", "--json", "-b", k.bootstrap]);
    expect(list.code).toBe(0);
    expect(JSON.stringify(JSON.parse(list.stdout))).toContain(topic);
    const desc = await runIngest(["topic", "describe", topic, "--json", "-b", k.bootstrap]);
    expect(desc.code).toBe(0);
    const d = JSON.parse(desc.stdout);
    expect(d.partitions.length).toBe(5);
    for (const p of d.partitions) expect(p.leader).toBe(1);
  },
  120_000,
);

const decoders: Record<string, (b: Uint8Array) => Record<string, unknown>> = {
  json: (b) => JSON.parse(new TextDecoder().decode(b)),
  avro: (b) => usersType.fromBuffer(Buffer.from(b)) as Record<string, unknown>,
  msgpack: (b) => msgpackDecode(b) as Record<string, unknown>,
};

const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"];
for (const format of ["json", "avro", "msgpack"]) {
  kafka4Test(
    `produce ${format} values with every codec: Kafka's console consumer reads every row once per topic, keyed by id on CRC-32(key) % n, decoding to the CSV row; DumpLogSegments shows each codec on disk`,
    async () => {
      const want = expectedRows();
      const prefix = uniqueName(`k4-${format}`);
      for (const codec of CODECS) {
        const topic = `${prefix}-${codec}`;
        await createTopic(topic, 3);
        const r = await runIngest(["produce", "--file", csv, "--topic", topic, "--format", format, "--compression", codec, "-b", k.bootstrap, "--no-progress"]);
        expect(r.stderr).toContain("produce OK");
        expect(r.stderr).toContain(`delivered ${ROWS.toLocaleString("en-US")}, failed 0`);
      }
      // One Java consumer over the five topics (a JVM start is the slow part): every key once per topic.
      const got = await javaConsume(k, "", CODECS.length * ROWS + 1, ["--include", `${prefix}-.*`]);
      expect(got.length).toBe(CODECS.length * ROWS);
      const copies = new Map<string, number>();
      for (const rec of got) {
        expect(rec.partition).toBe(Bun.hash.crc32(rec.key!) % 3);
        copies.set(rec.key!, (copies.get(rec.key!) ?? 0) + 1);
        expect(decoders[format]!(rec.value)).toEqual(want.get(rec.key!)!);
      }
      expect(copies.size).toBe(ROWS);
      expect([...copies.values()].every((n) => n === CODECS.length)).toBe(true);
      // Each topic holds batches in its codec; librdkafka sends a batch uncompressed when
      // compressing would not make it smaller (a lone small message), so "none" may appear too.
      const onDisk = codecsOnDisk(
        CODECS.map((c) => `${prefix}-${c}`),
        0,
      );
      CODECS.forEach((c, i) => {
        expect(onDisk[i]).toContain(c);
        expect(onDisk[i]!.filter((x) => x !== c && x !== "none")).toEqual([]);
      });
    },
    300_000,
  );
}

kafka4Test(
  "-X partitioner=murmur2_random puts every key on the partition Kafka's Java producer (ConsoleProducer) picks for it",
  async () => {
    const ours = uniqueName("k4-murmur-ingest");
    const java = uniqueName("k4-murmur-java");
    await createTopic(ours, 7);
    await createTopic(java, 7);
    const r = await runIngest(["produce", "--file", csv, "--topic", ours, "-X", "partitioner=murmur2_random", "-b", k.bootstrap, "--no-progress"]);
    expect(r.code).toBe(0);
    const keys = [...expectedRows().keys()];
    const jp = k.tool(
      "console-producer",
      ["--bootstrap-server", k.bootstrap, "--topic", java, "--reader-property", "parse.key=true", "--reader-property", "key.separator=\t"],
      {
        stdin: keys.map((key) => `${key}\tv${key}`).join("\n") + "\n",
      },
    );
    expect(jp.code).toBe(0);
    const a = await kcatPartitions(ours);
    const b = await kcatPartitions(java);
    expect(a.size).toBe(keys.length);
    expect(b.size).toBe(keys.length);
    const differ = keys.filter((key) => a.get(key) !== b.get(key));
    expect(differ).toEqual([]);
    // And the default (CRC-32) differs from Java's for most keys: the test can tell them apart.
    const crcSame = keys.filter((key) => Bun.hash.crc32(key) % 7 === b.get(key)).length;
    expect(crcSame).toBeLessThan(keys.length / 2);
  },
  180_000,
);

kafka4Test(
  "--acks all negotiates an idempotent producer with the broker (TransactionsCommand lists its producer id); --acks 1 does not",
  async () => {
    for (const [acks, idempotent] of [
      ["all", true],
      ["1", false],
    ] as const) {
      const topic = uniqueName(`k4-idem-${acks}`);
      await createTopic(topic, 1);
      const r = await runIngest(["produce", "--file", csv, "--topic", topic, "--acks", acks, "-b", k.bootstrap, "--no-progress", "--workers", "1"]);
      expect(r.code).toBe(0);
      const d = k.tool("transactions", ["--bootstrap-server", k.bootstrap, "describe-producers", "--topic", topic, "--partition", "0"]);
      expect(d.code).toBe(0);
      // Header "ProducerId ProducerEpoch LatestCoordinatorEpoch LastSequence ...", then one row per producer.
      const rows = d.stdout.split("\n").filter((l) => /^\s*\d+\s+\d+/.test(l));
      if (idempotent) {
        expect(rows.length).toBe(1);
        const lastSeq = Number(rows[0]!.trim().split(/\s+/)[3]);
        expect(lastSeq).toBe(ROWS - 1); // sequence numbers ran over every row of the partition
      } else expect(rows.length).toBe(0);
    }
  },
  120_000,
);

kafka4Test(
  "serve --ack delivered: every 202 order is in the topic once, keyed by customer, at the partition and offset the answer gave",
  async () => {
    const orders = uniqueName("k4-orders");
    await createTopic(orders, 4);
    const srv = spawnIngest(["serve", "--port", "0", "--orders-topic", orders, "--ack", "delivered", "-b", k.bootstrap]);
    try {
      const reader = srv.stdout.getReader();
      let line = "";
      while (!line.includes("\n")) line += new TextDecoder().decode((await reader.read()).value);
      const base = /listening on (http:\/\/\S+)/.exec(line)![1]!;
      const answers: { order_id: string; partition: number; offset: number; customer: string }[] = [];
      for (let i = 0; i < 60; i++) {
        const customer = `c${i % 9}`;
        const res = await fetch(`${base}/order`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ customer_id: customer, product_id: "P0001", quantity: 1, amount: 9.5 }),
        });
        expect(res.status).toBe(202);
        answers.push({ ...(await res.json()), customer });
      }
      const batch = Array.from({ length: 40 }, (_, i) => ({ customer_id: `c${i % 5}`, product_id: "P0002", quantity: 2, amount: 1 }));
      const res = await fetch(`${base}/orders/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
      expect(res.status).toBe(202);
      const b = (await res.json()) as { orders: { order_id: string; partition: number; offset: number }[] };
      b.orders.forEach((o, i) => answers.push({ ...o, customer: batch[i]!.customer_id }));

      const got = await javaConsume(k, orders, answers.length + 1);
      expect(got.length).toBe(answers.length);
      const at = new Map(got.map((g) => [`${g.partition}/${g.offset}`, g]));
      for (const a of answers) {
        expect(a.partition).toBeGreaterThanOrEqual(0);
        const g = at.get(`${a.partition}/${a.offset}`)!;
        expect(g.key).toBe(a.customer);
        expect(JSON.parse(new TextDecoder().decode(g.value)).order_id).toBe(a.order_id);
      }
      expect(new Set(got.map((g) => JSON.parse(new TextDecoder().decode(g.value)).order_id)).size).toBe(answers.length);
      // Idempotent by default (acks=all), as produce is: a batch retried after a leader died
      // mid-request is not written twice. Each partition with orders has one producer, its
      // sequence numbers over every record there.
      for (let p = 0; p < 4; p++) {
        const n = got.filter((g) => g.partition === p).length;
        if (n === 0) continue;
        const d = k.tool("transactions", ["--bootstrap-server", k.bootstrap, "describe-producers", "--topic", orders, "--partition", String(p)]);
        const rows = d.stdout.split("\n").filter((l) => /^\s*\d+\s+\d+/.test(l));
        expect({ p, producers: rows.length, lastSeq: Number(rows[0]?.trim().split(/\s+/)[3]) }).toEqual({ p, producers: 1, lastSeq: n - 1 });
      }
    } finally {
      srv.kill("SIGTERM");
      await srv.exited;
    }
  },
  120_000,
);

// ---- consume: a group into MariaDB + Redis ---------------------------------------------------

interface Stores {
  db: TestDb;
  redis: TestRedis;
  env: Record<string, string>;
}
async function stores(): Promise<Stores> {
  const db = await createDb("k4");
  const redis = await claimRedisDb();
  return { db, redis, env: { MYSQL_URL: db.url, REDIS_URL: redis.url } };
}

const STOCK = 40;

kafka4Test(
  "consume: two members of one group (the second joins mid-run: a rebalance) write MariaDB and Redis exactly; ConsumerGroupCommand shows both members, then lag 0 and the same offsets as `ingest lag`; poison records reach <topic>.dlq with their source in headers",
  async () => {
    const s = await stores();
    const users = uniqueName("users-k4");
    const orders = uniqueName("orders-k4");
    const group = uniqueName("k4-g");
    await createTopic(users, 6);
    await createTopic(orders, 6);
    const ds = makeDataset({ users: 3000, orders: 4000, poisonEvery: 500, seed: 3 });
    const args = [
      "consume",
      "--group",
      group,
      "--topics",
      `${users},${orders}`,
      "--sink",
      "mysql,redis",
      "--initial-stock",
      String(STOCK),
      "--workers",
      "4",
      "-b",
      k.bootstrap,
      ...GROUP,
    ];
    try {
      await produceLines(k.bootstrap, users, ds.usersLines.slice(0, 1500));
      await produceLines(k.bootstrap, orders, ds.ordersLines.slice(0, 2000));
      const a = spawnIngest(args, { env: s.env });
      // Wait until the first member writes, then start the second: the group rebalances.
      const t0 = Date.now();
      while (Date.now() - t0 < 60_000) {
        const [[r]] = (await s.db.conn.query("SELECT COUNT(*) AS n FROM users").catch(() => [[{ n: 0 }]])) as unknown as [{ n: number }[]];
        if (Number(r!.n) > 0) break;
        await Bun.sleep(200);
      }
      const b = spawnIngest(args, { env: s.env });
      let members: { consumerId: string; partitions: number }[] = [];
      for (let i = 0; i < 40 && members.filter((m) => m.partitions > 0).length < 2; i++) {
        await Bun.sleep(500);
        members = javaGroupMembers(k, group);
      }
      expect(members.filter((m) => m.partitions > 0).length).toBe(2);
      expect(members.reduce((n, m) => n + m.partitions, 0)).toBe(12);
      await produceLines(k.bootstrap, users, ds.usersLines.slice(1500));
      await produceLines(k.bootstrap, orders, ds.ordersLines.slice(2000));
      const total = ds.usersLines.length + ds.ordersLines.length;
      for (let i = 0; i < 120; i++) {
        const lag = await groupLag(ingestArgv, k.bootstrap, group, [users, orders]);
        const high = lag.partitions.reduce((n, p) => n + p.high, 0);
        if (high === total && lag.total_lag === 0) break;
        await Bun.sleep(500);
      }
      for (const p of [a, b]) p.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      expect(await b.exited).toBe(0);

      const check = await checkStores(s.db.conn, ds, STOCK, s.redis.client);
      expect(check).toMatchObject({ lostUsers: 0, lostOrders: 0, duplicated: 0, stockBad: 0, redisMismatch: 0 });
      expect(check.accepted + check.rejected).toBe(ds.orderIds.length);
      expect(check.rejected).toBeGreaterThan(0); // stock 40 on 200 products runs out

      const java = javaDescribeGroup(k, group);
      const ours = await groupLag(ingestArgv, k.bootstrap, group, [users, orders]);
      expect(java.length).toBe(12);
      for (const row of java) {
        const o = ours.partitions.find((p) => p.topic === row.topic && p.partition === row.partition)!;
        expect([row.current, row.logEnd, row.lag]).toEqual([o.committed, o.high, 0]);
      }

      // Poison records: in the DLQ with the source in headers, read by Kafka's console consumer.
      const dlq = [...(await javaConsume(k, `${users}.dlq`, 100)), ...(await javaConsume(k, `${orders}.dlq`, 100))];
      expect(new Set(dlq.map((d) => d.key))).toEqual(ds.poisonKeys);
      for (const d of dlq) {
        expect(d.headers["ingest.source.topic"]).toBe(d.key!.startsWith("poison-u") ? users : orders);
        expect(Number(d.headers["ingest.source.offset"])).toBeGreaterThanOrEqual(0);
        expect(d.headers["ingest.error"]!.length).toBeGreaterThan(0);
      }
    } finally {
      await s.redis.drop();
      await s.db.drop();
    }
  },
  300_000,
);

kafka4Test(
  "consume: SIGKILLed mid-write and restarted, the stores end exact (nothing lost, nothing twice) and the committed offsets never pass what is stored",
  async () => {
    const s = await stores();
    const users = uniqueName("users-k4k");
    const orders = uniqueName("orders-k4k");
    const group = uniqueName("k4-kg");
    await createTopic(users, 4);
    await createTopic(orders, 4);
    // Enough that three short runs cannot write it all (each must be killed mid-write): 14k rows
    // were all written before the second kill once the sinks wrote by LOAD DATA.
    const ds = makeDataset({ users: 30_000, orders: 50_000, seed: 5 });
    const args = [
      "consume",
      "--group",
      group,
      "--topics",
      `${users},${orders}`,
      "--sink",
      "mysql,redis",
      "--initial-stock",
      String(STOCK),
      "--batch-size",
      "300",
      // Small transactions, so each run's kill lands between many of them (merged, the queued
      // orders of a run could go in as one).
      "--max-write-records",
      "300",
      "--commit-interval-ms",
      "100",
      "-b",
      k.bootstrap,
      ...GROUP,
    ];
    try {
      await produceLines(k.bootstrap, users, ds.usersLines);
      await produceLines(k.bootstrap, orders, ds.ordersLines);
      const positions = await recordPositions(k.bootstrap, [users, orders]);
      const orderIds = await orderIdPositions(k.bootstrap, orders);
      const kinds = new Map<string, "users" | "orders">([
        [users, "users"],
        [orders, "orders"],
      ]);
      let kills = 0;
      for (let round = 0; round < 3; round++) {
        const c = spawnIngest(args, { env: s.env });
        const t0 = Date.now();
        let rows = 0;
        const before = await countRows(s.db);
        while (Date.now() - t0 < 60_000 && (rows = await countRows(s.db)) <= before) await Bun.sleep(20);
        // A random moment into the writes, with at least one commit made in this run.
        const committed0 = committedSum(await groupLag(ingestArgv, k.bootstrap, group, [users, orders]));
        while (Date.now() - t0 < 60_000 && committedSum(await groupLag(ingestArgv, k.bootstrap, group, [users, orders])) <= committed0) await Bun.sleep(50);
        await Bun.sleep(Math.random() * 300);
        c.kill("SIGKILL");
        await c.exited;
        kills++;
        // Every record below a committed offset must be stored.
        const lag = await groupLag(ingestArgv, k.bootstrap, group, [users, orders]);
        expect(lag.partitions.some((p) => (p.committed ?? 0) > 0)).toBe(true);
        expect(await committedAheadOfStored(lag, positions, orderIds, s.db.conn, kinds)).toBe(0);
        expect(rows).toBeGreaterThan(before);
      }
      expect(kills).toBe(3);
      const last = await runIngest([...args, "--idle-exit-ms", "4000"], { env: s.env, timeoutMs: 120_000 });
      expect(last.code).toBe(0);
      const check = await checkStores(s.db.conn, ds, STOCK, s.redis.client);
      expect(check).toMatchObject({ lostUsers: 0, lostOrders: 0, duplicated: 0, stockBad: 0, redisMismatch: 0 });
      expect((await groupLag(ingestArgv, k.bootstrap, group, [users, orders])).total_lag).toBe(0);
    } finally {
      await s.redis.drop();
      await s.db.drop();
    }
  },
  300_000,
);

const committedSum = (lag: { partitions: { committed: number | null }[] }) => lag.partitions.reduce((n, p) => n + (p.committed ?? 0), 0);

async function countRows(db: TestDb): Promise<number> {
  try {
    const [[r]] = (await db.conn.query("SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM orders) AS n")) as unknown as [{ n: number }[]];
    return Number(r!.n);
  } catch {
    return 0;
  }
}

kafka4Test(
  "a broker that does not create topics on first use: consume creates <topic>.dlq at start and poison records reach it; a refused produce with headers throws instead of crashing (librdkafka 2.0.2 frees VTYPE_HEADER lists twice)",
  async () => {
    const strict = await startKafka4({ nodes: 1, brokerProps: { "auto.create.topics.enable": "false" } });
    try {
      const users = uniqueName("users-k4strict");
      expect((await runIngest(["topic", "create", users, "--partitions", "2", "-b", strict.bootstrap])).code).toBe(0);
      await produceLines(strict.bootstrap, users, ['poison-1:{"id":"not a number"', "poison-2:not json"]);
      const r = await runIngest(
        ["consume", "--group", uniqueName("g"), "--topics", users, "--sink", "none", "--idle-exit-ms", "3000", "-b", strict.bootstrap, ...GROUP],
        { timeoutMs: 90_000 },
      );
      expect(r.stderr).toContain("poison 2 (dlq 2)");
      expect(r.code).toBe(0);
      const p = Bun.spawn(["kcat", "-C", "-b", strict.bootstrap, "-t", `${users}.dlq`, "-e", "-q", "-f", "%k\n"], { stdout: "pipe" });
      expect((await new Response(p.stdout).text()).split("\n").filter(Boolean).sort()).toEqual(["poison-1", "poison-2"]);

      // The crash itself, in process: the second refused produce (the topic is now known missing).
      const producer = new Producer({ "bootstrap.servers": strict.bootstrap, "topic.metadata.propagation.max.ms": "500", log_level: "3" });
      const refused: string[] = [];
      for (let i = 0; i < 3; i++) {
        try {
          producer.produce("no-such-topic", "k", "v", { headers: { a: "b", c: "d" } });
          await producer.flush(5000);
        } catch (e) {
          refused.push((e as Error).message);
        }
      }
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.at(-1)).toContain("_UNKNOWN_TOPIC");
      await producer.close();
    } finally {
      await strict.stop();
    }
  },
  180_000,
);
