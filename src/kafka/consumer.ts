import { JSCallback, FFIType, read, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { rdk, cstr, str, EVENT, ERR, MSG, TPAR, TPLIST, RD_KAFKA_CONSUMER } from "./ffi.ts";
import { libc } from "../core/libc.ts";
import { Client, readI64 } from "./client.ts";
import { KafkaError, check, checkErrorObject, errName, retryTransient } from "./errors.ts";
import { fromList, withList, type TopicPartition } from "./partitions.ts";
import { log } from "../observability/log.ts";
import { nativeBatch, type NativeBatch } from "./native/batch.ts";

/**
 * Records of one consume call, columnar: keys and values are copied into one buffer `data`
 * (so the native messages can be freed at once), addressed by start/length (-1 = null).
 */
export interface RecordBatch {
  count: number;
  topic: string[];
  partition: Int32Array;
  offset: Float64Array;
  keyStart: Int32Array;
  keyLen: Int32Array;
  valStart: Int32Array;
  valLen: Int32Array;
  data: Uint8Array;
  /**
   * With consume(max, true): data[0..jsonArrayEnd) is `[v1,v2,...]`, the values as one JSON
   * array text (a null value as `null`), for a single decode and parse per batch. 0 otherwise.
   */
  jsonArrayEnd: number;
  /**
   * With the contentTypes option: each record's content-type header as a code (CONTENT_TYPE:
   * 0 none, 1 application/json, 2 avro/binary, 3 application/msgpack, 255 another).
   */
  contentType: Uint8Array | null;
  /** Per-partition errors delivered as messages (e.g. unknown topic), not records. */
  errors: { topic: string; partition: number; code: number; name: string; message: string }[];
}

export interface RebalanceEvent {
  kind: "assign" | "revoke";
  partitions: TopicPartition[];
  protocol: "EAGER" | "COOPERATIVE" | "NONE";
}

export interface ConsumerOptions {
  /**
   * When true, a revoke is not completed inside the rebalance callback: the application sees
   * the event, finishes and commits its in-flight work for those partitions, then calls
   * completeRevoke(). librdkafka holds the rebalance until then.
   */
  deferRevoke?: boolean;
  /**
   * Start every assigned partition here (-2 beginning, -1 end) instead of at the group's
   * committed offset: set in the assignment inside the rebalance callback.
   */
  startOffset?: number;
  /**
   * How a batch is copied out of librdkafka: "native" (batch.c through TinyCC, the default when
   * it compiles) or "js" (per-message FFI reads and memcpy). Same batches either way.
   */
  copy?: "native" | "js";
  /** Read each record's content-type header into RecordBatch.contentType. */
  contentTypes?: boolean;
}

/** RecordBatch.contentType codes, by header value. */
export const CONTENT_TYPE: Record<string, number> = { "application/json": 1, "avro/binary": 2, "application/msgpack": 3 };
export const CONTENT_TYPE_OTHER = 255;

const NULL_TEXT = new TextEncoder().encode("null");

/**
 * Prefetch bounds. queued.max.messages.kbytes is 256 MiB instead of librdkafka's 64 MiB: once a
 * consumer that does any work per message (not just counting) lets the prefetch queue reach the
 * bound, librdkafka 2.0.2 holds fetching back far longer than the queue takes to drain, and the
 * consumer then waits for data (docs/design.md, "The consumer's prefetch bound"). Bounded either
 * way; -X overrides both.
 */
const PREFETCH_DEFAULTS = { "enable.auto.commit": "false", "queued.min.messages": "1000000", "queued.max.messages.kbytes": "262144" };

/**
 * A high-level (group) consumer. Messages are fetched in batches with
 * rd_kafka_consume_batch_queue (never blocking the JS thread: timeout 0). Rebalances arrive
 * through rebalance_cb, which librdkafka invokes only from inside that call, on the JS thread.
 */
export class Consumer extends Client {
  readonly consumerQueue: Pointer;
  /** Rebalances not yet taken by the application (takeRebalances()). */
  private rebalances: RebalanceEvent[] = [];
  private pendingRevoke: { list: Pointer; protocol: RebalanceEvent["protocol"] } | undefined;
  private readonly rebalanceCb: JSCallback;
  private readonly deferRevoke: boolean;
  private readonly startOffset: number | undefined;
  private readonly copy: ConsumerOptions["copy"];
  private readonly contentTypes: boolean;
  private closing = false;
  private readonly topicNames = new Map<number, string>();
  /** Topic handles taken at subscribe (see there), released at close. */
  private readonly topicHandles = new Map<string, Pointer>();
  private ptrBuf = new Uint32Array(2 * 1024);
  private msgBuf = new BigUint64Array(1024);
  private readonly takeOut = new Float64Array(2);
  private failedCommits: TopicPartition[] = [];
  private spare: Uint8Array | undefined;
  assignment = new Map<string, TopicPartition>();
  /** performance.now() of the last assignment (0 before any). */
  lastAssignAt = 0;

  constructor(props: Record<string, string>, opts: ConsumerOptions = {}) {
    let cb: JSCallback | undefined;
    super(RD_KAFKA_CONSUMER, { ...PREFETCH_DEFAULTS, ...props }, EVENT.OFFSET_COMMIT, (conf) => {
      cb = new JSCallback((rk: Pointer, err: number, parts: Pointer) => this.onRebalance(rk, err, parts), {
        args: [FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.ptr],
        returns: FFIType.void,
      });
      rdk().rd_kafka_conf_set_rebalance_cb(conf, cb.ptr!);
    });
    this.rebalanceCb = cb!;
    this.deferRevoke = opts.deferRevoke ?? false;
    this.startOffset = opts.startOffset;
    this.copy = opts.copy;
    this.contentTypes = opts.contentTypes ?? false;
    this.consumerQueue = rdk().rd_kafka_queue_get_consumer(this.rk) as Pointer;
  }

  private protocol(): RebalanceEvent["protocol"] {
    return (str(rdk().rd_kafka_rebalance_protocol(this.rk)) || "NONE") as RebalanceEvent["protocol"];
  }

  /** Runs on the JS thread, from inside rd_kafka_consume_batch_queue or rd_kafka_consumer_close. */
  private onRebalance(rk: Pointer, err: number, parts: Pointer): void {
    const f = rdk();
    const protocol = this.protocol();
    const partitions = fromList(parts);
    try {
      if (err === ERR._ASSIGN_PARTITIONS) {
        if (this.startOffset !== undefined) setOffsets(parts, this.startOffset);
        if (protocol === "COOPERATIVE") checkErrorObject(f.rd_kafka_incremental_assign(rk, parts) as number | null, "incremental assign");
        else check(f.rd_kafka_assign(rk, parts), "assign");
        for (const p of partitions) this.assignment.set(`${p.topic}\0${p.partition}`, p);
        this.lastAssignAt = performance.now();
        this.rebalances.push({ kind: "assign", partitions, protocol });
        log.info({ partitions: partitions.map((p) => `${p.topic}[${p.partition}]`) }, "partitions assigned");
      } else {
        this.rebalances.push({ kind: "revoke", partitions, protocol });
        log.info({ partitions: partitions.map((p) => `${p.topic}[${p.partition}]`) }, "partitions revoked");
        if (this.deferRevoke && !this.closing) {
          this.pendingRevoke = { list: f.rd_kafka_topic_partition_list_copy(parts) as Pointer, protocol };
        } else {
          this.release(parts, protocol, partitions);
        }
      }
    } catch (e) {
      log.error({ err: (e as Error).message }, "rebalance handling failed");
    }
  }

  private release(parts: Pointer, protocol: RebalanceEvent["protocol"], partitions: TopicPartition[]): void {
    const f = rdk();
    if (protocol === "COOPERATIVE") checkErrorObject(f.rd_kafka_incremental_unassign(this.rk, parts) as number | null, "incremental unassign");
    else check(f.rd_kafka_assign(this.rk, null), "unassign");
    for (const p of partitions) this.assignment.delete(`${p.topic}\0${p.partition}`);
  }

  /** Rebalance events since the last call, oldest first. */
  takeRebalances(): RebalanceEvent[] {
    const r = this.rebalances;
    this.rebalances = [];
    return r;
  }

  get revokePending(): boolean {
    return this.pendingRevoke !== undefined;
  }

  /** Finish a deferred revoke (after the application committed what it had for those partitions). */
  completeRevoke(): void {
    const p = this.pendingRevoke;
    if (!p) return;
    this.pendingRevoke = undefined;
    try {
      this.release(p.list, p.protocol, fromList(p.list));
    } finally {
      rdk().rd_kafka_topic_partition_list_destroy(p.list);
    }
  }

  subscribe(topics: string[]): void {
    // A handle per named topic before the join, so librdkafka knows its partitions and their
    // leaders when the assignment arrives. Without one, the topic's partitions are created at
    // assign and an explicit start offset (--from-beginning) is queried before their leader is
    // set: librdkafka 2.0.2 then retries that query after a fixed 500 ms ("no current leader for
    // partition"), and some partitions start fetching half a second late (seen in ~2/3 of runs).
    for (const t of topics) {
      if (t.startsWith("^") || this.topicHandles.has(t)) continue;
      const rkt = rdk().rd_kafka_topic_new(this.rk, cstr(t), null) as Pointer | null;
      if (rkt) this.topicHandles.set(t, rkt);
    }
    withList(
      topics.map((t) => ({ topic: t, partition: -1 })),
      (list) => check(rdk().rd_kafka_subscribe(this.rk, list), `subscribe to ${topics.join(",")}`),
    );
  }

  /** Static assignment without a group join (faster start for tools and tests). */
  assign(parts: TopicPartition[]): void {
    withList(parts, (list) => check(rdk().rd_kafka_assign(this.rk, list), "assign"));
    for (const p of parts) this.assignment.set(`${p.topic}\0${p.partition}`, p);
  }

  /**
   * Hand back a batch's `data` once nothing reads it any more (e.g. after its values were
   * decoded into objects): the next batch copies into it instead of a fresh buffer, which the
   * kernel would have to fault in and JS zero-fill, a megabyte or so per batch.
   */
  recycle(data: Uint8Array): void {
    if (!this.spare || data.length > this.spare.length) this.spare = data;
  }

  /** A buffer of at least `bytes` for the next batch: the recycled one if it is big enough. */
  private dataBuffer(bytes: number): Uint8Array {
    const s = this.spare;
    if (s && s.length >= bytes) {
      this.spare = undefined;
      return s;
    }
    // A little headroom, so a slightly bigger next batch can still reuse it.
    return new Uint8Array(bytes + (bytes >> 3));
  }

  /**
   * Take up to `max` messages that are already fetched (timeout 0: the JS thread never blocks
   * here). Also serves rebalance callbacks and main-queue events.
   */
  consume(max = 10_000, valuesAsJsonArray = false): RecordBatch {
    this.pollEvents(0);
    const nb = this.copy === "js" ? null : nativeBatch();
    return nb ? this.consumeNative(nb, max, valuesAsJsonArray) : this.consumeJs(max, valuesAsJsonArray);
  }

  private topicName(rkt: number): string {
    if (!rkt) return "";
    let topic = this.topicNames.get(rkt);
    if (topic === undefined) {
      topic = str(rdk().rd_kafka_topic_name(rkt as Pointer));
      this.topicNames.set(rkt, topic);
    }
    return topic;
  }

  /** consume() through batch.c: two FFI calls per batch; same RecordBatch as consumeJs. */
  private consumeNative(nb: NativeBatch, max: number, json: boolean): RecordBatch {
    if (this.msgBuf.length < max) this.msgBuf = new BigUint64Array(max);
    const n = nb.take(this.consumerQueue, this.msgBuf, max, json, this.takeOut);
    if (n <= 0) return emptyBatch(0);
    const data = this.dataBuffer(Math.max(this.takeOut[1]!, 64));
    const batch = emptyBatch(n);
    const err = new Int32Array(n);
    const rkt = new Float64Array(n);
    const ct = this.contentTypes ? new Uint8Array(n) : null;
    if (ct) nb.contentTypes(this.msgBuf, n, ct);
    batch.contentType = ct;
    const end = nb.fill(this.msgBuf, n, data, json, err, batch.partition, batch.keyStart, batch.keyLen, batch.valStart, batch.valLen, batch.offset, rkt);
    let lastRkt = -1;
    let topic = "";
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (rkt[i] !== lastRkt) {
        lastRkt = rkt[i]!;
        topic = this.topicName(lastRkt);
      }
      const e = err[i]!;
      if (e !== 0) {
        if (e !== ERR._PARTITION_EOF) {
          const len = batch.valLen[i]!;
          const message = len > 0 ? Buffer.from(data.subarray(batch.valStart[i]!, batch.valStart[i]! + len)).toString() : errName(e);
          batch.errors.push({ topic, partition: batch.partition[i]!, code: e, name: errName(e), message });
        }
        continue;
      }
      if (k !== i) {
        batch.partition[k] = batch.partition[i]!;
        batch.offset[k] = batch.offset[i]!;
        batch.keyStart[k] = batch.keyStart[i]!;
        batch.keyLen[k] = batch.keyLen[i]!;
        batch.valStart[k] = batch.valStart[i]!;
        batch.valLen[k] = batch.valLen[i]!;
        if (ct) ct[k] = ct[i]!;
      }
      batch.topic[k++] = topic;
    }
    batch.count = k;
    batch.data = data;
    if (json) batch.jsonArrayEnd = end;
    return batch;
  }

  /** consume() in JS: per message, FFI reads of the fields, memcpy of key and value, destroy. */
  private consumeJs(max: number, valuesAsJsonArray: boolean): RecordBatch {
    const f = rdk();
    const { memcpy } = libc();
    if (this.ptrBuf.length < 2 * max) this.ptrBuf = new Uint32Array(2 * max);
    const arr = this.ptrBuf;
    const n = Number(f.rd_kafka_consume_batch_queue(this.consumerQueue, 0, arr, max));
    const batch = emptyBatch(Math.max(0, n));
    if (n <= 0) return batch;
    if (this.contentTypes) batch.contentType = new Uint8Array(n);
    const msgs: number[] = new Array(n);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const m = arr[2 * i]! + arr[2 * i + 1]! * 4294967296;
      msgs[i] = m;
      bytes += read.u32(m as Pointer, MSG.len) + read.u32(m as Pointer, MSG.key_len) + (valuesAsJsonArray ? 5 : 0);
    }
    // At least 4 KiB: small typed arrays may be moved by the GC, and memcpy writes through ptr().
    const data = this.dataBuffer(Math.max(bytes, 4096));
    const base = ptr(data);
    let off = 0;
    let k = 0;
    // With a JSON array layout, values go first ([v1,v2,...]) and keys after them.
    let voff = 0;
    if (valuesAsJsonArray) {
      let total = 2;
      for (let i = 0; i < n; i++) total += (read.i32(msgs[i]! as Pointer, MSG.err) === 0 ? Math.max(4, read.u32(msgs[i]! as Pointer, MSG.len)) : 0) + 1;
      data[0] = 91; // [
      voff = 1;
      off = total;
    }
    for (let i = 0; i < n; i++) {
      const m = msgs[i]! as Pointer;
      const err = read.i32(m, MSG.err);
      const topic = this.topicName(read.ptr(m, MSG.rkt));
      const partition = read.i32(m, MSG.partition);
      if (err !== 0) {
        if (err !== ERR._PARTITION_EOF) {
          const len = read.u32(m, MSG.len);
          const p = read.ptr(m, MSG.payload);
          const message = p && len ? Buffer.from(new Uint8Array(toArrayBuffer(p, 0, len))).toString() : errName(err);
          batch.errors.push({ topic, partition, code: err, name: errName(err), message });
        }
        f.rd_kafka_message_destroy(m);
        continue;
      }
      batch.topic[k] = topic;
      if (batch.contentType) batch.contentType[k] = contentTypeOf(m);
      batch.partition[k] = partition;
      batch.offset[k] = readI64(m, MSG.offset);
      const kp = read.ptr(m, MSG.key);
      const kl = read.u32(m, MSG.key_len);
      if (kp) {
        if (kl) memcpy((base + off) as Pointer, kp as Pointer, kl);
        batch.keyStart[k] = off;
        batch.keyLen[k] = kl;
        off += kl;
      } else batch.keyLen[k] = -1;
      const vp = read.ptr(m, MSG.payload);
      const vl = read.u32(m, MSG.len);
      if (valuesAsJsonArray) {
        if (k > 0) data[voff++] = 44; // ,
        if (vp) {
          if (vl) memcpy((base + voff) as Pointer, vp as Pointer, vl);
          batch.valStart[k] = voff;
          batch.valLen[k] = vl;
          voff += vl;
        } else {
          data.set(NULL_TEXT, voff);
          voff += 4;
          batch.valLen[k] = -1;
        }
      } else if (vp) {
        if (vl) memcpy((base + off) as Pointer, vp as Pointer, vl);
        batch.valStart[k] = off;
        batch.valLen[k] = vl;
        off += vl;
      } else batch.valLen[k] = -1;
      k++;
      f.rd_kafka_message_destroy(m);
    }
    batch.count = k;
    batch.data = data;
    if (valuesAsJsonArray) {
      data[voff++] = 93; // ]
      batch.jsonArrayEnd = voff;
    }
    return batch;
  }

  protected override onEvent(type: number, ev: Pointer): void {
    if (type !== EVENT.OFFSET_COMMIT) return super.onEvent(type, ev);
    const err = rdk().rd_kafka_event_error(ev);
    const whole = err !== 0 && err !== ERR._NO_OFFSET;
    const parts = fromList(rdk().rd_kafka_event_topic_partition_list(ev) as Pointer | null);
    const failed = whole ? parts : parts.filter((p) => p.err && p.err !== ERR._NO_OFFSET);
    if (failed.length) {
      const why = whole ? `${str(rdk().rd_kafka_event_error_string(ev))} (${errName(err)})` : new KafkaError(failed[0]!.err!, "commit").message;
      log.warn({ partitions: failed.length }, `offset commit failed: ${why}`);
      this.failedCommits.push(...failed);
    }
  }

  /** Positions whose async commit failed since the last call (to be committed again). */
  takeFailedCommits(): TopicPartition[] {
    const out = this.failedCommits;
    this.failedCommits = [];
    return out;
  }

  /**
   * Commit explicit offsets (the NEXT offset to read, per partition). A sync commit that finds
   * nothing new returns _NO_OFFSET, which is not an error.
   */
  commit(offsets: TopicPartition[], async = false): void {
    if (offsets.length === 0) return;
    withList(offsets, (list) => {
      const rc = rdk().rd_kafka_commit(this.rk, list, async ? 1 : 0);
      if (rc !== 0 && rc !== ERR._NO_OFFSET) throw new KafkaError(rc, "commit");
      // A sync commit also reports per partition (the request can succeed while a partition's
      // commit was refused): any such error means that position is not committed.
      if (!async) {
        const failed = fromList(list).find((p) => p.err);
        if (failed) throw new KafkaError(failed.err!, `commit ${failed.topic}[${failed.partition}]`);
      }
    });
  }

  /** Committed offsets of this consumer's group for the given partitions (-1001 = none). */
  committed(parts: TopicPartition[], timeoutMs = 10_000): TopicPartition[] {
    return withList(parts, (list) => {
      retryTransient(timeoutMs, "committed offsets", (left) => rdk().rd_kafka_committed(this.rk, list, left));
      return fromList(list);
    });
  }

  /** Low/high watermarks librdkafka last saw for a partition (no request; -1001 when unknown). */
  cachedWatermarks(topic: string, partition: number): { low: number; high: number } {
    const lo = new BigInt64Array(1);
    const hi = new BigInt64Array(1);
    const rc = rdk().rd_kafka_get_watermark_offsets(this.rk, cstr(topic), partition, lo, hi);
    return rc === 0 ? { low: Number(lo[0]), high: Number(hi[0]) } : { low: -1001, high: -1001 };
  }

  pause(parts: TopicPartition[]): void {
    if (parts.length) withList(parts, (list) => check(rdk().rd_kafka_pause_partitions(this.rk, list), "pause"));
  }

  resume(parts: TopicPartition[]): void {
    if (parts.length) withList(parts, (list) => check(rdk().rd_kafka_resume_partitions(this.rk, list), "resume"));
  }

  seek(parts: TopicPartition[], timeoutMs = 5_000): void {
    withList(parts, (list) => checkErrorObject(rdk().rd_kafka_seek_partitions(this.rk, list, timeoutMs) as number | null, "seek"));
  }

  /** Leave the group cleanly (final revoke served here), then destroy the handle. */
  close(): void {
    if (this.isDestroyed) return;
    this.closing = true;
    if (this.pendingRevoke) this.completeRevoke();
    const rc = rdk().rd_kafka_consumer_close(this.rk);
    if (rc !== 0) log.warn({ code: errName(rc) }, "consumer close reported an error");
    rdk().rd_kafka_queue_destroy(this.consumerQueue);
    for (const rkt of this.topicHandles.values()) rdk().rd_kafka_topic_destroy(rkt);
    this.topicHandles.clear();
    this.destroy();
    this.rebalanceCb.close();
  }
}

/** Set the offset of every element of a native partition list (it is about to be assigned). */
function setOffsets(list: Pointer, offset: number): void {
  const cnt = read.i32(list, TPLIST.cnt);
  const elems = read.ptr(list, TPLIST.elems) as Pointer;
  for (let i = 0; i < cnt; i++) {
    new DataView(toArrayBuffer((elems + i * TPAR.SIZE + TPAR.offset) as Pointer, 0, 8)).setBigInt64(0, BigInt(offset), true);
  }
}

/** A message's content-type header as a CONTENT_TYPE code (the JS twin of batch.c's content_type). */
function contentTypeOf(m: Pointer): number {
  const f = rdk();
  const hdrs = new BigUint64Array(1);
  if (f.rd_kafka_message_headers(m, hdrs) !== 0 || !hdrs[0]) return 0;
  const val = new BigUint64Array(1);
  const size = new BigUint64Array(1);
  if (f.rd_kafka_header_get_last(Number(hdrs[0]) as Pointer, cstr("content-type"), val, size) !== 0 || !val[0]) return 0;
  const text = Buffer.from(new Uint8Array(toArrayBuffer(Number(val[0]) as Pointer, 0, Number(size[0])))).toString();
  // The media type without its parameters ("avro/binary; schema=ingest.User").
  return CONTENT_TYPE[text.split(";")[0]!.trim()] ?? CONTENT_TYPE_OTHER;
}

function emptyBatch(n: number): RecordBatch {
  return {
    count: 0,
    topic: new Array(n),
    partition: new Int32Array(n),
    offset: new Float64Array(n),
    keyStart: new Int32Array(n),
    keyLen: new Int32Array(n),
    valStart: new Int32Array(n),
    valLen: new Int32Array(n),
    data: new Uint8Array(0),
    jsonArrayEnd: 0,
    contentType: null,
    errors: [],
  };
}
