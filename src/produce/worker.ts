/// <reference lib="webworker" />
/**
 * One produce worker: reads its byte range of the CSV, converts rows by the schema, and sends
 * each accepted row to Kafka (its own producer, batched) and to its parts of the JSON and Avro
 * files. Rows are encoded once per format and copied, not re-encoded, where formats agree.
 * The loop is synchronous; the main thread stops it through a shared counter, not a message.
 */
import { openSync, closeSync } from "node:fs";
import { forEachRecord } from "../csv/reader.ts";
import type { CsvRow } from "../csv/parser.ts";
import { csvField } from "../csv/quote.ts";
import { RowConverter } from "../csv/schema-rows.ts";
import { makeCodec } from "../codecs/index.ts";
import { AvroBlockWriter } from "../codecs/avro-file.ts";
import { compileRowEncoder, compileFastRowEncoder, BufferSink, type ByteSink } from "../codecs/row-encoder.ts";
import { forEachRecordFast, FAST_DONE, FAST_SLOW, FAST_STOP, type FastRowFn } from "../csv/fast-reader.ts";
import { Producer, MessageBatch, canCountWireBytes } from "../kafka/index.ts";
import { writeAll } from "../core/write-all.ts";
import { COUNTER, type ProduceJob, type WorkerStats } from "./job.ts";
import { forEachLine, findJsonField } from "./lines.ts";

const enc = new TextEncoder();

export function runJob(job: ProduceJob): WorkerStats {
  return job.input === "ndjson" ? runLines(job) : runCsv(job);
}

/** Open an output part for writing (-1 when there is none), with the file's prefix in part 0. */
function openPart(part: { path: string; prefix: Uint8Array | null } | null): number {
  if (!part) return -1;
  const fd = openSync(part.path, "w");
  if (part.prefix?.length) writeAll(fd, part.prefix);
  return fd;
}

function newStats(index: number): WorkerStats {
  return {
    index,
    rows: 0,
    accepted: 0,
    rejected: 0,
    skipped: 0,
    enqueued: 0,
    delivered: 0,
    failed: 0,
    possiblyPersisted: 0,
    failures: {},
    valueBytes: 0,
    jsonRecords: 0,
    avroRecords: 0,
    readSendMs: 0,
    deliveryWaitMs: 0,
    stopped: false,
    txnCommitted: 0,
  };
}

/** Hands full batches to the producer and keeps the shared counters current. */
function sender(producer: Producer | null, batch: MessageBatch, topic: string, stats: WorkerStats, c: Float64Array): () => void {
  return () => {
    if (!producer || batch.count === 0) return;
    stats.enqueued += producer.produceBatch(topic, batch);
    producer.poll(0);
    batch.reset();
    c[COUNTER.delivered] = producer.delivered;
    c[COUNTER.failed] = producer.failed;
  };
}

/**
 * The worker's producer. It counts the bytes of its Produce requests for the summary (an
 * interceptor in C); where that cannot work (no TinyCC), statistics events every 20 ms carry the
 * count instead (they cost ~5% of the job's time, mostly on librdkafka's main thread).
 */
function newProducer(job: ProduceJob, failuresOnly: boolean): Producer | null {
  if (!job.kafka) return null;
  const ready = prepared;
  prepared = null;
  // The one made before the job came, when it was made for these settings (it always is).
  const producer =
    ready && ready.failuresOnly === failuresOnly && sameProps(ready.kafka, job.kafka) && sameProps(ready.headers, job.headers) ? ready.producer : null;
  if (!producer) ready?.producer.destroy();
  const p = producer ?? makeProducer(job.kafka, failuresOnly, job.headers);
  // The count the command's topic check saw: the first batches need no metadata request of their own.
  if (job.partitions > 0) p.knowPartitionCount(job.topic, job.partitions);
  return p;
}

function makeProducer(kafka: Record<string, string>, failuresOnly: boolean, headers: Record<string, string>): Producer {
  const props = canCountWireBytes() ? kafka : { "statistics.interval.ms": "20", ...kafka };
  return new Producer(props, { failuresOnly, countWireBytes: true, partitionBatches: true, headers });
}

function sameProps(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The producer made at "prepare", before the job (and its range) is known. */
let prepared: { kafka: Record<string, string>; failuresOnly: boolean; headers: Record<string, string>; producer: Producer } | null = null;

/**
 * Before the job: create the producer (it connects and fetches metadata meanwhile). A failure
 * here is left for the job to meet again and report (the main thread's own checks come first).
 */
function prepare(p: { kafka: Record<string, string> | null; failuresOnly: boolean; headers: Record<string, string> }): void {
  if (!p.kafka) return;
  try {
    prepared = { kafka: p.kafka, failuresOnly: p.failuresOnly, headers: p.headers, producer: makeProducer(p.kafka, p.failuresOnly, p.headers) };
  } catch {
    prepared = null;
  }
}

/**
 * A worker's transactions (job.txn): begun once the producer is ready, committed every
 * commitEvery rows (when set), and the last one left open for the main thread's decision
 * (see finishTransaction), or aborted here when the job fails.
 */
class WorkerTxn {
  private left: number;
  constructor(
    private readonly producer: Producer,
    topic: string,
    private readonly every: number,
    private readonly stats: WorkerStats,
    private readonly flushBatch: () => void,
    private readonly c: Float64Array,
  ) {
    producer.initTransactions();
    producer.learnTopic(topic);
    producer.beginTransaction();
    this.stats.txnState = "open";
    this.left = every;
  }

  /** One more row handed to the batch: at every commitEvery-th, send the batch and commit. */
  row(): void {
    if (this.left === 0 || --this.left > 0) return;
    this.flushBatch();
    awaitDeliveries(this.producer, this.stats, this.c);
    if (this.stats.failed > 0) throw new Error(`${this.stats.failed} message(s) of the transaction failed: ${this.stats.firstFailure ?? ""}`);
    this.producer.commitTransaction();
    this.stats.txnCommitted++;
    this.producer.beginTransaction();
    this.left = this.every;
  }

  /** The job failed: abort what is open (best effort; a newer run fences it otherwise). */
  abort(why: string): void {
    if (this.stats.txnState !== "open") return;
    this.stats.txnState = "aborted";
    this.stats.txnError = why;
    try {
      this.producer.abortTransaction(10_000);
    } catch {}
  }
}

/** The producer whose last transaction waits for the main thread's commit or abort. */
let openTxn: { producer: Producer; stats: WorkerStats } | null = null;

/** The main thread's decision on this worker's open transaction. */
function finishTransaction(commit: boolean, why: string): WorkerStats {
  const t = openTxn!;
  openTxn = null;
  try {
    if (commit) {
      t.producer.commitTransaction();
      t.stats.txnCommitted++;
      t.stats.txnState = "committed";
    } else {
      t.stats.txnState = "aborted";
      t.stats.txnError = why;
      t.producer.abortTransaction();
    }
  } catch (e) {
    t.stats.txnState = "aborted";
    t.stats.txnError = (e as Error).message;
    try {
      if (commit && !t.producer.fatalError) t.producer.abortTransaction(10_000);
    } catch {}
  } finally {
    t.producer.destroy();
  }
  return t.stats;
}

/** Wait for every delivery report, then read the final counts and wire bytes into `stats`. */
function awaitDeliveries(producer: Producer, stats: WorkerStats, c: Float64Array): void {
  const t1 = performance.now();
  // Every enqueued message ends acknowledged or failed (reported, at the latest after
  // message.timeout.ms); a CSV worker's producer hears of failures only (failuresOnly).
  while (producer.inFlight > 0) {
    producer.flushSync(100);
    c[COUNTER.delivered] = producer.delivered;
    c[COUNTER.failed] = producer.failed;
  }
  stats.deliveryWaitMs = performance.now() - t1;
  // Without the interceptor's count: one more statistics event, so the byte count includes the
  // last batches: it comes within statistics.interval.ms (0 turns statistics and this wait off).
  const interval = producer.wireBytes === undefined ? Number(producer.props["statistics.interval.ms"] ?? 0) : 0;
  const statsBefore = producer.lastStats;
  const until = performance.now() + 3 * interval;
  while (interval > 0 && producer.lastStats === statsBefore && performance.now() < until) producer.poll(5);
  stats.delivered = producer.delivered;
  stats.failed = producer.failed;
  stats.possiblyPersisted = producer.possiblyPersisted;
  Object.assign(stats.failures, producer.failures);
  stats.firstFailure = producer.firstFailure;
  stats.txBytes = producer.wireBytes ?? txBytes(producer.lastStats);
}

/**
 * Pre-encoded lines (NDJSON): each non-empty line is one message value, byte for byte; the key
 * is the value of field --key found by a scan (no JSON parse). A line without it is rejected.
 */
function runLines(job: ProduceJob): WorkerStats {
  const c = new Float64Array(job.counters);
  const stats = newStats(job.index);
  // Every delivery report comes back here (not failures only, as for CSV): this worker's own
  // work is light, so librdkafka's broker threads are the bottleneck, and with failure-only
  // reports they also free each message, allocated by this thread (glibc's cross-thread free).
  // Measured: docs/design.md, "NDJSON produce: every delivery report".
  const producer = newProducer(job, false);
  const batch = new MessageBatch(10_000, 4 << 20);
  const jsonFd = openPart(job.jsonPart);
  const rejectsFd = openSync(job.rejectsPart, "w");
  c[COUNTER.partsOpen] = 1;
  const pattern = job.key === null ? null : enc.encode(`${JSON.stringify(job.key)}:`);
  const sep = enc.encode(job.jsonPart?.ndjson ? "\n" : ",\n");
  let json = new Uint8Array(jsonFd >= 0 ? 2 << 20 : 0);
  let jsonUsed = 0;
  let rejects = "";
  const t0 = performance.now();
  const send = sender(producer, batch, job.topic, stats, c);
  let txn: WorkerTxn | null = null;
  try {
    txn = producer && job.txn ? new WorkerTxn(producer, job.topic, job.txn.commitEvery, stats, send, c) : null;
    forEachLine(
      job.file,
      job.range,
      (buf, from, to, line) => {
        if (stats.rows >= job.limit) return false;
        stats.rows++;
        let key: [number, number] | null = null;
        if (pattern) {
          key = findJsonField(buf, from, to, pattern);
          if (!key) {
            stats.rejected++;
            const raw = new TextDecoder().decode(buf.subarray(from, Math.min(to, from + 1000)));
            rejects += `${line},${csvField(`key field '${job.key}' not found`)},${csvField(raw)}\n`;
            return;
          }
        }
        stats.accepted++;
        stats.valueBytes += to - from;
        if (jsonFd >= 0) {
          const need = jsonUsed + sep.length + (to - from);
          if (need > json.length) {
            writeAll(jsonFd, json.subarray(0, jsonUsed));
            jsonUsed = 0;
            if (sep.length + (to - from) > json.length) json = new Uint8Array(2 * (sep.length + to - from));
          }
          if (stats.jsonRecords++ > 0) {
            json.set(sep, jsonUsed);
            jsonUsed += sep.length;
          }
          json.set(buf.subarray(from, to), jsonUsed);
          jsonUsed += to - from;
        }
        if (producer) {
          // Spans of the read buffer itself (the key lies inside the line): no copy here,
          // librdkafka copies during the send, which happens before the buffer is reused.
          if (batch.data !== buf) {
            send();
            batch.useBuffer(buf);
          }
          batch.commit(key ? key[0] : 0, key ? key[1] - key[0] : -1, from, to - from);
          if (batch.full) send();
          txn?.row();
        }
      },
      (bytesRead) => {
        send(); // before forEachLine moves the unread tail of its buffer
        c[COUNTER.rows] = stats.rows;
        c[COUNTER.rejected] = stats.rejected;
        c[COUNTER.bytesRead] = bytesRead;
        if (c[COUNTER.stop]) {
          stats.stopped = true;
          return false;
        }
      },
    );
    send();
    stats.readSendMs = performance.now() - t0;
    if (jsonUsed) writeAll(jsonFd, json.subarray(0, jsonUsed));
    if (rejects) writeAll(rejectsFd, rejects);
    if (producer) awaitDeliveries(producer, stats, c);
    if (txn) openTxn = { producer: producer!, stats };
  } catch (e) {
    txn?.abort((e as Error).message);
    throw e;
  } finally {
    if (jsonFd >= 0) closeSync(jsonFd);
    closeSync(rejectsFd);
    if (!openTxn) producer?.destroy();
  }
  return stats;
}

function runCsv(job: ProduceJob): WorkerStats {
  const c = new Float64Array(job.counters);
  const stats = newStats(job.index);
  const conv = new RowConverter(job.schema, job.header);
  const codec = makeCodec(job.format, job.schema);
  const producer = newProducer(job, true);
  const batch = new MessageBatch(10_000, 4 << 20);
  const jsonFd = openPart(job.jsonPart);
  const avroFd = openPart(job.avroPart);
  const rejectsFd = openSync(job.rejectsPart, "w");
  c[COUNTER.partsOpen] = 1;
  const avro = job.avroPart ? new AvroBlockWriter(job.schema, avroFd, job.avroPart.codec, job.avroPart.sync) : null;
  const sep = job.jsonPart?.ndjson ? "\n" : ",\n";
  const keyField = job.key;
  const sendJson = job.format === "json" && job.kafka !== null;
  // The JSON file part is filled with the bytes already encoded for Kafka (no second encode).
  let jsonBuf = new Uint8Array(jsonFd >= 0 ? 2 << 20 : 0);
  let jsonUsed = 0;
  const sepBytes = enc.encode(sep);
  /** Room for n more bytes in the JSON file's buffer: write out what it holds first if needed. */
  const jsonRoom = (n: number) => {
    if (jsonUsed + n <= jsonBuf.length) return;
    if (jsonUsed) writeAll(jsonFd, jsonBuf.subarray(0, jsonUsed));
    jsonUsed = 0;
    if (n > jsonBuf.length) jsonBuf = new Uint8Array(2 * n);
  };
  const appendJson = (bytes: Uint8Array) => {
    jsonRoom(sepBytes.length + bytes.length);
    if (stats.jsonRecords++ > 0) {
      jsonBuf.set(sepBytes, jsonUsed);
      jsonUsed += sepBytes.length;
    }
    jsonBuf.set(bytes, jsonUsed);
    jsonUsed += bytes.length;
  };
  let rejects = "";
  const t0 = performance.now();
  const sendBatch = sender(producer, batch, job.topic, stats, c);
  // With JSON for Kafka, the JSON file takes the batch's values as they are, a batch at a time.
  const send = !(sendJson && jsonFd >= 0)
    ? sendBatch
    : () => {
        if (batch.count > 0) {
          jsonRoom(batch.used + batch.count * sepBytes.length);
          jsonUsed = batch.copyValues(jsonBuf, jsonUsed, sepBytes, stats.jsonRecords === 0);
          stats.jsonRecords += batch.count;
        }
        sendBatch();
      };
  // The schema-specialised encoder (JSON and Avro bytes straight from the CSV fields, see
  // row-encoder.ts); null for msgpack or a schema it does not specialise: objects as before.
  const wantJson = sendJson || jsonFd >= 0;
  const wantAvro = avro !== null || (producer !== null && job.format === "avro");
  // Avro for Kafka without an Avro file: the encoder writes it (after the key, and the registry's
  // wire header when there is one) straight into the batch, as JSON for Kafka is.
  const prefix = job.format === "avro" ? job.valuePrefix : null;
  const avroIntoBatch = producer !== null && job.format === "avro" && avro === null;
  const encoderOptions = { key: producer ? keyField : null, json: wantJson, avro: wantAvro, avroPrefix: avroIntoBatch ? prefix : null };
  const encodeRow = job.format === "msgpack" || !(wantJson || wantAvro) ? null : compileRowEncoder(job.schema, conv, encoderOptions);
  const batchSink = new BatchSink(batch);
  let txn: WorkerTxn | null = null;
  // The JSON part goes into the batch (after the key) when Kafka takes JSON, else into its own buffer.
  const jsonSink = sendJson ? batchSink : new BufferSink(jsonFd >= 0 ? 2 << 20 : 16);
  // Avro bytes go into the file's block when there is one, else into the batch (for Kafka) or a scratch buffer.
  const avroSink: ByteSink = avro ?? (avroIntoBatch ? batchSink : new BufferSink());
  const row = { keyLen: -1 };

  // The byte-level fast path (src/csv/fast-reader.ts): lines it is sure about are encoded from
  // their bytes, the rest go through onRow below. INGEST_CSV_FAST=0 turns it off.
  const fastEncode = encodeRow && process.env.INGEST_CSV_FAST !== "0" ? compileFastRowEncoder(job.schema, conv, encoderOptions) : null;

  /** Before a row encoder writes: sinks at the batch's end, the JSON file's separator. */
  const beginRow = () => {
    batchSink.buf = batch.data;
    batchSink.pos = batch.used;
    if (!sendJson) {
      if (avroSink !== avro && avroSink !== batchSink) avroSink.pos = 0;
      if (jsonFd >= 0 && stats.jsonRecords > 0) writeSep(jsonSink, sepBytes);
    }
  };
  /** A row encoder refused the row (nothing written): take the separator back. */
  const undoRow = () => {
    if (!sendJson && jsonFd >= 0 && stats.jsonRecords > 0) jsonSink.pos -= sepBytes.length;
  };
  /** A row encoder wrote the row (key at keyOff in the batch, Avro from avroOff): count and send it. */
  const acceptRow = (keyOff: number, avroOff: number) => {
    stats.accepted++;
    if (jsonFd >= 0 && !sendJson) {
      stats.jsonRecords++;
      if (jsonSink.pos > 2 << 20) {
        writeAll(jsonFd, jsonSink.buf.subarray(0, jsonSink.pos));
        jsonSink.pos = 0;
      }
    }
    if (producer) {
      const valOff = keyOff + Math.max(0, row.keyLen);
      if (!sendJson && avroSink !== batchSink) {
        // Avro: the bytes the encoder wrote for the file (or scratch) follow the key (and the wire header).
        const len = avroSink.pos - (avroSink === avro ? avroOff : 0);
        batchSink.reserve(len + (prefix?.length ?? 0));
        if (prefix) {
          batchSink.buf.set(prefix, batchSink.pos);
          batchSink.pos += prefix.length;
        }
        batchSink.buf.set(avroSink.buf.subarray(avroSink.pos - len, avroSink.pos), batchSink.pos);
        batchSink.pos += len;
      }
      batch.used = batchSink.pos;
      const valLen = batch.used - valOff;
      batch.commit(keyOff, row.keyLen, valOff, valLen);
      stats.valueBytes += valLen;
    }
    avro?.appended();
    if (producer && (batch.full || batch.used > 3 << 20)) send();
    txn?.row();
  };

  const fastRow: FastRowFn = (b, fs, fe, esc) => {
    if (stats.rows >= job.limit) return FAST_STOP;
    const keyOff = batch.used;
    const avroOff = avroSink.pos;
    beginRow();
    if (!fastEncode!(b, fs, fe, esc, row, batchSink, jsonSink, avroSink)) {
      undoRow();
      return FAST_SLOW;
    }
    stats.rows++;
    acceptRow(keyOff, avroOff);
    return FAST_DONE;
  };

  // One record at a time from the parser (a reused CsvRow: its fields are read here, not kept).
  const onRow = (r: CsvRow): boolean | void => {
    if (stats.rows >= job.limit) return false;
    stats.rows++;
    if (encodeRow) {
      let why = r.error;
      const keyOff = batch.used;
      const avroOff = avroSink.pos;
      if (why === undefined) {
        beginRow();
        why = encodeRow(r.fields, row, batchSink, jsonSink, avroSink) ?? undefined;
        if (why !== undefined) undoRow();
      }
      if (why !== undefined) {
        stats.rejected++;
        rejects += `${r.line},${csvField(why)},${csvField(r.raw())}\n`;
        return;
      }
      acceptRow(keyOff, avroOff);
      return;
    }
    const rec = r.error ?? conv.convert(r.fields);
    if (typeof rec === "string") {
      stats.rejected++;
      rejects += `${r.line},${csvField(rec)},${csvField(r.raw())}\n`;
      return;
    }
    stats.accepted++;
    const text = sendJson || jsonFd >= 0 ? JSON.stringify(rec) : "";
    avro?.append(rec);
    if (jsonFd >= 0 && !(producer && sendJson)) appendJson(enc.encode(text));
    if (producer) {
      const kv = keyField === null ? null : rec[keyField];
      const key = kv === null || kv === undefined ? "" : String(kv);
      batch.ensure(key.length * 3 + (sendJson ? text.length * 3 : 4096));
      const keyOff = batch.used;
      const keyLen = kv === null || kv === undefined ? -1 : enc.encodeInto(key, batch.data.subarray(keyOff)).written;
      const valOff = keyOff + Math.max(0, keyLen);
      let valLen: number;
      if (sendJson) valLen = enc.encodeInto(text, batch.data.subarray(valOff)).written;
      else {
        const pre = prefix?.length ?? 0;
        if (prefix) batch.data.set(prefix, valOff);
        while ((valLen = codec.encodeInto(rec, batch.data, valOff + pre)) < 0) {
          batch.ensure(batch.data.length);
          if (prefix) batch.data.set(prefix, valOff);
        }
        valLen += pre;
      }
      batch.used = valOff + valLen;
      batch.commit(keyOff, keyLen, valOff, valLen);
      stats.valueBytes += valLen;
      if (batch.full || batch.used > 3 << 20) send();
      txn?.row();
    }
  };
  const onChunk = (bytesRead: number): boolean | void => {
    c[COUNTER.rows] = stats.rows;
    c[COUNTER.rejected] = stats.rejected;
    c[COUNTER.bytesRead] = bytesRead;
    if (rejects.length > 1 << 16) {
      writeAll(rejectsFd, rejects);
      rejects = "";
    }
    if (c[COUNTER.stop]) {
      stats.stopped = true;
      return false;
    }
  };

  try {
    txn = producer && job.txn ? new WorkerTxn(producer, job.topic, job.txn.commitEvery, stats, send, c) : null;
    stats.skipped += fastEncode
      ? forEachRecordFast(job.file, job.range, conv.columns, fastRow, onRow, onChunk)
      : forEachRecord(job.file, job.range, onRow, onChunk);
    send();
    stats.readSendMs = performance.now() - t0;
    if (jsonUsed) writeAll(jsonFd, jsonBuf.subarray(0, jsonUsed));
    if (jsonFd >= 0 && jsonSink !== batchSink && jsonSink.pos) writeAll(jsonFd, jsonSink.buf.subarray(0, jsonSink.pos));
    if (rejects) writeAll(rejectsFd, rejects);
    avro?.flush();
    stats.jsonRecords = jsonFd >= 0 ? stats.jsonRecords : 0;
    stats.avroRecords = avro?.records ?? 0;
    if (producer) awaitDeliveries(producer, stats, c);
    if (txn) openTxn = { producer: producer!, stats };
  } catch (e) {
    txn?.abort((e as Error).message);
    throw e;
  } finally {
    if (jsonFd >= 0) closeSync(jsonFd);
    if (avroFd >= 0) closeSync(avroFd);
    closeSync(rejectsFd);
    if (!openTxn) producer?.destroy();
  }
  c[COUNTER.delivered] = stats.delivered;
  return stats;
}

/** A ByteSink over a MessageBatch's data (synchronised by the caller around each row). */
class BatchSink implements ByteSink {
  buf: Uint8Array;
  pos = 0;
  constructor(private readonly batch: MessageBatch) {
    this.buf = batch.data;
  }
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.batch.used = this.pos;
    this.batch.ensure(n);
    this.buf = this.batch.data;
  }
}

function writeSep(sink: ByteSink, sep: Uint8Array): void {
  sink.reserve(sep.length);
  sink.buf.set(sep, sink.pos);
  sink.pos += sep.length;
}

function txBytes(stats: string | undefined): number | undefined {
  if (!stats) return undefined;
  try {
    const s = JSON.parse(stats) as { brokers?: Record<string, { txbytes?: number; nodeid?: number }> };
    return Object.values(s.brokers ?? {}).reduce((n, b) => n + ((b.nodeid ?? -1) >= 0 ? (b.txbytes ?? 0) : 0), 0);
  } catch {
    return undefined;
  }
}

// Worker entry: run one job, post its stats (or the error) and exit.
declare const self: Worker;
if (typeof self !== "undefined" && !Bun.isMainThread) {
  self.onmessage = (
    ev: MessageEvent<ProduceJob | { prepare: Parameters<typeof prepare>[0] } | { cancel: true } | { decide: { commit: boolean; why: string } }>,
  ) => {
    if ("prepare" in ev.data) return prepare(ev.data.prepare);
    if ("decide" in ev.data) {
      const stats = finishTransaction(ev.data.decide.commit, ev.data.decide.why);
      self.postMessage({ ok: true, stats });
      return;
    }
    if ("cancel" in ev.data) {
      prepared?.producer.destroy();
      prepared = null;
      self.postMessage({ cancelled: true });
      return;
    }
    try {
      const stats = runJob(ev.data as ProduceJob);
      // With a transaction open: ready, the main thread decides (a "decide" message follows).
      self.postMessage({ ok: true, stats, ready: openTxn !== null });
    } catch (e) {
      self.postMessage({ ok: false, error: (e as Error).message, stack: (e as Error).stack });
    }
  };
}
