import { rmSync, mkdtempSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { readHeader, splitRanges } from "../csv/split.ts";
import { fileSize, type ByteRange } from "../csv/reader.ts";
import { RowConverter, type AvroRecordSchema } from "../csv/schema-rows.ts";
import { avroHeader, newSyncMarker, type AvroFileCodec } from "../codecs/avro-file.ts";
import type { Format } from "../codecs/index.ts";
import { Admin, THROUGHPUT_DEFAULTS, idempotentByDefault } from "../kafka/index.ts";
import { IngestError } from "../core/errors.ts";
import { log } from "../observability/log.ts";
import { Progress } from "../observability/progress.ts";
import { workerUrl } from "../core/workers.ts";
import { splitLines } from "./lines.ts";
import { output, PartJoiner, assemble, type Output } from "./join.ts";
import { COUNTER, type ProduceJob, type WorkerStats } from "./job.ts";

export interface ProduceOptions {
  file: string;
  input: "csv" | "ndjson";
  schema: AvroRecordSchema;
  topic: string;
  key: string | null;
  format: Format;
  kafka: Record<string, string> | null;
  jsonOut: string | null;
  avroOut: string | null;
  avroCodec: AvroFileCodec;
  rejects: string;
  workers: number;
  limit: number;
  progress: boolean;
  /** The registry's wire header for every value (Avro with --schema-registry), or null. */
  valuePrefix: Uint8Array | null;
  /** Headers every record carries. */
  headers: Record<string, string>;
  /** --transactional-id: worker i's producer is `${id}-${i}`; commitEvery 0 = one transaction per worker. */
  txn: { id: string; commitEvery: number } | null;
}

export interface ProduceSummary {
  file: string;
  topic: string | null;
  workers: number;
  rows_read: number;
  rows_accepted: number;
  rows_rejected: number;
  empty_lines_skipped: number;
  messages_delivered: number;
  messages_failed: number;
  /** Of the failed: sent without an ack (a timeout, a broker gone): the topic may hold them. */
  messages_failed_possibly_written: number;
  failures: Record<string, number>;
  first_failure?: string;
  value_bytes: number;
  wire_bytes?: number;
  json_records: number | null;
  avro_records: number | null;
  rejects_file: string | null;
  seconds: { total: number; setup: number; read_and_send: number; delivery_wait: number; files: number };
  messages_per_second: number;
  stopped_by_signal: string | null;
  /** With --transactional-id: what became of the transactions. */
  transactions?: {
    id: string;
    committed: number;
    outcome: "committed" | "aborted" | "partly committed";
    workers: { id: string; state: string; error?: string }[];
  };
  ok: boolean;
}

/**
 * The produce job: validate inputs (nothing is sent if the header, schema or topic is wrong),
 * split the CSV at record boundaries, run one worker per range (each with its own producer),
 * then assemble the JSON, Avro and rejects files from the workers' parts, in input order.
 */
export async function produce(o: ProduceOptions, stop: { signal: NodeJS.Signals | null; onStop?: () => void }): Promise<ProduceSummary> {
  const t0 = performance.now();
  fileSize(o.file); // a clear error when it cannot be read
  // The workers boot (runtime, modules, TinyCC, their producers) while this thread checks the
  // inputs and splits the file: ~40 ms + ~30 ms each that came after the split before.
  const planned = o.limit < Infinity ? 1 : Math.max(1, o.workers);
  const pool = Array.from({ length: planned }, (_, i) => new ProduceWorker(o.kafka ? workerKafkaConfig(o, i) : null, o.input === "csv", o.headers));
  try {
    return await checkSplitAndRun(o, stop, t0, pool);
  } finally {
    for (const w of pool) w.cancel();
  }
}

async function checkSplitAndRun(
  o: ProduceOptions,
  stop: { signal: NodeJS.Signals | null; onStop?: () => void },
  t0: number,
  pool: ProduceWorker[],
): Promise<ProduceSummary> {
  const head = o.input === "csv" ? readHeader(o.file) : { fields: [], dataStart: 0, dataFirstLine: 1 };
  if (!head) throw new IngestError(`${o.file} is empty: expected a header row`);
  if (o.input === "csv") {
    const conv = new RowConverter(o.schema, head.fields); // validates the header against the schema
    if (conv.ignoredColumns.length) log.warn({ columns: conv.ignoredColumns }, "CSV columns not in the schema are ignored");
  }
  if (o.input === "csv" && o.key !== null && !o.schema.fields.some((f) => f.name === o.key)) {
    throw new IngestError(`--key: '${o.key}' is not a field of schema ${o.schema.name} (fields: ${o.schema.fields.map((f) => f.name).join(", ")})`);
  }
  let partitions = 0;
  if (o.kafka) {
    const admin = new Admin(o.kafka);
    try {
      partitions = admin.requireTopic(o.topic, 10_000).partitions.length;
      if (o.txn && admin.isMockCluster()) {
        throw new IngestError(
          "--transactional-id: the embedded broker (librdkafka's mock cluster) answers transactional requests but has no transactions (no commit or abort markers: read_committed readers would see aborted rows); use a real Kafka 0.11+, e.g. bash scripts/kafka.sh start",
        );
      }
    } finally {
      admin.close();
    }
  }
  const tChecked = performance.now();
  const ranges = o.input === "csv" ? splitRanges(o.file, pool.length, head.dataStart, head.dataFirstLine) : splitLines(o.file, pool.length);
  log.debug({ checks_ms: Math.round(tChecked - t0), split_ms: Math.round(performance.now() - tChecked) }, "produce setup");
  let tmpDir: string | null = null;
  const tmp = () => (tmpDir ??= mkdtempSync(join(tmpdir(), "ingest-produce-")));
  try {
    const out = { json: o.jsonOut ? output(o.jsonOut, tmp) : null, avro: o.avroOut ? output(o.avroOut, tmp) : null, rejects: output(o.rejects, tmp) };
    return await runWorkers(o, stop, { t0, fields: head.fields, dataStart: head.dataStart, ranges, partitions }, out, pool);
  } finally {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** Run the workers over `ranges`, then assemble the outputs and sum up. */
async function runWorkers(
  o: ProduceOptions,
  stop: { signal: NodeJS.Signals | null; onStop?: () => void },
  { t0, fields, dataStart, ranges, partitions }: { t0: number; fields: string[]; dataStart: number; ranges: ByteRange[]; partitions: number },
  out: { json: Output | null; avro: Output | null; rejects: Output },
  pool: ProduceWorker[],
): Promise<ProduceSummary> {
  const sync = newSyncMarker();
  const ndjson = o.jsonOut !== null && /\.(ndjson|jsonl)$/i.test(o.jsonOut);
  const counters = ranges.map(() => new SharedArrayBuffer(8 * COUNTER.SIZE));
  const jobs: ProduceJob[] = ranges.map((range, i) => ({
    index: i,
    file: o.file,
    input: o.input,
    range,
    header: fields,
    schema: o.schema,
    key: o.key,
    format: o.format,
    topic: o.topic,
    kafka: o.kafka ? workerKafkaConfig(o, i) : null,
    partitions,
    valuePrefix: o.valuePrefix,
    headers: o.headers,
    txn: o.kafka && o.txn ? { commitEvery: o.txn.commitEvery } : null,
    jsonPart: out.json ? { path: out.json.part(i), ndjson, prefix: i === 0 && !ndjson ? new TextEncoder().encode("[\n") : null } : null,
    avroPart: out.avro ? { path: out.avro.part(i), codec: o.avroCodec, sync, prefix: i === 0 ? avroHeader(o.schema, o.avroCodec, sync) : null } : null,
    rejectsPart: out.rejects.part(i),
    limit: o.limit,
    counters: counters[i]!,
  }));
  const setupMs = performance.now() - t0;
  log.info({ file: o.file, workers: jobs.length, topic: o.kafka ? o.topic : null, format: o.format }, "produce started");

  stop.onStop = () => {
    for (const c of counters) new Float64Array(c)[COUNTER.stop] = 1;
  };
  const totalBytes = fileSize(o.file) - dataStart;
  const progress = new Progress("produce", totalBytes, "bytes", o.progress);
  // Only when the bar is drawn: its first number formatting (ICU) alone took ~100 ms of CPU
  // beside the workers on 2 cores, when stderr was not even a terminal.
  const timer = !progress.enabled
    ? undefined
    : setInterval(() => {
        let bytes = 0;
        let rows = 0;
        let delivered = 0;
        for (const c of counters) {
          const f = new Float64Array(c);
          bytes += f[COUNTER.bytesRead]!;
          rows += f[COUNTER.rows]!;
          delivered += f[COUNTER.delivered]!;
        }
        progress.update(bytes, `| ${rows.toLocaleString()} rows, ${delivered.toLocaleString()} delivered`);
      }, 100);

  // The JSON and Avro files from the workers' parts, in input order (see PartJoiner). Direct
  // outputs are joined while the workers run; the others once they are done.
  const finished: (WorkerStats | undefined)[] = jobs.map(() => undefined);
  const isDone = (i: number) => finished[i] !== undefined;
  const counterViews = counters.map((c) => new Float64Array(c));
  const isOpened = (i: number) => counterViews[i]![COUNTER.partsOpen] === 1;
  const joins = [
    out.json && {
      joiner: new PartJoiner(out.json, jobs.length, ndjson ? "\n" : ",\n"),
      records: (r: WorkerStats) => r.jsonRecords,
      suffix: (rs: WorkerStats[]) => (ndjson ? (rs.some((r) => r.jsonRecords > 0) ? "\n" : "") : "\n]\n"),
    },
    out.avro && { joiner: new PartJoiner(out.avro, jobs.length, ""), records: (r: WorkerStats) => r.avroRecords, suffix: () => "" },
  ].filter((j) => j !== null);
  const step = (j: (typeof joins)[number], budget?: number) => j.joiner.step(isDone, () => j.records(finished[0]!) > 0, isOpened, budget);
  let joinError: unknown;
  const follow = () => {
    if (!isDone(0) || joinError !== undefined) return;
    try {
      for (const j of joins) if (j.joiner.out.direct) step(j);
    } catch (e) {
      joinError = e; // reported once the workers are done
    }
  };
  const follower = !joins.some((j) => j.joiner.out.direct) || jobs.length < 2 ? undefined : setInterval(follow, 10);

  let results: WorkerStats[];
  try {
    // Always in workers, even for one range: the main thread stays free for progress and signals.
    results = await Promise.all(
      jobs.map((job, i) =>
        pool[i]!.run(job).then((r) => {
          finished[i] = r;
          follow();
          return r;
        }),
      ),
    );
    if (o.txn && o.kafka) results = await decideTransactions(results, pool, stop);
  } catch (e) {
    for (const j of joins) j.joiner.close();
    throw e;
  } finally {
    clearInterval(timer);
    clearInterval(follower);
    progress.done();
  }

  const tFiles = performance.now();
  try {
    if (joinError !== undefined) throw joinError;
    for (const j of joins) {
      step(j, Infinity);
      j.joiner.finish(j.suffix(results));
    }
  } finally {
    for (const j of joins) j.joiner.close();
  }
  const rejected = results.reduce((s, r) => s + r.rejected, 0);
  let rejectsFile: string | null = null;
  if (rejected > 0) {
    assemble(out.rejects, jobs.length, "line,reason,raw\n");
    rejectsFile = o.rejects;
  } else for (let i = 0; i < jobs.length; i++) rmSync(out.rejects.part(i), { force: true });
  const filesMs = performance.now() - tFiles;

  const sum = (f: (r: WorkerStats) => number) => results.reduce((s, r) => s + f(r), 0);
  const failures: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  const total = (performance.now() - t0) / 1000;
  const accepted = sum((r) => r.accepted);
  const delivered = sum((r) => r.delivered);
  const failed = sum((r) => r.failed);
  const wire = results.every((r) => r.txBytes !== undefined) ? sum((r) => r.txBytes ?? 0) : undefined;
  const summary: ProduceSummary = {
    file: o.file,
    topic: o.kafka ? o.topic : null,
    workers: jobs.length,
    rows_read: sum((r) => r.rows),
    rows_accepted: accepted,
    rows_rejected: rejected,
    empty_lines_skipped: sum((r) => r.skipped),
    messages_delivered: delivered,
    messages_failed: failed,
    messages_failed_possibly_written: sum((r) => r.possiblyPersisted),
    failures,
    first_failure: results.find((r) => r.firstFailure)?.firstFailure,
    value_bytes: sum((r) => r.valueBytes),
    wire_bytes: o.kafka ? wire : undefined,
    json_records: o.jsonOut ? sum((r) => r.jsonRecords) : null,
    avro_records: o.avroOut ? sum((r) => r.avroRecords) : null,
    rejects_file: rejectsFile,
    seconds: {
      total: round(total),
      setup: round(setupMs / 1000),
      read_and_send: round(Math.max(...results.map((r) => r.readSendMs)) / 1000),
      delivery_wait: round(Math.max(...results.map((r) => r.deliveryWaitMs)) / 1000),
      files: round(filesMs / 1000),
    },
    messages_per_second: Math.round((o.kafka ? delivered : accepted) / total),
    stopped_by_signal: stop.signal,
    ok: false,
  };
  if (o.txn && o.kafka) {
    const committed = results.filter((r) => r.txnState === "committed").length;
    summary.transactions = {
      id: o.txn.id,
      committed: sum((r) => r.txnCommitted),
      outcome: committed === results.length ? "committed" : committed === 0 ? "aborted" : "partly committed",
      workers: results.map((r, i) => ({ id: `${o.txn!.id}-${i}`, state: r.txnState ?? "aborted", ...(r.txnError ? { error: r.txnError } : {}) })),
    };
  }
  // Success: every accepted row delivered (when sending) and written to every file asked for.
  summary.ok =
    failed === 0 &&
    (!o.kafka || delivered === accepted) &&
    (!o.jsonOut || summary.json_records === accepted) &&
    (!o.avroOut || summary.avro_records === accepted) &&
    (!summary.transactions || summary.transactions.outcome === "committed") &&
    stop.signal === null;
  return summary;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Worker i's librdkafka properties: throughput defaults, idempotence, then the user's; its own transactional.id. */
function workerKafkaConfig(o: ProduceOptions, i: number): Record<string, string> {
  const kafka = o.kafka!;
  const txn: Record<string, string> = o.txn ? { "transactional.id": `${o.txn.id}-${i}` } : {};
  return {
    ...THROUGHPUT_DEFAULTS,
    "queue.buffering.max.messages": "200000",
    "queue.buffering.max.kbytes": "262144",
    ...idempotentByDefault(kafka),
    ...kafka,
    ...txn,
    "client.id": `ingest-produce-${i}`,
  };
}

/**
 * Every worker is ready with its last transaction open (all its rows sent and acknowledged):
 * commit them all, at once, only if every worker is ready and nothing failed or stopped; else
 * abort them all. The load is then all-or-nothing as a whole except for the window between the
 * first worker's commit and the last one's (milliseconds; a crash or a fenced worker inside it
 * leaves some workers' rows committed and the others' aborted: the summary says which).
 */
async function decideTransactions(results: WorkerStats[], pool: ProduceWorker[], stop: { signal: NodeJS.Signals | null }): Promise<WorkerStats[]> {
  const bad = results.find((r) => r.failed > 0 || r.stopped || r.delivered !== r.accepted);
  const why = stop.signal
    ? `stopped by ${stop.signal}`
    : bad
      ? bad.stopped
        ? "stopped"
        : `worker ${bad.index}: ${bad.failed} message(s) not delivered${bad.firstFailure ? ` (${bad.firstFailure})` : ""}`
      : "";
  const commit = !why;
  return Promise.all(results.map((r, i) => (r.txnState === "open" ? pool[i]!.decide(commit, why) : Promise.resolve(r))));
}

/**
 * A produce worker started before its job is known: it boots and creates its producer (see
 * worker.ts "prepare") while the main thread checks the inputs and splits the file. A worker
 * whose job never comes (an error before the run, fewer ranges than workers) is cancelled: it
 * destroys its producer, having sent nothing, and is terminated.
 */
class ProduceWorker {
  private readonly w: Worker;
  private state: "idle" | "running" | "done" = "idle";

  constructor(kafka: Record<string, string> | null, failuresOnly: boolean, headers: Record<string, string>) {
    this.w = new Worker(workerUrl("produce/worker.ts"));
    this.w.postMessage({ prepare: { kafka, failuresOnly, headers } });
  }

  /** The job's stats; with a transaction, once it is ready (its last transaction open: see decide). */
  run(job: ProduceJob): Promise<WorkerStats> {
    this.state = "running";
    return this.reply(job, `produce worker ${job.index}`);
  }

  /** Commit or abort the worker's open transaction; its final stats. */
  decide(commit: boolean, why: string): Promise<WorkerStats> {
    return this.reply({ decide: { commit, why } }, "produce worker's transaction");
  }

  private reply(message: unknown, who: string): Promise<WorkerStats> {
    return new Promise((resolve, reject) => {
      this.w.onmessage = (ev: MessageEvent<{ ok: boolean; ready?: boolean; stats?: WorkerStats; error?: string; stack?: string }>) => {
        if (ev.data.ok && ev.data.ready) return resolve(ev.data.stats!);
        this.state = "done";
        this.w.terminate();
        if (ev.data.ok) resolve(ev.data.stats!);
        else {
          log.debug({ stack: ev.data.stack }, "produce worker failed");
          reject(new IngestError(`${who}: ${ev.data.error}`));
        }
      };
      this.w.onerror = (e) => {
        this.state = "done";
        reject(new IngestError(`${who} crashed: ${e.message}`));
      };
      this.w.postMessage(message);
    });
  }

  /** Without a job (idle): destroy the prepared producer, then terminate. Else nothing. */
  cancel(): void {
    if (this.state !== "idle") return;
    this.state = "done";
    this.w.onmessage = () => this.w.terminate();
    this.w.onerror = () => this.w.terminate();
    this.w.postMessage({ cancel: true });
  }
}

export function defaultWorkers(): number {
  return availableParallelism();
}

export function defaultRejectsPath(file: string): string {
  return `${basename(file).replace(/\.csv$/i, "")}.rejects.csv`;
}
