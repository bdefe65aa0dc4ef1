/**
 * What happens to a message librdkafka refuses to queue (QUEUE_FULL) and that is still refused
 * when the producer's wait runs out: it fails with a report, it is never dropped. A dropped one
 * has no report, so whoever waits for it (a serve request) waits forever.
 */
import { test, expect } from "bun:test";
import { Producer, MessageBatch, ERR } from "../../src/kafka/index.ts";
import { startBroker, uniqueName } from "../helpers/broker.ts";
import { spawnIngest } from "../helpers/cli.ts";

const enc = new TextEncoder();
/** Nothing listens there: every message stays queued, so the queue's limits are met at once. */
const NO_BROKER = { "bootstrap.servers": "127.0.0.1:1", log_level: "0" };

/** A producer whose every report is kept by opaque, and a batch of n ~200-byte messages (opaques 1..n). */
function setup(props: Record<string, string>, n: number) {
  const reports = new Map<number, number[]>();
  const producer = new Producer({ ...NO_BROKER, ...props }, { onDelivery: (opaque, err) => reports.set(opaque, [...(reports.get(opaque) ?? []), err]) });
  const batch = new MessageBatch(n, 1 << 16);
  for (let i = 1; i <= n; i++) batch.add(enc.encode(`k${i}`), enc.encode(`v${i}-`.padEnd(200, "x")), -1, i);
  return { reports, producer, batch };
}

for (const [limit, props] of [
  ["a byte limit (queue.buffering.max.kbytes=1)", { "queue.buffering.max.kbytes": "1" }],
  ["a message limit (queue.buffering.max.messages=5)", { "queue.buffering.max.messages": "5" }],
] as const) {
  for (const blockMs of [0, 300]) {
    test(`${limit}, wait ${blockMs} ms: every message still refused at the deadline is reported failed with QUEUE_FULL at once (breaks if dropped without a report)`, async () => {
      const n = 40;
      const { reports, producer, batch } = setup(props, n);
      try {
        const t0 = performance.now();
        const queued = producer.produceBatch(uniqueName("refused"), batch, 0, n, blockMs);
        const waited = performance.now() - t0;
        expect(queued).toBeGreaterThan(0);
        expect(queued).toBeLessThan(n);
        expect(waited).toBeGreaterThanOrEqual(blockMs);
        // Before produceBatch returns: one QUEUE_FULL report for each message it did not queue.
        expect(reports.size).toBe(n - queued);
        for (const errs of reports.values()) expect(errs).toEqual([ERR._QUEUE_FULL]);
        expect(producer.failed).toBe(n - queued);
        expect(producer.failures).toEqual({ _QUEUE_FULL: n - queued });
        // The queued ones are still in librdkafka, reported when they fail at close: each message exactly one report.
        expect(producer.inFlight).toBe(queued);
      } finally {
        await producer.close(100);
      }
      expect([...reports.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      for (const errs of reports.values()) expect(errs.length).toBe(1);
    });
  }
}

// Found by mutation testing (docs/testing.md): each pins a behaviour no other test did.
test("a refusal report says where nothing landed (partition -1, offset -1); the first failure is named; a producer without a callback counts them", async () => {
  const seen: number[][] = [];
  const p = new Producer(
    { ...NO_BROKER, "queue.buffering.max.messages": "5" },
    { onDelivery: (opaque, err, partition, offset) => seen.push([opaque, err, partition, offset]) },
  );
  const bare = new Producer({ ...NO_BROKER, "queue.buffering.max.messages": "5" });
  try {
    const b = new MessageBatch(10, 1 << 12);
    for (let i = 1; i <= 10; i++) b.add(null, enc.encode(`v${i}`), -1, i);
    expect(p.produceBatch(uniqueName("refused"), b, 0, 10, 0)).toBe(5);
    expect(seen).toEqual([6, 7, 8, 9, 10].map((o) => [o, ERR._QUEUE_FULL, -1, -1]));
    expect(p.firstFailure).toMatch(/queue/i);
    expect(bare.produceBatch(uniqueName("refused"), b, 0, 10, 0)).toBe(5);
    expect([bare.failed, bare.failures._QUEUE_FULL]).toEqual([5, 5]);
  } finally {
    await p.close(100);
    await bare.close(100);
  }
});

test("a range [from, to) of a batch sends exactly those messages", async () => {
  const { reports, producer, batch } = setup({}, 40);
  try {
    expect(producer.produceBatch(uniqueName("range"), batch, 10, 20, 0)).toBe(10);
  } finally {
    await producer.close(100); // nothing listens: every queued message is reported purged
  }
  expect([...reports.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => 11 + i));
});

test("a message refused for another reason than a full queue fails at once with that reason, not retried as QUEUE_FULL", async () => {
  const { reports, producer } = setup({ "message.max.bytes": "1000" }, 0);
  try {
    const b = new MessageBatch(3, 1 << 14);
    b.add(null, enc.encode("small"), -1, 1);
    b.add(null, new Uint8Array(5000), -1, 2);
    b.add(null, enc.encode("small too"), -1, 3);
    expect(producer.produceBatch(uniqueName("too-large"), b, 0, 3, 3000)).toBe(2);
    expect([...reports]).toEqual([[2, [ERR.MSG_SIZE_TOO_LARGE]]]);
    expect(producer.failures).toEqual({ MSG_SIZE_TOO_LARGE: 1 });
  } finally {
    await producer.close(100);
  }
});

test("serve with a byte-limited producer queue and the broker down: every request is answered, those refused at once with 503 (breaks if refused messages are dropped: the requests hang)", async () => {
  const local = startBroker({ brokers: 1, topics: { orders: 1 } });
  // --max-queued stays far above what 1 KiB holds, so librdkafka refuses first (serve sizes its own
  // message-count limit above --max-queued, so only a byte limit reaches this path).
  const p = spawnIngest([
    "serve",
    "--port",
    "0",
    "-b",
    local.bootstrap,
    "--max-queued",
    "1000",
    "-X",
    "queue.buffering.max.kbytes=1",
    "-X",
    "message.timeout.ms=3000",
  ]);
  try {
    const reader = p.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    const url = /listening on (\S+)/.exec(new TextDecoder().decode(value))![1]!;
    local.cluster.setBrokerDown(1); // nothing drains
    const order = { customer_id: "C1", product_id: "P0001", quantity: 1, amount: 9.99, currency: "EUR" };
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        fetch(`${url}/order`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...order, customer_id: `C${i}` }),
          signal: AbortSignal.timeout(20_000),
        })
          .then((r) => ({ status: r.status, retryAfter: r.headers.get("retry-after"), at: performance.now() - t0 }))
          .catch((e: Error) => ({ status: 0, retryAfter: null, at: performance.now() - t0, error: e.name })),
      ),
    );
    // None hangs: the refused ones get 503 at once, the queued ones 502 once message.timeout.ms passes.
    expect(answers.filter((a) => a.status === 0)).toEqual([]);
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    for (const a of refused) {
      expect(a.retryAfter).toBe("1");
      expect(a.at).toBeLessThan(2500); // before any message could time out
    }
    expect(answers.filter((a) => a.status !== 503).every((a) => a.status === 502)).toBe(true);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
    local.stop();
  }
}, 60_000);
