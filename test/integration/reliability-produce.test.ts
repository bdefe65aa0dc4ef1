/**
 * Producer faults: every row the summary reports delivered is in the topic, failures are
 * reported (never silent), and counts add up. Plus a CSV fuzz corpus through the worker job.
 */
import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { startBroker, uniqueName, type TestBroker } from "../helpers/broker.ts";
import { runIngest, spawnIngest } from "../helpers/cli.ts";
import { runJob } from "../../src/produce/worker.ts";
import { readHeader } from "../../src/csv/split.ts";
import { parseSchema } from "../../src/csv/schema-rows.ts";
import { COUNTER } from "../../src/produce/job.ts";
import { rng } from "../../src/gen/random.ts";
import { fuzzCsv, checkCsvRun } from "../helpers/csv-fuzz.ts";
import usersSchemaText from "../../data/users.avsc" with { type: "text" };

const dir = mkdtempSync(join(tmpdir(), "ingest-rel-"));
const csv = join(dir, "users.csv");
const ROWS = 100_000;
let broker: TestBroker;

beforeAll(async () => {
  broker = startBroker({ brokers: 3 });
  expect((await runIngest(["gen", "users", "--rows", String(ROWS), "--out", csv])).code).toBe(0);
});
afterAll(() => broker.stop());

function kcatKeys(topic: string): { total: number; unique: number } {
  const r = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "%k\n"]);
  const keys = r.stdout.toString().split("\n").filter(Boolean);
  return { total: keys.length, unique: new Set(keys).size };
}
function kcatCount(topic: string): number {
  const { total, unique } = kcatKeys(topic);
  expect(unique).toBe(total); // no key twice: nothing duplicated
  return total;
}

/**
 * Make the run last seconds, not the ~0.3 s 100k rows take here, so a fault lands mid-run:
 * small produce requests, each answered after `rttMs`. Returns the extra produce flags.
 */
function slowBrokers(b: TestBroker, brokers: number, rttMs: number): string[] {
  for (let id = 1; id <= brokers; id++) b.cluster.setBrokerRtt(id, rttMs);
  return ["-X", "batch.size=65536"];
}
function fastBrokers(b: TestBroker, brokers: number): void {
  for (let id = 1; id <= brokers; id++) b.cluster.setBrokerRtt(id, 0);
}
/** Wait until the topic holds something (the run is under way), at most 20 s. */
async function untilSomeDelivered(b: TestBroker, topic: string): Promise<void> {
  for (let i = 0; i < 400 && b.retained(topic) === 0; i++) await Bun.sleep(50);
}

describe("producer faults", () => {
  // "None twice" cannot be shown here: the producer is idempotent (enable.idempotence=true by
  // default), yet the embedded broker (librdkafka 2.0.2's mock) stores a batch written before it
  // went down and re-sent after (its ack was lost) twice: it does not deduplicate by producer
  // sequence as a real broker (>= 0.11) does, and Kafka 0.9 predates idempotence. Checked here:
  // every row is there; the extra copies are counted in the log.
  test("a broker down and up again mid-run: every row delivered (the mock broker keeps re-sent copies)", async () => {
    const topic = uniqueName("flap");
    broker.createTopic(topic, 6);
    const summary = join(dir, "flap.json");
    const slow = slowBrokers(broker, 3, 100);
    try {
      const p = spawnIngest(["produce", "--file", csv, "--topic", topic, "-b", broker.bootstrap, "--summary-json", summary, "-X", "linger.ms=20", ...slow]);
      await untilSomeDelivered(broker, topic);
      expect(broker.retained(topic)).toBeLessThan(ROWS); // mid-run
      broker.cluster.setBrokerDown(2);
      await Bun.sleep(1500);
      broker.cluster.setBrokerUp(2);
      expect(await p.exited).toBe(0);
    } finally {
      fastBrokers(broker, 3);
    }
    const s = JSON.parse(readFileSync(summary, "utf8"));
    expect(s).toMatchObject({ rows_accepted: ROWS, messages_delivered: ROWS, messages_failed: 0, ok: true });
    const { total, unique } = kcatKeys(topic);
    expect(unique).toBe(ROWS);
    expect(broker.retained(topic)).toBe(total);
    if (total > unique) console.log(`broker flap: ${total - unique} re-sent copies stored by the mock broker (no sequence check)`);
  }, 60_000);

  test("brokers gone past message.timeout.ms: failures are reported, exit 1, delivered rows are all there", async () => {
    const local = startBroker({ brokers: 1, topics: { t: 3 } });
    try {
      const summary = join(dir, "timeout.json");
      const slow = slowBrokers(local, 1, 100);
      const p = spawnIngest([
        "produce",
        "--file",
        csv,
        "--topic",
        "t",
        "-b",
        local.bootstrap,
        "--summary-json",
        summary,
        "-X",
        "message.timeout.ms=2000",
        "--workers",
        "1",
        ...slow,
      ]);
      await untilSomeDelivered(local, "t");
      local.cluster.setBrokerDown(1);
      expect(await p.exited).toBe(1);
      const s = JSON.parse(readFileSync(summary, "utf8"));
      expect(s.rows_accepted).toBe(ROWS);
      expect(s.messages_delivered + s.messages_failed).toBe(ROWS);
      expect(s.messages_failed).toBeGreaterThan(0);
      expect(Object.keys(s.failures).every((k) => k.startsWith("_"))).toBe(true);
      expect(s.ok).toBe(false);
      local.cluster.setBrokerUp(1);
      // Every delivered message is there; failed ones are there only if sent without an ack.
      const held = local.retained("t");
      expect(held).toBeGreaterThanOrEqual(s.messages_delivered);
      expect(held).toBeLessThanOrEqual(s.messages_delivered + s.messages_failed_possibly_written);
    } finally {
      local.stop();
    }
  }, 60_000);

  test("QUEUE_FULL under a tiny queue is absorbed: all delivered, none dropped", async () => {
    const topic = uniqueName("tinyq");
    broker.createTopic(topic, 3);
    const summary = join(dir, "tinyq.json");
    const r = await runIngest([
      "produce",
      "--file",
      csv,
      "--topic",
      topic,
      "-b",
      broker.bootstrap,
      "--summary-json",
      summary,
      "--limit",
      "20000",
      "-X",
      "queue.buffering.max.messages=50",
      "-X",
      "linger.ms=1",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(summary, "utf8"))).toMatchObject({ messages_delivered: 20000, messages_failed: 0 });
    expect(broker.retained(topic)).toBe(20000);
  }, 60_000);

  test("SIGTERM mid-run: exit 143, the summary is written, and what it reports delivered is exactly what the topic holds", async () => {
    const topic = uniqueName("term");
    broker.createTopic(topic, 6);
    const summary = join(dir, "term.json");
    const slow = slowBrokers(broker, 3, 100);
    try {
      const p = spawnIngest(["produce", "--file", csv, "--topic", topic, "-b", broker.bootstrap, "--summary-json", summary, "-X", "linger.ms=20", ...slow]);
      await untilSomeDelivered(broker, topic);
      p.kill("SIGTERM");
      expect(await p.exited).toBe(143);
    } finally {
      fastBrokers(broker, 3);
    }
    const s = JSON.parse(readFileSync(summary, "utf8"));
    expect(s.stopped_by_signal).toBe("SIGTERM");
    expect(s.ok).toBe(false);
    // In-flight messages were flushed: no failure, nothing left unreported.
    expect(s.messages_failed).toBe(0);
    expect(s.messages_delivered).toBeLessThanOrEqual(s.rows_accepted);
    expect(broker.retained(topic)).toBe(s.messages_delivered);
    expect(kcatCount(topic)).toBe(s.messages_delivered);
  }, 60_000);

  test("SIGKILL mid-run: what reached the topic is intact, with no key twice", async () => {
    const topic = uniqueName("kill");
    broker.createTopic(topic, 6);
    const slow = slowBrokers(broker, 3, 100);
    try {
      const p = spawnIngest(["produce", "--file", csv, "--topic", topic, "-b", broker.bootstrap, ...slow]);
      await untilSomeDelivered(broker, topic);
      p.kill("SIGKILL");
      await p.exited;
    } finally {
      fastBrokers(broker, 3);
    }
    const partial = kcatCount(topic);
    expect(partial).toBeLessThan(ROWS);
    expect(partial).toBe(broker.retained(topic));
  }, 60_000);
});

test("CSV fuzz: 1,000 damaged files never crash the job, and every row is accepted or rejected", () => {
  const schema = parseSchema(usersSchemaText, "users.avsc");
  const r = rng(1234);
  let rows = 0;
  let rejected = 0;
  let fatal = 0;
  for (let f = 0; f < 1000; f++) {
    const file = join(dir, `fuzz-${f}.csv`);
    const text = fuzzCsv(r);
    writeFileSync(file, text);
    const head = readHeader(file);
    let job;
    try {
      if (!head) throw new Error("empty");
      job = {
        index: 0,
        file,
        input: "csv" as const,
        range: { start: head.dataStart, end: Buffer.byteLength(text) + (text.startsWith("\uFEFF") ? 0 : 0), firstLine: head.dataFirstLine },
        header: head.fields,
        schema,
        key: "id",
        format: "json" as const,
        topic: "t",
        kafka: null,
        partitions: 0,
        valuePrefix: null,
        headers: {},
        txn: null,
        jsonPart: { path: join(dir, `fuzz-${f}.ndjson`), ndjson: true, prefix: null },
        avroPart: null,
        rejectsPart: join(dir, `fuzz-${f}.rej`),
        limit: Infinity,
        counters: new SharedArrayBuffer(8 * COUNTER.SIZE),
      };
      job.range.end = readFileSync(file).length;
    } catch {
      fatal++;
      continue;
    }
    let s;
    try {
      s = runJob(job);
    } catch (e) {
      // Only header-level problems may stop a file, with a clear message.
      expect((e as Error).message).toMatch(/header|schema|column/);
      fatal++;
      continue;
    }
    expect(s.rows).toBe(s.accepted + s.rejected);
    const written = existsSync(job.jsonPart.path)
      ? readFileSync(job.jsonPart.path, "utf8")
          .split(/\n(?=\{)/)
          .filter(Boolean).length
      : 0;
    expect(written).toBe(s.accepted);
    const rej = Papa.parse<string[]>(readFileSync(job.rejectsPart, "utf8"), { skipEmptyLines: true }).data;
    expect(rej.length).toBe(s.rejected);
    for (const row of rej) expect(Number(row[0])).toBeGreaterThanOrEqual(2);
    rows += s.rows;
    rejected += s.rejected;
  }
  // The corpus really exercised both paths.
  expect(rows).toBeGreaterThan(10_000);
  expect(rejected).toBeGreaterThan(1000);
  expect(fatal).toBeLessThan(200);
}, 120_000);

/**
 * The same corpus kind through the real CLI (a process per file, ~0.4 s each, so a subset here;
 * scripts/soak/csv-fuzz.ts runs 1,000+): without Kafka, and with Kafka into one topic that must
 * then hold exactly the sum of what the summaries report delivered.
 */
test("CSV fuzz through `ingest produce`: --no-kafka and with Kafka, counts add up (files, rejects, Avro, topic)", async () => {
  const r = rng(98765);
  const topic = uniqueName("csvfuzz");
  broker.createTopic(topic, 3);
  let delivered = 0;
  let rows = 0;
  let rejected = 0;
  for (let f = 0; f < 36; f++) {
    const kafka = f % 3 === 0;
    const text = fuzzCsv(r);
    const base = join(dir, `cli-${f}`);
    writeFileSync(`${base}.csv`, text);
    const o = { summary: `${base}.sum.json`, json: `${base}.ndjson`, avro: `${base}.avro`, rejects: `${base}.rej.csv` };
    const res = await runIngest([
      "produce",
      "--file",
      `${base}.csv`,
      "--summary-json",
      o.summary,
      "--json-out",
      o.json,
      "--avro-out",
      o.avro,
      "--avro-codec",
      "null",
      "--rejects",
      o.rejects,
      ...(kafka ? ["--topic", topic, "-b", broker.bootstrap] : ["--no-kafka"]),
    ]);
    const c = await checkCsvRun({ text, code: res.code, stderr: res.stderr, ...o, kafka });
    expect({ file: f, problems: c.problems }).toEqual({ file: f, problems: [] });
    delivered += c.delivered;
    rows += c.rows;
    rejected += c.rejected;
  }
  expect(rows).toBeGreaterThan(300);
  expect(rejected).toBeGreaterThan(10);
  expect(delivered).toBeGreaterThan(50);
  expect(broker.retained(topic)).toBe(delivered);
  const k = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "%k\n"]);
  expect(k.stdout.toString().split("\n").filter(Boolean).length).toBe(delivered);
}, 60_000);
