import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { dlopen, FFIType } from "bun:ffi";
import { readdirSync, readlinkSync } from "node:fs";
import { Producer, MessageBatch, Consumer, Admin, KafkaError, librdkafkaVersion } from "../../src/kafka/index.ts";
import { UsageError } from "../../src/core/errors.ts";
import { startBroker, uniqueName, type TestBroker } from "../helpers/broker.ts";
import { produceAll, consumeN, consumeFromAll, awaitSplit } from "../helpers/kafka-io.ts";
import { nativeBatch } from "../../src/kafka/native/batch.ts";

let broker: TestBroker;
beforeAll(() => {
  broker = startBroker({ brokers: 3 });
});
afterAll(() => broker.stop());

const quiet = { log_level: "3" };
/**
 * The embedded broker holds a group rejoin (after a member left) for the members' rebalance
 * timeout, i.e. max.poll.interval.ms (300 s by default): keep it short in tests.
 */
const fastGroup = { "session.timeout.ms": "6000", "max.poll.interval.ms": "7000" };

function messages(n: number, prefix = "k") {
  return Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i % 97}`, value: JSON.stringify({ i, s: "é✓".repeat(i % 5), pad: "x".repeat(i % 200) }) }));
}

test("librdkafka is loaded and reports its version", () => {
  expect(librdkafkaVersion()).toMatch(/^\d+\.\d+\.\d+/);
});

describe("round trip through the embedded broker, per compression codec", () => {
  for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"]) {
    test(codec, async () => {
      const topic = uniqueName(`rt-${codec}`);
      broker.createTopic(topic, 4);
      const msgs = messages(3000);
      const { sent, producer } = await produceAll(
        { "bootstrap.servers": broker.bootstrap, "compression.type": codec, "linger.ms": "2", ...quiet },
        topic,
        msgs,
      );
      expect(producer.delivered).toBe(msgs.length);
      expect(producer.failed).toBe(0);
      await producer.close();
      expect(broker.retained(topic)).toBe(msgs.length);

      const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), ...quiet });
      c.assign([0, 1, 2, 3].map((p) => ({ topic, partition: p, offset: -2 })));
      const got = await consumeN(c, msgs.length);
      c.close();
      expect(got.length).toBe(msgs.length);

      // Every message arrives once, with its key, value, and the partition/offset its report gave.
      const byPos = new Map(sent.map((s) => [`${s.partition}/${s.offset}`, s]));
      for (const r of got) {
        const s = byPos.get(`${r.partition}/${r.offset}`);
        expect(s).toBeDefined();
        expect(r.key).toBe(s!.key);
        expect(r.value).toBe(s!.value);
        byPos.delete(`${r.partition}/${r.offset}`);
      }
      expect(byPos.size).toBe(0);
      // Keyed partitioning: one key, one partition; offsets per partition are 0..n-1 in order.
      const partOfKey = new Map<string, number>();
      for (const r of got) {
        expect(partOfKey.get(r.key!) ?? r.partition).toBe(r.partition);
        partOfKey.set(r.key!, r.partition);
      }
      for (let p = 0; p < 4; p++) {
        const offs = got.filter((r) => r.partition === p).map((r) => r.offset);
        expect(offs).toEqual(offs.map((_, i) => i));
      }
    });
  }
});

test("null keys and null values survive the round trip", async () => {
  const topic = uniqueName("nulls");
  broker.createTopic(topic, 1);
  const p = new Producer({ "bootstrap.servers": broker.bootstrap, ...quiet });
  const b = new MessageBatch(10, 1024);
  b.add(null, new TextEncoder().encode("v-no-key"));
  b.add(new TextEncoder().encode("k-no-value"), null);
  expect(p.produceBatch(topic, b)).toBe(2);
  expect(await p.flush(10_000)).toBe(true);
  await p.close();
  const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), ...quiet });
  c.assign([{ topic, partition: 0, offset: -2 }]);
  const got = await consumeN(c, 2);
  c.close();
  expect(got.map((r) => [r.key, r.value])).toEqual([
    [null, "v-no-key"],
    ["k-no-value", null],
  ]);
});

test("delivery reports read by batch.c (ingest_dr) and by the JS loop (INGEST_NATIVE_BATCH=0) both give each message's partition and offset", async () => {
  for (const native of [true, false]) {
    const topic = uniqueName(native ? "dr-c" : "dr-js");
    broker.createTopic(topic, 4);
    const msgs = messages(2500, native ? "c" : "j");
    const before = process.env.INGEST_NATIVE_BATCH;
    if (!native) process.env.INGEST_NATIVE_BATCH = "0";
    let sent: Awaited<ReturnType<typeof produceAll>>["sent"];
    try {
      const r = await produceAll({ "bootstrap.servers": broker.bootstrap, "linger.ms": "2", ...quiet }, topic, msgs);
      sent = r.sent;
      expect({ native, delivered: r.producer.delivered, failed: r.producer.failed }).toEqual({ native, delivered: msgs.length, failed: 0 });
      await r.producer.close();
    } finally {
      if (before === undefined) delete process.env.INGEST_NATIVE_BATCH;
      else process.env.INGEST_NATIVE_BATCH = before;
    }
    const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), ...quiet });
    c.assign([0, 1, 2, 3].map((p) => ({ topic, partition: p, offset: -2 })));
    const got = await consumeN(c, msgs.length);
    c.close();
    const at = new Map(got.map((r) => [`${r.partition}/${r.offset}`, r.value]));
    // Each report names the partition and offset where that very message is.
    expect(sent.filter((s) => at.get(`${s.partition}/${s.offset}`) !== s.value).length).toBe(0);
    expect(at.size).toBe(msgs.length);
  }
}, 60_000);

describe("the consumer's batch copy: batch.c (TinyCC) and the JS loop give the same batches", () => {
  test("TinyCC compiles batch.c here (else every consume silently takes the slower JS loop)", () => {
    expect(nativeBatch()).not.toBeNull();
  });

  for (const json of [false, true]) {
    test(`keys, values, nulls, empties, unicode, 3 partitions${json ? ", values as one JSON array" : ""}`, async () => {
      const topic = uniqueName("copy");
      broker.createTopic(topic, 3);
      const enc = new TextEncoder();
      const p = new Producer({ "bootstrap.servers": broker.bootstrap, ...quiet });
      const b = new MessageBatch(5000, 1 << 20);
      const want: [string | null, string | null][] = [];
      for (let i = 0; i < 3000; i++) {
        const key = i % 11 === 0 ? null : i % 13 === 0 ? "" : `k${i % 50}-é`;
        const value = i % 17 === 0 ? null : i % 19 === 0 ? "" : JSON.stringify({ i, s: "✓".repeat(i % 7), pad: "x".repeat(i % 300) });
        want.push([key, value]);
        b.add(key === null ? null : enc.encode(key), value === null ? null : enc.encode(value), i % 3);
      }
      expect(p.produceBatch(topic, b)).toBe(3000);
      expect(await p.flush(10_000)).toBe(true);
      await p.close();
      const read = async (copy: "native" | "js") => {
        const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), ...quiet }, { copy });
        c.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: -2 })));
        const dec = new TextDecoder();
        const rows: [string, number, number, string | null, string | null][] = [];
        const arrays: unknown[] = [];
        const deadline = Date.now() + 20_000;
        while (rows.length < 3000 && Date.now() < deadline) {
          const x = c.consume(700, json);
          for (let i = 0; i < x.count; i++) {
            rows.push([
              x.topic[i]!,
              x.partition[i]!,
              x.offset[i]!,
              x.keyLen[i]! < 0 ? null : dec.decode(x.data.subarray(x.keyStart[i]!, x.keyStart[i]! + x.keyLen[i]!)),
              x.valLen[i]! < 0 ? null : dec.decode(x.data.subarray(x.valStart[i]!, x.valStart[i]! + x.valLen[i]!)),
            ]);
          }
          if (json && x.count > 0) {
            // The batch's values as one JSON array text: in order, null as null, empty as nothing.
            const vals = rows.slice(rows.length - x.count).map((r) => (r[4] === null ? "null" : r[4]));
            arrays.push([dec.decode(x.data.subarray(0, x.jsonArrayEnd)), `[${vals.join(",")}]`]);
          }
          // Read, so its buffer may hold the next batch (stale bytes must never show through).
          c.recycle(x.data);
          if (x.count === 0) await Bun.sleep(5);
        }
        c.close();
        return { rows: rows.sort((a, z) => a[1] - z[1] || a[2] - z[2]), arrays };
      };
      const native = await read("native");
      const js = await read("js");
      expect(native.rows.length).toBe(3000);
      expect(native.rows).toEqual(js.rows);
      expect(native.rows.every((r) => r[0] === topic)).toBe(true);
      const byPartition = [0, 1, 2].map((q) => want.filter((_, i) => i % 3 === q));
      expect(native.rows.map((r) => [r[3], r[4]])).toEqual(byPartition.flat());
      if (json) {
        expect(native.arrays.length).toBeGreaterThan(0);
        for (const [got, expected] of [...native.arrays, ...js.arrays] as [string, string][]) expect(got).toBe(expected);
      }
    });
  }
});

test("two consumers in one group split the partitions and see every message exactly once", async () => {
  const topic = uniqueName("group");
  broker.createTopic(topic, 6);
  const msgs = messages(4000);
  const group = uniqueName("g");
  const mk = () => new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest", ...fastGroup, ...quiet });
  const a = mk();
  const b = mk();
  a.subscribe([topic]);
  b.subscribe([topic]);
  // Nothing here commits: a rebalance after reading would rightly deliver records again.
  await awaitSplit([a, b], 6);
  const { producer } = await produceAll({ "bootstrap.servers": broker.bootstrap, "compression.type": "lz4", ...quiet }, topic, msgs);
  await producer.close();
  const [ga, gb] = await consumeFromAll([a, b], msgs.length, 40_000);
  const pa = new Set(ga!.map((r) => r.partition));
  const pb = new Set(gb!.map((r) => r.partition));
  a.close();
  b.close();
  expect(ga!.length + gb!.length).toBe(msgs.length);
  // Both took part; no partition was read by both.
  expect(ga!.length).toBeGreaterThan(0);
  expect(gb!.length).toBeGreaterThan(0);
  for (const p of pa) expect(pb.has(p)).toBe(false);
  const seen = new Set([...ga!, ...gb!].map((r) => `${r.partition}/${r.offset}`));
  expect(seen.size).toBe(msgs.length);
}, 60_000);

test("commit, close, restart: the group resumes after the committed offset", async () => {
  const topic = uniqueName("resume");
  broker.createTopic(topic, 1);
  const msgs = messages(100);
  const { producer } = await produceAll({ "bootstrap.servers": broker.bootstrap, ...quiet }, topic, msgs);
  await producer.close();
  const group = uniqueName("g");
  const props = { "bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest", ...fastGroup, ...quiet };
  const c1 = new Consumer(props);
  c1.subscribe([topic]);
  const first = await consumeN(c1, 40);
  expect(first.length).toBeGreaterThanOrEqual(40);
  const last = first[39]!;
  c1.commit([{ topic, partition: 0, offset: last.offset + 1 }]);
  expect(c1.committed([{ topic, partition: 0 }])[0]!.offset).toBe(last.offset + 1);
  c1.close();

  const c2 = new Consumer(props);
  c2.subscribe([topic]);
  const rest = await consumeN(c2, 60);
  c2.close();
  expect(rest[0]!.offset).toBe(40);
  expect(rest.map((r) => r.value)).toEqual(msgs.slice(40).map((m) => m.value));
}, 30_000);

test("an unknown librdkafka property is a usage error naming it", () => {
  expect(() => new Producer({ "bootstrap.servers": broker.bootstrap, "no.such.property": "1" })).toThrow(UsageError);
  expect(() => new Producer({ "bootstrap.servers": broker.bootstrap, "no.such.property": "1" })).toThrow(/no\.such\.property/);
  expect(() => new Producer({ "bootstrap.servers": broker.bootstrap, "compression.type": "brotli" })).toThrow(/compression\.type/);
});

test("an unknown topic is a clear error, found without auto-creating it", () => {
  const admin = new Admin({ "bootstrap.servers": broker.bootstrap, ...quiet });
  const name = uniqueName("missing");
  try {
    expect(() => admin.requireTopic(name, 5000)).toThrow(new RegExp(`topic '${name}' does not exist.*ingest topic create`));
    // Asking did not create it (the embedded broker auto-creates on per-topic metadata requests).
    expect(admin.topicExists(name, 5000)).toBeUndefined();
    broker.createTopic(name, 2);
    expect(admin.requireTopic(name, 5000).partitions.length).toBe(2);
  } finally {
    admin.close();
  }
});

// failuresOnly: librdkafka reports failed messages only; the counts must come out the same.
for (const failuresOnly of [false, true]) {
  const mode = failuresOnly ? " (reports of failures only)" : "";
  test(`with every broker down, delivery fails after message.timeout.ms and the error is reported${mode}`, async () => {
    const local = startBroker({ brokers: 1, topics: { down: 1 } });
    try {
      const p = new Producer({ "bootstrap.servers": local.bootstrap, "message.timeout.ms": "1500", ...quiet }, { failuresOnly });
      // Warm up metadata so the failure below is the broker's, not a missing topic.
      const b = new MessageBatch(100, 1 << 14);
      b.add(null, new TextEncoder().encode("warm"));
      p.produceBatch("down", b);
      expect(await p.flush(10_000)).toBe(true);
      expect(p.delivered).toBe(1);
      local.cluster.setBrokerDown(1);
      b.reset();
      for (let i = 0; i < 50; i++) b.add(null, new TextEncoder().encode(`m${i}`));
      expect(p.produceBatch("down", b)).toBe(50);
      expect(await p.flush(15_000)).toBe(true);
      expect(p.delivered).toBe(1);
      expect(p.failed).toBe(50);
      expect(p.failures._MSG_TIMED_OUT).toBe(50);
      expect(p.firstFailure).toMatch(/timed out/i);
      await p.close();
    } finally {
      local.stop();
    }
  }, 30_000);

  test(`QUEUE_FULL is absorbed by polling and retrying, never by dropping${mode}`, async () => {
    const topic = uniqueName("qfull");
    broker.createTopic(topic, 2);
    const p = new Producer({ "bootstrap.servers": broker.bootstrap, "queue.buffering.max.messages": "100", "linger.ms": "1", ...quiet }, { failuresOnly });
    const b = new MessageBatch(5000, 1 << 16);
    for (let i = 0; i < 5000; i++) b.add(null, new TextEncoder().encode(`m${i}`));
    expect(p.produceBatch(topic, b)).toBe(5000);
    expect(p.flushSync(20_000)).toBe(true);
    expect(p.inFlight).toBe(0);
    expect(p.delivered).toBe(5000);
    expect(p.failed).toBe(0);
    await p.close();
    expect(broker.retained(topic)).toBe(5000);
  });
}

describe("batches ordered by partition before the send (partitionBatches, batch.c ingest_partition)", () => {
  const enc = new TextEncoder();
  interface Msg {
    key: string | null;
    value: string;
    partition?: number;
  }
  /** Send msgs (opaque i + 1) in batches; each message's report, and the batches' opaques in the order they were sent. */
  async function send(topic: string, props: Record<string, string>, partitionBatches: boolean, msgs: Msg[]) {
    const reports = new Map<number, { err: number; partition: number; offset: number }>();
    const p = new Producer(
      { "bootstrap.servers": broker.bootstrap, "linger.ms": "2", ...quiet, ...props },
      { partitionBatches, onDelivery: (opaque, err, partition, offset) => reports.set(opaque, { err, partition, offset }) },
    );
    const b = new MessageBatch(1000, 1 << 16);
    const sentOrder: number[][] = [];
    for (let i = 0; i < msgs.length; ) {
      b.reset();
      for (; i < msgs.length && !b.full; i++)
        b.add(msgs[i]!.key === null ? null : enc.encode(msgs[i]!.key!), enc.encode(msgs[i]!.value), msgs[i]!.partition ?? -1, i + 1);
      expect(p.produceBatch(topic, b)).toBe(b.count);
      sentOrder.push(Array.from({ length: b.count }, (_, k) => b.opaqueAt(k)));
      p.poll(0);
    }
    expect(await p.flush(30_000)).toBe(true);
    await p.close();
    return { reports: msgs.map((_, i) => reports.get(i + 1)!), sentOrder };
  }

  const n = 7;
  // Keyed messages, every 101st placed on a partition by the caller; in the last case every
  // 50th has no key (librdkafka places it at the send), so those batches must keep their order.
  const msgs = (withNullKeys: boolean): Msg[] =>
    Array.from({ length: 4000 }, (_, i) => ({
      key: withNullKeys && i % 50 === 0 ? null : `user-${(i * 7919) % 613}`,
      value: `v${i}`,
      partition: i % 101 === 0 ? i % n : undefined,
    }));
  const cases: [string, Record<string, string>, boolean][] = [
    ["consistent_random (the default)", {}, false],
    ["murmur2_random", { partitioner: "murmur2_random" }, false],
    ["fnv1a", { partitioner: "fnv1a" }, false],
    ["consistent_random, QUEUE_FULL retries", { "queue.buffering.max.messages": "300" }, false],
    ["messages without a key among them: batches keep their order", {}, true],
  ];
  for (const [name, props, withNullKeys] of cases) {
    test(name, async () => {
      const m = msgs(withNullKeys);
      const a = uniqueName("ordered");
      const b = uniqueName("plain");
      broker.createTopic(a, n);
      broker.createTopic(b, n);
      const ordered = await send(a, props, true, m);
      const plain = await send(b, props, false, m);
      expect(ordered.reports.filter((r) => r?.err !== 0).length).toBe(0);
      expect(plain.reports.filter((r) => r?.err !== 0).length).toBe(0);
      // Keyed: the partition librdkafka's own partitioning gives; placed: the caller's.
      const keyed = m.flatMap((x, i) => (x.key !== null && x.partition === undefined ? [i] : []));
      expect(keyed.filter((i) => ordered.reports[i]!.partition !== plain.reports[i]!.partition).length).toBe(0);
      expect(m.filter((x, i) => x.partition !== undefined && ordered.reports[i]!.partition !== x.partition).length).toBe(0);
      // An independent check of the default: CRC-32 of the key modulo the partition count.
      if (!props.partitioner) expect(keyed.filter((i) => ordered.reports[i]!.partition !== Bun.hash.crc32(m[i]!.key!) % n).length).toBe(0);
      // Each partition's messages were written in the order they were given.
      for (let p = 0; p < n; p++) {
        const inP = ordered.reports
          .map((r, i) => ({ ...r, i }))
          .filter((r) => r.partition === p)
          .sort((x, y) => x.offset - y.offset);
        expect(inP.length).toBeGreaterThan(0);
        expect(inP.every((r, k) => k === 0 || r.i > inP[k - 1]!.i)).toBe(true);
      }
      // And the batches went out ordered by partition (or, with keyless messages, as given).
      if (!props["queue.buffering.max.messages"]) {
        for (const order of ordered.sentOrder) {
          const parts = order.map((o) => ordered.reports[o - 1]!.partition);
          if (withNullKeys) expect(order.every((o, k) => k === 0 || o === order[k - 1]! + 1)).toBe(true);
          else expect(parts.every((x, k) => k === 0 || x >= parts[k - 1]!)).toBe(true);
        }
      }
    }, 60_000);
  }
});

test("failure-only reports cannot be combined with a per-message delivery callback, however asked for", () => {
  expect(() => new Producer({ "bootstrap.servers": broker.bootstrap }, { failuresOnly: true, onDelivery: () => {} })).toThrow(UsageError);
  expect(() => new Producer({ "bootstrap.servers": broker.bootstrap, "delivery.report.only.error": "TRUE" }, { onDelivery: () => {} })).toThrow(
    /delivery\.report\.only\.error/,
  );
});

test("produce() with headers, and admin metadata/watermarks", async () => {
  const topic = uniqueName("hdr");
  broker.createTopic(topic, 3);
  const p = new Producer({ "bootstrap.servers": broker.bootstrap, ...quiet });
  p.produce(topic, "key-1", "value-1", { headers: { error: "bad json", "source.offset": "42" } });
  expect(await p.flush(10_000)).toBe(true);
  expect(p.delivered).toBe(1);
  await p.close();
  const admin = new Admin({ "bootstrap.servers": broker.bootstrap, ...quiet });
  const md = admin.metadata(5000);
  admin.close();
  expect(md.brokers.length).toBe(3);
  const t = md.topics.find((x) => x.name === topic)!;
  expect(t.partitions.map((x) => x.id)).toEqual([0, 1, 2]);
  expect(broker.retained(topic)).toBe(1);
  // kcat reads the headers back.
  const out = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "%k|%s|%h\n"]).stdout.toString();
  expect(out.trim()).toBe("key-1|value-1|error=bad json,source.offset=42");
});

describe("interoperability with kcat (an independent Kafka client)", () => {
  test("kcat reads what the binding produced", async () => {
    const topic = uniqueName("to-kcat");
    broker.createTopic(topic, 3);
    const msgs = messages(500, "user-");
    const { producer } = await produceAll({ "bootstrap.servers": broker.bootstrap, "compression.type": "zstd", ...quiet }, topic, msgs);
    await producer.close();
    const r = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "%k\t%s\n"]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.toString().trim().split("\n").sort();
    expect(lines).toEqual(msgs.map((m) => `${m.key}\t${m.value}`).sort());
  });

  test("the binding reads what kcat produced", async () => {
    const topic = uniqueName("from-kcat");
    broker.createTopic(topic, 2);
    const input = Array.from({ length: 300 }, (_, i) => `key${i}:{"n":${i},"t":"ünïcödé"}`).join("\n") + "\n";
    const r = Bun.spawnSync(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-K:", "-z", "lz4"], { stdin: new TextEncoder().encode(input) });
    expect(r.exitCode).toBe(0);
    const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), ...quiet });
    c.assign([0, 1].map((p) => ({ topic, partition: p, offset: -2 })));
    const got = await consumeN(c, 300);
    c.close();
    expect(got.map((g) => `${g.key}:${g.value}`).sort()).toEqual(input.trim().split("\n").sort());
  });
});

/** This process's TCP sockets bound to one of `ports`, with their TCP_NODELAY (libc, Linux). */
function socketsOn(ports: number[]): { fd: number; noDelay: boolean }[] {
  const lib = dlopen("libc.so.6", {
    getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  });
  const l = lib.symbols;
  const out: { fd: number; noDelay: boolean }[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    let link = "";
    try {
      link = readlinkSync(`/proc/self/fd/${name}`);
    } catch {}
    if (!link.startsWith("socket:")) continue;
    const addr = new Uint8Array(128);
    const len = new Int32Array([128]);
    if (l.getsockname(Number(name), addr, len) !== 0 || !ports.includes((addr[2]! << 8) | addr[3]!)) continue;
    const v = new Int32Array(1);
    const vlen = new Int32Array([4]);
    expect(l.getsockopt(Number(name), 6, 1, v, vlen)).toBe(0); // IPPROTO_TCP, TCP_NODELAY
    out.push({ fd: Number(name), noDelay: v[0] !== 0 });
  }
  lib.close();
  return out;
}

test("the embedded broker's listeners and accepted connections have TCP_NODELAY (Nagle held replies ~40 ms)", async () => {
  const local = startBroker({ brokers: 2, topics: { nd: 2 } });
  try {
    const p = new Producer({ "bootstrap.servers": local.bootstrap, ...quiet });
    const b = new MessageBatch(4, 1 << 12);
    b.add(null, new TextEncoder().encode("x"), 0);
    b.add(null, new TextEncoder().encode("y"), 1);
    p.produceBatch("nd", b);
    expect(await p.flush(10_000)).toBe(true);
    const ports = local.bootstrap.split(",").map((x) => Number(x.slice(x.lastIndexOf(":") + 1)));
    const socks = socketsOn(ports);
    // Two listeners, and the connections the brokers accepted from this producer.
    expect(socks.length).toBeGreaterThanOrEqual(ports.length + 1);
    expect(socks.filter((x) => !x.noDelay)).toEqual([]);
    await p.close();
  } finally {
    local.stop();
  }
});

test("KafkaError carries the code name and librdkafka's text", () => {
  const e = new KafkaError(-192, "send");
  expect(e.codeName).toBe("_MSG_TIMED_OUT");
  expect(e.message).toMatch(/^send: .*timed out.*\(_MSG_TIMED_OUT\)$/i);
});
