import { ptr, read, JSCallback, FFIType, type Pointer } from "bun:ffi";
import { rdk, cstr, EVENT, ERR, MSG, VTYPE, VU_SIZE, RD_KAFKA_PRODUCER, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, RD_KAFKA_MSG_F_PARTITION } from "./ffi.ts";
import { linuxLib, PIPE_NONBLOCK_CLOEXEC } from "../core/libc.ts";
import { Client, readI64 } from "./client.ts";
import { KafkaError, errName } from "./errors.ts";
import { UsageError, IngestError } from "../core/errors.ts";
import { nativeBatch, type NativeBatch, type PartitionScratch } from "./native/batch.ts";
import { fetchMetadata } from "./admin.ts";

/**
 * A batch of messages laid out for rd_kafka_produce_batch: one array of rd_kafka_message_t
 * structs and one payload buffer that keys and values are encoded into. Callers reuse a batch
 * (reset()) so the hot loop allocates nothing per message.
 */
export class MessageBatch {
  readonly capacity: number;
  count = 0;
  /** Bytes used in `data`. Encoders may write at data[used..] and then call commit(). */
  used = 0;
  data: Uint8Array;
  readonly structs: Uint8Array;
  private readonly s32: Int32Array;
  private readonly u32: Uint32Array;
  /** Per message: key offset, key length (-1 = null key), value offset, value length (-1 = null). */
  private readonly spans: Int32Array;
  private readonly opaques: Float64Array;

  constructor(capacity = 10_000, dataBytes = 4 << 20) {
    this.capacity = capacity;
    this.data = new Uint8Array(dataBytes);
    this.structs = new Uint8Array(capacity * MSG.SIZE);
    this.s32 = new Int32Array(this.structs.buffer);
    this.u32 = new Uint32Array(this.structs.buffer);
    this.spans = new Int32Array(capacity * 4);
    this.opaques = new Float64Array(capacity);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  reset(): void {
    this.count = 0;
    this.used = 0;
  }

  /** Make sure `bytes` more fit in `data`, growing it (never while a send is in progress). */
  ensure(bytes: number): void {
    if (this.used + bytes <= this.data.length) return;
    const next = new Uint8Array(Math.max(this.data.length * 2, this.used + bytes));
    next.set(this.data.subarray(0, this.used));
    this.data = next;
  }

  /**
   * Point the batch at bytes the caller owns (e.g. a file read buffer) instead of copying into
   * its own buffer: messages are then committed as spans of `buf`, which must stay unchanged
   * until the batch is sent (librdkafka copies during the send). Only on an empty batch.
   */
  useBuffer(buf: Uint8Array): void {
    if (this.count !== 0) throw new Error("MessageBatch.useBuffer on a non-empty batch");
    this.data = buf;
    this.used = buf.length;
  }

  /** Record a message whose key and value were already written into `data`. */
  commit(keyOff: number, keyLen: number, valOff: number, valLen: number, partition = RD_KAFKA_PARTITION_UA, opaque = 0): void {
    const i = this.count++;
    const s = i * 4;
    this.spans[s] = keyOff;
    this.spans[s + 1] = keyLen;
    this.spans[s + 2] = valOff;
    this.spans[s + 3] = valLen;
    this.opaques[i] = opaque;
    this.s32[(i * MSG.SIZE + MSG.partition) >> 2] = partition;
  }

  /** Copy a key and value in and record the message. */
  add(key: Uint8Array | null, value: Uint8Array | null, partition = RD_KAFKA_PARTITION_UA, opaque = 0): void {
    this.ensure((key?.length ?? 0) + (value?.length ?? 0));
    const keyOff = this.used;
    if (key) this.data.set(key, keyOff);
    const valOff = keyOff + (key?.length ?? 0);
    if (value) this.data.set(value, valOff);
    this.used = valOff + (value?.length ?? 0);
    this.commit(keyOff, key ? key.length : -1, valOff, value ? value.length : -1, partition, opaque);
  }

  /**
   * Copy the values of the messages so far into `dst` at `at`, `sep` before each one (but the
   * first, when `first`), and return the end; `dst` needs room for used + count * sep.length
   * bytes. One native call per batch where batch.c is compiled, else a loop here.
   */
  copyValues(dst: Uint8Array, at: number, sep: Uint8Array, first: boolean): number {
    const nb = nativeBatch();
    if (nb) return at + nb.gather(this.data, this.spans, this.count, dst.subarray(at), sep, first);
    let o = at;
    for (let i = 0; i < this.count; i++) {
      if (i > 0 || !first) {
        dst.set(sep, o);
        o += sep.length;
      }
      const off = this.spans[i * 4 + 2]!;
      const len = this.spans[i * 4 + 3]!;
      if (len > 0) {
        dst.set(this.data.subarray(off, off + len), o);
        o += len;
      }
    }
    return o;
  }

  /** Write absolute pointers into the structs; `data` must not be replaced until the send returns. */
  fillPointers(from: number, to: number): void {
    const nb = nativeBatch();
    if (nb) return nb.fillPtrs(this.structs, this.data, this.spans, this.opaques, from, to);
    const base = ptr(this.data);
    const u = this.u32;
    for (let i = from; i < to; i++) {
      const w = (i * MSG.SIZE) >> 2;
      const s = i * 4;
      const klen = this.spans[s + 1]!;
      const vlen = this.spans[s + 3]!;
      u[w] = 0; // err
      setPtr(u, w + (MSG.payload >> 2), vlen < 0 ? 0 : base + this.spans[s + 2]!);
      setPtr(u, w + (MSG.len >> 2), Math.max(vlen, 0));
      setPtr(u, w + (MSG.key >> 2), klen < 0 ? 0 : base + this.spans[s]!);
      setPtr(u, w + (MSG.key_len >> 2), Math.max(klen, 0));
      setPtr(u, w + (MSG._private >> 2), this.opaques[i]!);
    }
  }

  private scratch: PartitionScratch | null = null;

  /**
   * Give messages from..to without a partition but with a key their partition, by librdkafka's
   * partitioner `fn` for `cnt` partitions, and order them by partition (batch.c ingest_partition).
   * Structs, spans and opaques move together, so errAt/opaqueAt stay right. After fillPointers.
   * A batch holding a message without a key keeps its order: see ingest_partition.
   */
  partitionRange(nb: NativeBatch, from: number, to: number, fn: Pointer, rkt: Pointer, cnt: number): void {
    if (!this.scratch || this.scratch.counts.length < cnt + 2) {
      this.scratch = {
        structs: this.scratch?.structs ?? new Uint8Array(this.capacity * MSG.SIZE),
        spans: this.scratch?.spans ?? new Int32Array(this.capacity * 4),
        opaques: this.scratch?.opaques ?? new Float64Array(this.capacity),
        counts: new Int32Array(cnt + 2),
      };
    }
    nb.partition(this.structs, this.spans, this.opaques, this.data, from, to, fn, rkt, cnt, this.scratch);
  }

  errAt(i: number): number {
    return this.s32[(i * MSG.SIZE + MSG.err) >> 2]!;
  }

  opaqueAt(i: number): number {
    return this.opaques[i]!;
  }

  /** Move message `from` to slot `to` (used to compact messages that must be retried). */
  move(from: number, to: number): void {
    if (from === to) return;
    this.structs.copyWithin(to * MSG.SIZE, from * MSG.SIZE, (from + 1) * MSG.SIZE);
    this.spans.copyWithin(to * 4, from * 4, from * 4 + 4);
    this.opaques[to] = this.opaques[from]!;
  }

  valueBytes(): number {
    return this.used;
  }
}

/** What librdkafka writes to the wake-up pipe (copied by it: any stable value). */
const WAKE_BYTE = new Uint8Array([1]);

function setPtr(u: Uint32Array, w: number, v: number): void {
  u[w] = v >>> 0;
  u[w + 1] = Math.floor(v / 4294967296);
}

/** rd_kafka_msg_status_t: sent to a broker, outcome unknown. */
const MSG_STATUS_POSSIBLY_PERSISTED = 1;

/**
 * One delivery report, as plain arguments (no object per message: the HTTP intake's hot path):
 * the message's opaque, 0 or the error code, and where it landed (-1, -1 on error).
 */
export type DeliveryCallback = (opaque: number, err: number, partition: number, offset: number) => void;

export interface ProducerOptions {
  /** Called for every delivery report when set; otherwise reports are only counted (faster). */
  onDelivery?: DeliveryCallback;
  /**
   * Ask librdkafka for reports of failed messages only (delivery.report.only.error): a message
   * that got its ack is freed on the broker thread and never crosses to JS. Counts stay exact:
   * once librdkafka holds nothing (inFlight 0), delivered = enqueued - failed. For batch jobs
   * that only count; not with onDelivery (it would hear of failures only).
   */
  failuresOnly?: boolean;
  /**
   * Count the bytes of this producer's Produce requests (wireBytes), through an interceptor in C
   * (batch.c), not statistics events. Without TinyCC wireBytes stays undefined.
   */
  countWireBytes?: boolean;
  /**
   * Order each produceBatch() batch by partition before the send: keyed messages without a
   * partition get theirs from librdkafka's own partitioner function (the `partitioner`
   * property's, same result) for the topic's partition count, which is asked of the brokers every
   * 10 s (a Metadata round trip that blocks this thread; see partitionCount). Needs batch.c, and
   * a partitioner that hashes keys (not `random`). INGEST_PREPARTITION=0 turns it off.
   */
  partitionBatches?: boolean;
  /**
   * With partitionBatches: where a topic's partition count comes from instead of this thread's
   * own Metadata requests (an event loop must not block on them: serve asks a worker); 0 while
   * unknown, and that batch goes out unordered.
   */
  partitionCount?: (topic: string) => number;
  /**
   * Headers every message of this producer carries (content-type, schema name and version),
   * added in C as librdkafka creates each message (batch.c's on_send interceptor), since
   * rd_kafka_produce_batch takes none. A message sent with headers of its own keeps those.
   */
  headers?: Record<string, string>;
}

/** The partitioners whose keyed result partitionBatches can reproduce: librdkafka's own functions, by property value. */
const KEYED_PARTITIONERS = {
  consistent: "rd_kafka_msg_partitioner_consistent",
  consistent_random: "rd_kafka_msg_partitioner_consistent_random",
  murmur2: "rd_kafka_msg_partitioner_murmur2",
  murmur2_random: "rd_kafka_msg_partitioner_murmur2_random",
  fnv1a: "rd_kafka_msg_partitioner_fnv1a",
  fnv1a_random: "rd_kafka_msg_partitioner_fnv1a_random",
} as const;

/** librdkafka's partitioner function for the `partitioner` property (default consistent_random), or null. */
function keyedPartitioner(props: Record<string, string>): Pointer | null {
  const name = KEYED_PARTITIONERS[(props.partitioner ?? "consistent_random") as keyof typeof KEYED_PARTITIONERS];
  return name ? ((rdk() as unknown as Record<string, { ptr: Pointer }>)[name]!.ptr ?? null) : null;
}

/** Whether countWireBytes works here (batch.c compiled by TinyCC); else the count needs statistics events. */
export function canCountWireBytes(): boolean {
  return (nativeBatch()?.txOnNew ?? null) !== null;
}

/** batch.c's wire byte counter slots in use in this thread (one per producer that counts). */
const txSlots = { next: 0, free: [] as number[] };

/**
 * A librdkafka producer. Messages go in through produceBatch() (one FFI call per batch) or
 * produce() (one call per message, with headers); delivery reports come back as DR events
 * served by poll().
 */
export class Producer extends Client {
  /** Messages handed to librdkafka (enqueued). */
  private sent = 0;
  /** Reports served: delivered ones (counted only when every report comes back), failed ones. */
  private deliveredReports = 0;
  private failedReports = 0;
  /** Failed messages: failure reports, and messages librdkafka refused to enqueue. */
  failed = 0;
  /** Of the failed: messages librdkafka reports as possibly written (sent, but no ack came). */
  possiblyPersisted = 0;
  /** Failures by error name, e.g. { _MSG_TIMED_OUT: 12 }. */
  readonly failures: Record<string, number> = {};
  /** First failure message seen, for summaries. */
  firstFailure: string | undefined;
  private readonly topics = new Map<string, Pointer>();
  private readonly onDelivery: DeliveryCallback | undefined;
  private readonly msgPtrs = new Uint32Array(2 * 10_000);
  /**
   * batch.c's ingest_dr and the columns it fills (one FFI call per 10,000 reports); null without
   * TinyCC or with INGEST_NATIVE_BATCH=0. Set at the first report event.
   */
  private dr: { nb: NativeBatch; err: Int32Array; partition: Int32Array; offset: Float64Array; opaque: Float64Array } | null | undefined;

  private readonly failuresOnly: boolean;

  constructor(props: Record<string, string>, opts: ProducerOptions = {}) {
    // Also when the user set the property (-X): the counts must follow what librdkafka reports.
    const failuresOnly = opts.failuresOnly === true || /^(true|t|1)$/i.test(props["delivery.report.only.error"] ?? "");
    if (failuresOnly && opts.onDelivery) throw new UsageError("delivery.report.only.error=true cannot be used here: every message's delivery report is needed");
    const nb = opts.countWireBytes && canCountWireBytes() ? nativeBatch() : null;
    const slot = nb ? (txSlots.free.pop() ?? txSlots.next++) : -1;
    const hdrs = opts.headers && Object.keys(opts.headers).length ? headerList(opts.headers) : null;
    const configure = (conf: Pointer) => {
      if (nb) {
        nb.txBytes(slot, true);
        // The slot number rides as the interceptor's opaque pointer.
        if (rdk().rd_kafka_conf_interceptor_add_on_new(conf, cstr("ingest-tx"), nb.txOnNew!, slot as unknown as Pointer) !== 0)
          throw new IngestError("cannot add the byte-counting interceptor to the producer configuration");
      }
      if (hdrs && rdk().rd_kafka_conf_interceptor_add_on_new(conf, cstr("ingest-headers"), hdrs.onNew, hdrs.list) !== 0)
        throw new IngestError("cannot add the header interceptor to the producer configuration");
    };
    try {
      super(RD_KAFKA_PRODUCER, opts.failuresOnly ? { ...props, "delivery.report.only.error": "true" } : props, EVENT.DR, configure);
    } catch (e) {
      if (slot >= 0) txSlots.free.push(slot);
      if (hdrs) rdk().rd_kafka_headers_destroy(hdrs.list);
      for (const cb of hdrs?.callbacks ?? []) cb.close();
      throw e;
    }
    this.headerTemplate = hdrs?.list ?? null;
    this.headerCallbacks = hdrs?.callbacks ?? [];
    this.onDelivery = opts.onDelivery;
    this.failuresOnly = failuresOnly;
    const ordering = opts.partitionBatches && process.env.INGEST_PREPARTITION !== "0" ? nativeBatch() : null;
    const fn = ordering ? keyedPartitioner(props) : null;
    this.ordering = ordering && fn ? { nb: ordering, fn, counts: new Map(), given: opts.partitionCount } : null;
    this.tx = nb ? { nb, slot } : null;
  }

  private readonly tx: { nb: NativeBatch; slot: number } | null;
  /** The header list batch.c copies into every message (freed after the handle). */
  private readonly headerTemplate: Pointer | null;
  /** The header interceptors as JS callbacks where batch.c is not compiled (closed after the handle). */
  private readonly headerCallbacks: JSCallback[];
  /** partitionBatches: batch.c, the partitioner function, and each topic's partition count with when to ask again. */
  private readonly ordering: {
    nb: NativeBatch;
    fn: Pointer;
    counts: Map<string, { count: number; next: number }>;
    given: ((topic: string) => number) | undefined;
  } | null;

  /** With partitionBatches: a topic's partition count known from elsewhere (e.g. a check just made), used for the next 10 s. */
  knowPartitionCount(topic: string, count: number): void {
    this.ordering?.counts.set(topic, { count, next: performance.now() + 10_000 });
  }

  /** The topic's partition count for ordering batches: the caller's, or asked every 10 s (after 5 s when unknown, 0). */
  private partitionCount(name: string, rkt: Pointer): number {
    const o = this.ordering!;
    if (o.given) return o.given(name);
    const now = performance.now();
    const known = o.counts.get(name);
    if (known && now < known.next) return known.count;
    let count = 0;
    try {
      count = fetchMetadata(this.rk, false, rkt, 500, `metadata of ${name}`).topics.find((t) => t.name === name && t.err === 0)?.partitions.length ?? 0;
    } catch {
      // unknown for now (no answer in time): this batch goes out unordered
    }
    o.counts.set(name, { count, next: now + (count > 0 ? 10_000 : 5_000) });
    return count;
  }
  private finalWireBytes: number | undefined;

  /**
   * Bytes of the Produce requests sent so far (record batches as compressed, with the requests'
   * framing), with countWireBytes; undefined without it.
   */
  get wireBytes(): number | undefined {
    if (!this.tx) return undefined;
    return this.isDestroyed ? this.finalWireBytes : this.tx.nb.txBytes(this.tx.slot);
  }

  /**
   * Messages enqueued whose outcome is not known yet. With every report coming back: those whose
   * report was not served. With failures only: what librdkafka still holds (queued, in flight,
   * or a failure report not yet served), rd_kafka_outq_len minus other events waiting.
   */
  get inFlight(): number {
    if (!this.failuresOnly) return this.sent - this.deliveredReports - this.failedReports;
    return this.isDestroyed ? 0 : Math.min(this.sent - this.failedReports, rdk().rd_kafka_outq_len(this.rk));
  }

  /** Messages the brokers acknowledged (exact once inFlight is 0). */
  get delivered(): number {
    return this.failuresOnly ? this.sent - this.failedReports - this.inFlight : this.deliveredReports;
  }

  /** The topic handle, created once per name. */
  topic(name: string): Pointer {
    let t = this.topics.get(name);
    if (!t) {
      t = (rdk().rd_kafka_topic_new(this.rk, cstr(name), null) as Pointer | null) ?? undefined;
      if (!t) throw new KafkaError(rdk().rd_kafka_last_error(), `topic '${name}'`);
      this.topics.set(name, t);
    }
    return t;
  }

  /**
   * Enqueue messages [from, to) of `batch`. QUEUE_FULL is handled by serving delivery reports
   * and retrying, never by dropping; `blockMs` bounds that wait (Infinity for batch jobs), and
   * messages still refused when it passes are reported failed with _QUEUE_FULL. Messages
   * librdkafka refuses for other reasons are reported failed too. Returns how many were enqueued.
   */
  produceBatch(topicName: string, batch: MessageBatch, from = 0, to = batch.count, blockMs = Infinity): number {
    const f = rdk();
    const rkt = this.topic(topicName);
    const deadline = performance.now() + blockMs;
    let enqueued = 0;
    const start = from;
    let end = to;
    const cnt = this.ordering && to > from ? this.partitionCount(topicName, rkt) : 0;
    while (start < end) {
      batch.fillPointers(start, end);
      if (cnt > 0) batch.partitionRange(this.ordering!.nb, start, end, this.ordering!.fn, rkt, cnt);
      const n = end - start;
      const ok = f.rd_kafka_produce_batch(
        rkt,
        RD_KAFKA_PARTITION_UA,
        RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_PARTITION,
        batch.structs.subarray(start * MSG.SIZE),
        n,
      );
      enqueued += ok;
      this.sent += ok;
      if (ok === n) break;
      // Compact the refused messages to the front; retry QUEUE_FULL ones, fail the rest.
      let w = start;
      for (let i = start; i < end; i++) {
        const err = batch.errAt(i);
        if (err === 0) continue;
        if (err === ERR._QUEUE_FULL) batch.move(i, w++);
        else this.fail(batch.opaqueAt(i), err);
      }
      end = w;
      if (start === end) break;
      if (performance.now() >= deadline) {
        // Still no room by the deadline: those messages fail as QUEUE_FULL (reported, not dropped).
        for (let i = start; i < end; i++) this.fail(batch.opaqueAt(i), ERR._QUEUE_FULL);
        break;
      }
      // Wait for room: a report frees some, but with failures only an ack frees it silently.
      this.poll(Math.min(this.failuresOnly ? 1 : 50, Math.max(1, deadline - performance.now())));
    }
    return enqueued;
  }

  /** One message with optional headers (rd_kafka_produceva). Throws KafkaError on refusal. */
  produce(
    topicName: string,
    key: Uint8Array | string | null,
    value: Uint8Array | string | null,
    opts: { partition?: number; headers?: Record<string, string | Uint8Array>; opaque?: number } = {},
  ): void {
    const f = rdk();
    const headers = Object.entries(opts.headers ?? {});
    const vus = new Uint8Array(VU_SIZE * 7);
    const dv = new DataView(vus.buffer);
    const keep: Uint8Array[] = []; // keep argument buffers alive for the duration of the call
    let i = 0;
    const put = (type: number, fill: (off: number) => void) => {
      dv.setInt32(i * VU_SIZE, type, true);
      fill(i * VU_SIZE + 8);
      i++;
    };
    const bytes = (x: Uint8Array | string) => {
      const b = typeof x === "string" ? new TextEncoder().encode(x) : x;
      // Small typed arrays can move; copy into one that is large enough to stay put.
      const stable = new Uint8Array(Math.max(b.length, 2048));
      stable.set(b);
      keep.push(stable);
      return { p: ptr(stable), n: b.length };
    };
    const setP = (off: number, v: number) => dv.setBigUint64(off, BigInt(v), true);
    const topicName0 = cstr(topicName);
    const topicStable = new Uint8Array(Math.max(2048, topicName0.length));
    topicStable.set(topicName0);
    keep.push(topicStable);
    put(VTYPE.TOPIC, (o) => setP(o, ptr(topicStable)));
    if (opts.partition !== undefined) put(VTYPE.PARTITION, (o) => dv.setInt32(o, opts.partition!, true));
    put(VTYPE.MSGFLAGS, (o) => dv.setInt32(o, RD_KAFKA_MSG_F_COPY, true));
    if (key !== null) {
      const k = bytes(key);
      put(VTYPE.KEY, (o) => (setP(o, k.p), setP(o + 8, k.n)));
    }
    if (value !== null) {
      const v = bytes(value);
      put(VTYPE.VALUE, (o) => (setP(o, v.p), setP(o + 8, v.n)));
    }
    if (opts.opaque) put(VTYPE.OPAQUE, (o) => setP(o, opts.opaque!));
    // Headers go in as one application-owned list (VTYPE_HEADERS): librdkafka 2.0.2 frees the
    // list it builds from VTYPE_HEADER entries twice when the produce fails (a crash, seen when a
    // dead-letter topic did not exist on a broker that does not auto-create topics).
    let hdrs: Pointer | null = null;
    if (headers.length) {
      hdrs = f.rd_kafka_headers_new(headers.length) as Pointer;
      for (const [name, val] of headers) {
        const n = bytes(name);
        const v = bytes(val);
        f.rd_kafka_header_add(hdrs, n.p, n.n, v.p, v.n);
      }
      const list = hdrs;
      put(VTYPE.HEADERS, (o) => setP(o, list));
    }
    const err = f.rd_kafka_produceva(this.rk, vus, i) as number | null;
    if (err) {
      const code = f.rd_kafka_error_code(err as never);
      const text = String(f.rd_kafka_error_string(err as never));
      f.rd_kafka_error_destroy(err as never);
      // On failure the headers stay the application's (on success the message owns them).
      if (hdrs) f.rd_kafka_headers_destroy(hdrs);
      throw new KafkaError(code, `produce to '${topicName}'`, text);
    }
    this.sent++;
    void keep;
  }

  /**
   * Transactions (transactional.id set): initTransactions once (fences any earlier producer
   * with the same id and aborts what it left open), then begin/commit or abort per transaction.
   * Each throws a TransactionError saying whether the producer is fenced or otherwise fatal.
   */
  initTransactions(timeoutMs = 60_000): void {
    this.txnCall("init transactions", rdk().rd_kafka_init_transactions(this.rk, timeoutMs) as Pointer | null);
  }

  /**
   * Before a transaction's first send to `topic`: the topic's partitions known to librdkafka.
   * librdkafka 2.0.2's rd_kafka_produce_batch with RD_KAFKA_MSG_F_PARTITION queues a message on
   * the "unassigned" partition while the topic's metadata is unknown, and adds that partition to
   * the transaction too, which the commit then fails on (INVALID_TXN_STATE): seen here with the
   * first batch right after the producer started.
   */
  learnTopic(topic: string, timeoutMs = 10_000): void {
    const rkt = this.topic(topic);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = Math.max(1, Math.round(deadline - performance.now()));
      const md = fetchMetadata(this.rk, false, rkt, left, `metadata of ${topic}`);
      if (md.topics.some((t) => t.name === topic && t.err === 0 && t.partitions.length > 0)) return;
      if (performance.now() >= deadline) throw new IngestError(`topic '${topic}': no partitions known after ${timeoutMs} ms`);
      Bun.sleepSync(100);
    }
  }

  beginTransaction(): void {
    this.txnCall("begin a transaction", rdk().rd_kafka_begin_transaction(this.rk) as Pointer | null);
  }

  /**
   * Flush and commit: returns once the brokers committed it. Every message of the transaction
   * gets its delivery report first (served here: the event API's reports need polling).
   */
  commitTransaction(timeoutMs = 60_000): void {
    // rd_kafka_commit_transaction flushes, but the reports of the event API are served by poll.
    this.flushSync(timeoutMs);
    this.txnCall("commit the transaction", rdk().rd_kafka_commit_transaction(this.rk, timeoutMs) as Pointer | null);
  }

  abortTransaction(timeoutMs = 60_000): void {
    this.txnCall("abort the transaction", rdk().rd_kafka_abort_transaction(this.rk, timeoutMs) as Pointer | null);
    this.poll(0);
  }

  private txnCall(what: string, err: Pointer | null): void {
    if (!err) return;
    const f = rdk();
    const code = f.rd_kafka_error_code(err);
    const text = String(f.rd_kafka_error_string(err));
    const fatal = f.rd_kafka_error_is_fatal(err) !== 0;
    const abortable = f.rd_kafka_error_txn_requires_abort(err) !== 0;
    const retriable = f.rd_kafka_error_is_retriable(err) !== 0;
    f.rd_kafka_error_destroy(err);
    throw new TransactionError(code, `cannot ${what}: ${text} (${errName(code)})`, { fatal, abortable, retriable });
  }

  private wakeFds: Int32Array | undefined;

  /**
   * Serve events as soon as they arrive, not only when the caller polls: librdkafka writes a
   * byte to a pipe when an event lands on the empty main queue (rd_kafka_queue_io_event_enable),
   * and Bun's event loop reads it and calls poll(0). No JS runs on librdkafka's threads. Where
   * there is no pipe2 (not Linux) nothing changes: the caller's own polling still serves them.
   */
  wakeOnEvents(): void {
    const lib = linuxLib();
    if (this.wakeFds || !lib || this.isDestroyed) return;
    const fds = new Int32Array(2);
    if (lib.pipe2(fds, PIPE_NONBLOCK_CLOEXEC) !== 0) return;
    this.wakeFds = fds;
    rdk().rd_kafka_queue_io_event_enable(this.mainQueue, fds[1]!, WAKE_BYTE, 1);
    const readFd = fds[0]!;
    void (async () => {
      try {
        // Ends when destroy() closes the write end.
        for await (const _ of Bun.file(readFd).stream()) if (!this.isDestroyed) this.poll(0);
      } catch {
        // a read error only stops the wake-ups
      } finally {
        lib.close(readFd);
      }
    })();
  }

  /** Serve delivery reports and other events; waits up to timeoutMs for the first. */
  poll(timeoutMs = 0): number {
    return this.pollEvents(timeoutMs);
  }

  protected override onEvent(type: number, ev: Pointer): void {
    if (type !== EVENT.DR) return super.onEvent(type, ev);
    const f = rdk();
    const arr = this.msgPtrs;
    const cap = arr.length >> 1;
    // Read in C where TinyCC is available: reading four fields per message through FFI was about
    // a fifth of POST /orders/batch's JS time. The JS loop below is the same without it.
    if (this.dr === undefined) {
      const nb = process.env.INGEST_NATIVE_BATCH === "0" ? null : nativeBatch();
      this.dr = nb && { nb, err: new Int32Array(cap), partition: new Int32Array(cap), offset: new Float64Array(cap), opaque: new Float64Array(cap) };
    }
    const c = this.dr;
    if (c) {
      for (;;) {
        const n = c.nb.dr(ev, arr, cap, c.err, c.partition, c.offset, c.opaque);
        for (let i = 0; i < n; i++) {
          const err = c.err[i]!;
          if (err !== 0) this.failedReport((arr[2 * i]! + arr[2 * i + 1]! * 4294967296) as Pointer, c.opaque[i]!, err);
          else {
            this.deliveredReports++;
            this.onDelivery?.(c.opaque[i]!, 0, c.partition[i]!, c.offset[i]!);
          }
        }
        if (n < cap) return;
      }
    }
    for (;;) {
      const n = Number(f.rd_kafka_event_message_array(ev, arr, cap));
      for (let i = 0; i < n; i++) {
        const m = (arr[2 * i]! + arr[2 * i + 1]! * 4294967296) as Pointer;
        const err = read.i32(m, MSG.err);
        if (err !== 0) this.failedReport(m, read.ptr(m, MSG._private), err);
        else {
          this.deliveredReports++;
          this.onDelivery?.(read.ptr(m, MSG._private), 0, read.i32(m, MSG.partition), readI64(m, MSG.offset));
        }
      }
      if (n < cap) break;
    }
  }

  /** A delivery report with an error, for message `m`. */
  private failedReport(m: Pointer, opaque: number, err: number): void {
    // A failure after the request was sent (a lost ack, a timeout) may still have been
    // written: librdkafka knows which, and a truthful summary says so.
    if (rdk().rd_kafka_message_status(m) === MSG_STATUS_POSSIBLY_PERSISTED) this.possiblyPersisted++;
    this.failedReports++;
    this.fail(opaque, err);
  }

  private fail(opaque: number, err: number): void {
    this.failed++;
    const name = errName(err);
    this.failures[name] = (this.failures[name] ?? 0) + 1;
    this.firstFailure ??= new KafkaError(err).message;
    this.onDelivery?.(opaque, err, -1, -1);
  }

  /**
   * Wait until every enqueued message has its delivery report (served here, since rd_kafka_flush
   * does not serve event-API reports). Returns false if the timeout passed first. Async so a
   * long flush does not freeze timers and signal handlers.
   */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.inFlight > 0) {
      if (performance.now() >= deadline) return false;
      this.poll(0);
      if (this.inFlight > 0) await Bun.sleep(this.inFlight > 1000 ? 1 : 2);
    }
    this.poll(0);
    return true;
  }

  /** Blocking flush for batch jobs that have nothing else to do meanwhile. */
  flushSync(timeoutMs = 30_000): boolean {
    const deadline = performance.now() + timeoutMs;
    // With failures only, the last acks come as no event at all: look again every millisecond.
    const step = this.failuresOnly ? 1 : 100;
    while (this.inFlight > 0 && performance.now() < deadline) this.poll(Math.min(step, Math.max(1, deadline - performance.now())));
    return this.inFlight === 0;
  }

  /** Messages in librdkafka's queues (including in flight to brokers). */
  get queueLength(): number {
    return rdk().rd_kafka_outq_len(this.rk);
  }

  /** Destroy topic handles, then the client (callers flush first). */
  override destroy(): void {
    if (this.isDestroyed) return;
    if (this.wakeFds) rdk().rd_kafka_queue_io_event_enable(this.mainQueue, -1, null, 0);
    for (const t of this.topics.values()) rdk().rd_kafka_topic_destroy(t);
    this.topics.clear();
    super.destroy();
    if (this.headerTemplate) rdk().rd_kafka_headers_destroy(this.headerTemplate);
    for (const cb of this.headerCallbacks) cb.close();
    if (this.tx) {
      // The broker threads are gone: the count is final and the slot free.
      this.finalWireBytes = this.tx.nb.txBytes(this.tx.slot);
      txSlots.free.push(this.tx.slot);
    }
    // librdkafka writes no more: closing the write end ends the reader (which closes its end).
    if (this.wakeFds) linuxLib()!.close(this.wakeFds[1]!);
  }

  /** Flush (bounded), purge what is left as failed, and destroy the handle. */
  async close(timeoutMs = 30_000): Promise<void> {
    if (this.isDestroyed) return;
    await this.flush(timeoutMs);
    if (this.inFlight > 0) {
      rdk().rd_kafka_purge(this.rk, 0x1 | 0x2); // queued + in-flight: their reports arrive as _PURGE_*
      this.flushSync(5_000);
    }
    this.destroy();
  }
}

/** A transactional call failed: fatal (fenced by a newer producer, say) or abortable. */
export class TransactionError extends KafkaError {
  readonly fatal: boolean;
  readonly abortable: boolean;
  /** librdkafka says the same call may succeed if made again. */
  readonly mayRetry: boolean;
  constructor(code: number, message: string, f: { fatal: boolean; abortable: boolean; retriable: boolean }) {
    super(code, message);
    this.message = message;
    this.fatal = f.fatal;
    this.abortable = f.abortable;
    this.mayRetry = f.retriable;
  }
  /** This producer was fenced: another one with the same transactional.id started since. */
  get fenced(): boolean {
    return this.codeName === "_FENCED" || this.codeName === "PRODUCER_FENCED" || this.codeName === "INVALID_PRODUCER_EPOCH";
  }
}

/** A librdkafka header list holding `headers`, and batch.c's interceptor that copies it into every message. */
function headerList(headers: Record<string, string>): { list: Pointer; onNew: Pointer; callbacks?: JSCallback[] } {
  const f = rdk();
  const list = f.rd_kafka_headers_new(Object.keys(headers).length) as Pointer;
  for (const [k, v] of Object.entries(headers)) {
    const value = new TextEncoder().encode(v);
    f.rd_kafka_header_add(list, cstr(k), -1, value, value.length);
  }
  const nb = nativeBatch();
  if (nb) return { list, onNew: nb.headersOnNew };
  // Without batch.c: the same two interceptors as JS callbacks. Both run on this thread (on_new
  // inside rd_kafka_new, on_send inside the produce call), never on a librdkafka thread.
  const one = new BigUint64Array(1);
  const onSend = new JSCallback(
    (_rk: Pointer, msg: Pointer, tmpl: Pointer) => {
      if (f.rd_kafka_message_headers(msg, one) !== 0 || !one[0]) f.rd_kafka_message_set_headers(msg, f.rd_kafka_headers_copy(tmpl) as Pointer);
      return 0;
    },
    { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  );
  const onNew = new JSCallback(
    (rk: Pointer, _conf: Pointer, tmpl: Pointer) => f.rd_kafka_interceptor_add_on_send(rk, cstr("ingest-headers"), onSend.ptr!, tmpl),
    {
      args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64],
      returns: FFIType.i32,
    },
  );
  return { list, onNew: onNew.ptr!, callbacks: [onNew, onSend] };
}

/** Producer defaults tuned for throughput (measured in bench/); any can be overridden. */
export const THROUGHPUT_DEFAULTS: Record<string, string> = {
  "linger.ms": "5",
  "batch.num.messages": "10000",
  "batch.size": "1000000",
  "queue.buffering.max.messages": "1000000",
  "queue.buffering.max.kbytes": "1048576",
};

export function checkCompression(name: string): string {
  const ok = ["none", "gzip", "snappy", "lz4", "zstd"];
  if (!ok.includes(name)) throw new UsageError(`--compression: '${name}' is not one of ${ok.join("|")}`);
  return name;
}
