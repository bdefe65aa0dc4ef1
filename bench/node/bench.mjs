/**
 * node-bench: the Node.js contender, @confluentinc/kafka-javascript (built from source by
 * bench/setup.sh) through its librdkafka-style (node-rdkafka compatible) API, the fastest
 * one it has: Producer.produce() in a tight loop and KafkaConsumer.consume(batchSize). Its
 * KafkaJS-compatible API (producer.send() of 10,000-message batches all in flight; consumer
 * eachBatch + commitOffsets) was tried and was slower: 200k users on 2026-11-22, 6.0 vs 3.5 CPU s
 * to produce and 5.4 vs 3.4 CPU s to consume (fresh broker each, one after the other).
 *
 *   node bench.mjs produce --brokers B --topic T --messages N --file F [--compression lz4]
 *     Loads the NDJSON file into memory first (as c-bench does), then produce()s every line keyed
 *     by its "id" field, delivery reports polled in the background, and waits for every
 *     report. The clock runs from the first produce() to the last report.
 *   node bench.mjs consume --brokers B --topic T --messages N --group G
 *     Subscribes in a consumer group (auto commit off), consume(10000)s N messages without
 *     decoding them, commits async after every batch and sync at the end. The clock runs from
 *     the first message to the last (as c-bench).
 *
 * Prints one JSON line: {"contender":"node","mode":...,"messages":...,"failed":...,"seconds":...}
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const Kafka = createRequire(import.meta.url)("@confluentinc/kafka-javascript");

const mode = process.argv[2];
function arg(name, def) {
  const i = process.argv.indexOf(name, 3);
  if (i > 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (def === undefined) {
    console.error(`missing ${name}`);
    process.exit(2);
  }
  return def;
}
const now = () => performance.now() / 1000;
const QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL;

/** The "id" value of a flat JSON line: bytes after "id": up to , or } (c-bench's scan). */
function keyOf(buf, start, end) {
  const i = buf.indexOf('"id":', start);
  if (i < 0 || i >= end) return null;
  let e = i + 5;
  while (e < end && buf[e] !== 0x2c && buf[e] !== 0x7d) e++;
  return buf.subarray(i + 5, e);
}

async function produce() {
  const brokers = arg("--brokers"),
    topic = arg("--topic"),
    file = arg("--file");
  const codec = arg("--compression", "lz4"),
    want = Number(arg("--messages", "0"));
  const data = readFileSync(file);
  // The same librdkafka settings as c-bench, so the comparison is of the binding.
  const p = new Kafka.Producer({
    "bootstrap.servers": brokers,
    "compression.type": codec,
    acks: "all",
    "linger.ms": 5,
    "batch.num.messages": 10000,
    "batch.size": 1000000,
    "queue.buffering.max.messages": 1000000,
    "queue.buffering.max.kbytes": 1048576,
    dr_cb: true, // reports without the payload copied back (dr_msg_cb would)
  });
  let delivered = 0,
    failed = 0,
    sent = 0;
  let onAllReported = null;
  p.on("delivery-report", (err) => {
    if (err) failed++;
    else delivered++;
    if (onAllReported && delivered + failed >= sent) onAllReported();
  });
  p.on("event.error", (e) => console.error("producer error:", e.message));
  await new Promise((resolve, reject) => p.connect({}, (err) => (err ? reject(err) : resolve())));
  // Reports are polled on librdkafka's background thread and handed to JS in batches: measured
  // faster than poll() every 10,000 messages + setPollInterval(1) (200k users, 2026-11-22).
  p.setPollInBackground(true);

  const t0 = now();
  let pos = 0;
  const end = data.length;
  while (pos < end) {
    // 10,000 lines per turn, then let the event loop run the delivery-report callbacks.
    for (let n = 0; n < 10000 && pos < end; ) {
      let nl = data.indexOf(10, pos);
      if (nl < 0) nl = end;
      if (nl > pos) {
        const value = data.subarray(pos, nl);
        const key = keyOf(data, pos, nl);
        for (;;) {
          try {
            p.produce(topic, null, value, key);
            sent++;
            break;
          } catch (e) {
            if (e.code !== QUEUE_FULL) {
              failed++;
              break;
            }
            await new Promise((r) => setTimeout(r, 1));
          }
        }
        n++;
      }
      pos = nl + 1;
    }
    await new Promise((r) => setImmediate(r));
  }
  if (delivered + failed < sent) {
    let timer;
    await new Promise((resolve) => {
      onAllReported = resolve;
      timer = setTimeout(resolve, 120_000); // never hang the bench: a missing report counts as failed
    });
    clearTimeout(timer);
  }
  const secs = now() - t0;
  failed += Math.max(sent - delivered - failed, 0);
  console.log(
    JSON.stringify({
      contender: "node",
      mode: "produce",
      messages: delivered,
      failed,
      seconds: Number(secs.toFixed(4)),
      msgs_per_s: Math.round(delivered / secs),
      expected: want,
    }),
  );
  await new Promise((r) => p.disconnect(5000, r));
  return failed ? 1 : 0;
}

async function consume() {
  const brokers = arg("--brokers"),
    topic = arg("--topic"),
    group = arg("--group", "node-bench");
  const want = Number(arg("--messages", "0"));
  const c = new Kafka.KafkaConsumer({
    "bootstrap.servers": brokers,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": false,
    "queued.min.messages": 1000000,
  });
  await new Promise((resolve, reject) => c.connect({}, (err) => (err ? reject(err) : resolve())));
  c.subscribe([topic]);
  // Wait 100 ms for the first message of a batch, then take whatever else is already fetched
  // (c-bench's rd_kafka_consume_batch_queue(q, 100, ..., 10000)).
  c.setDefaultConsumeTimeout(100);
  c.setDefaultIsTimeoutOnlyForFirstMessage(true);
  let got = 0,
    bytes = 0,
    t0 = 0;
  const deadline = now() + 120;
  while (got < want && now() < deadline) {
    const msgs = await new Promise((resolve, reject) => c.consume(10000, (err, m) => (err ? reject(err) : resolve(m))));
    if (msgs.length && !t0) t0 = now();
    for (const m of msgs) {
      got++;
      bytes += m.value ? m.value.length : 0;
    }
    if (msgs.length) c.commit();
  }
  const secs = now() - t0;
  try {
    c.commitSync(null);
  } catch (e) {
    // ERR__NO_OFFSET: the async commits already covered everything read.
    if (e.code !== Kafka.CODES.ERRORS.ERR__NO_OFFSET) console.error("final commit:", e.message);
  }
  console.log(
    JSON.stringify({
      contender: "node",
      mode: "consume",
      messages: got,
      failed: 0,
      seconds: Number(secs.toFixed(4)),
      msgs_per_s: Math.round(got / secs),
      bytes,
    }),
  );
  await new Promise((r) => c.disconnect(r));
  return got === want ? 0 : 1;
}

if (mode === "produce") process.exit(await produce());
else if (mode === "consume") process.exit(await consume());
else {
  console.error("usage: node bench.mjs produce|consume ...");
  process.exit(2);
}
