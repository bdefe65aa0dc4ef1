import { Producer, MessageBatch, ERR, errName } from "../kafka/index.ts";

export class QueueFullError extends Error {}
export class DeliveryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Delivered {
  partition: number;
  offset: number;
}

/** The outcome of publishMany: per message, partition/offset (-1 when only queued) or its error. */
export interface GroupResult {
  partitions: number[];
  offsets: number[];
  /** null when every message was acknowledged (or queued, with ack "queued"). */
  errors: (Error | undefined)[] | null;
}

/**
 * The messages of one request (one order, or a whole batch) share one waiter: its promise
 * settles once, when the last of them has its delivery report, instead of one promise each.
 * A group owns a slot; its messages' opaques are base + index, so a report finds its group by
 * arithmetic (no per-message map entry).
 */
class Group {
  pending: number;
  /** Answered: with ack "queued" at hand-off, while reports still come back and only count. */
  settled = false;
  slot = -1;
  base = 0;
  // Plain arrays: typed arrays cost more to allocate than they save for one-message groups.
  readonly partitions: number[];
  readonly offsets: number[];
  errors: (Error | undefined)[] | null = null;
  constructor(
    readonly n: number,
    readonly queuedAck: boolean,
    readonly resolve: (r: GroupResult) => void,
  ) {
    this.pending = n;
    // A single order (the common request) gets literal one-element arrays: cheaper than fill().
    this.partitions = n === 1 ? [-1] : new Array<number>(n).fill(-1);
    this.offsets = n === 1 ? [-1] : new Array<number>(n).fill(-1);
  }
  settle(): void {
    this.settled = true;
    this.resolve(this);
  }
}

/** Opaques per group slot: more than any batch (--max-batch is at most 1,000,000). */
const SLOT_SPAN = 2 ** 22;

const encoder = new TextEncoder();

/**
 * Requests' messages collected within one event-loop turn go to librdkafka in one
 * rd_kafka_produce_batch call; each request settles from its messages' delivery reports (or as
 * soon as they are queued, with ack "queued"). A full producer queue refuses at once (503), it
 * never buffers without bound.
 */
export class Publisher {
  readonly producer: Producer;
  private readonly batch = new MessageBatch(10_000, 1 << 20);
  private readonly topics: string[] = [];
  /** Groups waiting for reports, by slot (see Group); freed slots are reused. */
  private readonly slots: (Group | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Groups whose messages are in `batch`, not yet handed to librdkafka. */
  private readonly collected: Group[] = [];
  private scheduled = false;
  private readonly pollTimer: ReturnType<typeof setInterval>;
  produced = 0;
  failed = 0;

  /**
   * `partitionCount`, when given, turns on batches ordered by partition (Producer
   * partitionBatches) with the partition counts it gives (0 while unknown: that batch goes out
   * unordered). Measured: docs/design.md, "Batches ordered by partition".
   */
  constructor(
    props: Record<string, string>,
    private readonly maxQueued: number,
    partitionCount?: (topic: string) => number,
    /**
     * Per topic, how a JSON value becomes the bytes sent (serve --schema-registry: Avro in the
     * registry's wire format); topics without one are sent as the JSON text. `contentType` is the
     * header every record carries (null: none).
     */
    private readonly values: { contentType: string | null; encode: Record<string, (json: string) => Uint8Array> } = {
      contentType: "application/json",
      encode: {},
    },
  ) {
    this.producer = new Producer(props, {
      // Every record says what it is (consume picks its decoder by it).
      headers: values.contentType ? { "content-type": values.contentType } : undefined,
      partitionBatches: partitionCount !== undefined,
      partitionCount,
      onDelivery: (opaque, err, partition, offset) => this.onDelivery(opaque, err, partition, offset),
    });
    // Delivery reports are served from this timer (rd_kafka_queue_poll with timeout 0), after
    // every hand-off to librdkafka...
    this.pollTimer = setInterval(() => this.producer.poll(0), 1);
    // ...and as soon as librdkafka has one (a pipe the event loop watches): with the timer
    // alone a report waited half a millisecond on average, and with --ack delivered every
    // request waits for its report.
    this.producer.wakeOnEvents();
  }

  /** One message; resolves with its partition and offset (null with ack "queued"). */
  publish(topic: string, key: string, value: string, waitDelivery: boolean): Promise<Delivered | null> {
    return this.publishMany(topic, [key], [value], waitDelivery).then((r) => {
      if (r.errors) throw r.errors[0]!;
      return r.partitions[0]! >= 0 ? { partition: r.partitions[0]!, offset: r.offsets[0]! } : null;
    });
  }

  /**
   * Several messages to one topic, settled together. Never rejects: per-message failures are in
   * the result's errors. A refusal because of the --max-queued bound rejects with QueueFullError.
   */
  publishMany(topic: string, keys: string[], values: string[], waitDelivery: boolean): Promise<GroupResult> {
    const n = keys.length;
    if (this.queueDepth + n > this.maxQueued) return Promise.reject(new QueueFullError("producer queue is full"));
    let resolve!: (r: GroupResult) => void;
    const p = new Promise<GroupResult>((r) => (resolve = r));
    const g = this.register(new Group(n, !waitDelivery, resolve));
    for (let i = 0; i < n; ) {
      if (this.batch.full) this.flushBatch();
      const to = Math.min(n, i + this.batch.capacity - this.batch.count);
      this.addRun(topic, keys, values, i, to, g.base);
      for (let j = i; j < to; j++) this.topics.push(topic);
      i = to;
    }
    this.collected.push(g);
    this.schedule();
    return p;
  }

  /**
   * Like publishMany, for messages already encoded: message i's key is
   * data[spans[4i], +spans[4i+1]) and its value data[spans[4i+2], +spans[4i+3]), each message's
   * bytes following the previous one's, so runs of them are copied in with one set().
   */
  publishEncoded(topic: string, data: Uint8Array, spans: Int32Array, n: number, waitDelivery: boolean): Promise<GroupResult> {
    let resolve!: (r: GroupResult) => void;
    const p = new Promise<GroupResult>((r) => (resolve = r));
    return this.submitEncoded(topic, data, spans, n, waitDelivery, resolve) ? p : Promise.reject(new QueueFullError("producer queue is full"));
  }

  /**
   * publishEncoded without a promise: `done` is called once with the group's result (from the
   * delivery reports, or at hand-off with ack "queued"), never before. Returns false, calling
   * nothing, when the --max-queued bound refuses the messages. The HTTP hot path uses this so
   * that a request costs one promise (the one Bun.serve waits for), not a chain of them.
   */
  submitEncoded(topic: string, data: Uint8Array, spans: Int32Array, n: number, waitDelivery: boolean, done: (r: GroupResult) => void): boolean {
    if (this.queueDepth + n > this.maxQueued) return false;
    const g = this.register(new Group(n, !waitDelivery, done));
    const b = this.batch;
    for (let i = 0; i < n; ) {
      if (b.full) this.flushBatch();
      const to = Math.min(n, i + b.capacity - b.count);
      const from = spans[4 * i]!;
      const end = spans[4 * (to - 1) + 2]! + spans[4 * (to - 1) + 3]!;
      b.ensure(end - from);
      const shift = b.used - from;
      b.data.set(data.subarray(from, end), b.used);
      for (let j = i; j < to; j++) {
        const s = 4 * j;
        b.commit(spans[s]! + shift, spans[s + 1]!, spans[s + 2]! + shift, spans[s + 3]!, -1, g.base + j);
        this.topics.push(topic);
      }
      b.used += end - from;
      i = to;
    }
    this.collected.push(g);
    this.schedule();
    return true;
  }

  private register(g: Group): Group {
    if (g.n >= SLOT_SPAN) throw new Error(`at most ${SLOT_SPAN - 1} messages in one request`);
    const slot = this.freeSlots.pop() ?? this.slots.length;
    this.slots[slot] = g;
    g.slot = slot;
    g.base = slot * SLOT_SPAN + 1;
    return g;
  }

  private release(g: Group): void {
    this.slots[g.slot] = undefined;
    this.freeSlots.push(g.slot);
  }

  private schedule(): void {
    if (this.batch.full) this.flushBatch();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushBatch());
    }
  }

  /**
   * Copy messages [from, to) into the batch with one encodeInto call for all of them: per-message
   * encoding was a fifth of the batch route's CPU. Offsets come from string lengths, which is
   * right only for ASCII; if the text is not all ASCII, it is encoded again message by message.
   */
  private addRun(topic: string, keys: string[], values: string[], from: number, to: number, base: number): void {
    const b = this.batch;
    const encode = this.values.encode[topic];
    if (encode) {
      for (let i = from; i < to; i++) b.add(encoder.encode(keys[i]!), encode(values[i]!), -1, base + i);
      return;
    }
    let text = "";
    for (let i = from; i < to; i++) text += keys[i]! + values[i]!;
    b.ensure(3 * text.length); // UTF-8 needs at most 3 bytes per UTF-16 unit
    const start = b.used;
    const written = encoder.encodeInto(text, b.data.subarray(start)).written;
    if (written === text.length) {
      let off = start;
      for (let i = from; i < to; i++) {
        const k = keys[i]!.length;
        const v = values[i]!.length;
        b.commit(off, k, off + k, v, -1, base + i);
        off += k + v;
      }
      b.used = off;
      return;
    }
    for (let i = from; i < to; i++) b.add(encoder.encode(keys[i]!), encoder.encode(values[i]!), -1, base + i);
  }

  /** Hand the collected messages to librdkafka: one call per run of the same topic. */
  private flushBatch(): void {
    this.scheduled = false;
    const n = this.batch.count;
    if (n === 0) return;
    let from = 0;
    while (from < n) {
      const topic = this.topics[from]!;
      let to = from + 1;
      while (to < n && this.topics[to] === topic) to++;
      // No waiting here: refusals come back at once through onDelivery as _QUEUE_FULL.
      this.producer.produceBatch(topic, this.batch, from, to, 0);
      from = to;
    }
    this.batch.reset();
    this.topics.length = 0;
    for (const g of this.collected) {
      // Queued: answer now; the reports still arrive later and only count.
      if (g.queuedAck && !g.settled) g.settle();
    }
    this.collected.length = 0;
    this.producer.poll(0);
  }

  /** One delivery report. */
  private onDelivery(opaque: number, err: number, partition: number, offset: number): void {
    if (err === 0) this.produced++;
    else this.failed++;
    const slot = Math.floor((opaque - 1) / SLOT_SPAN);
    const g = this.slots[slot];
    if (!g) return;
    if (!g.settled) {
      const i = opaque - g.base;
      if (err === 0) {
        g.partitions[i] = partition;
        g.offsets[i] = offset;
      } else {
        g.errors ??= new Array(g.n);
        g.errors[i] =
          err === ERR._QUEUE_FULL ? new QueueFullError("producer queue is full") : new DeliveryError(errName(err), `delivery failed: ${errName(err)}`);
      }
    }
    if (--g.pending === 0) {
      this.release(g);
      if (!g.settled) g.settle();
    }
  }

  get queueDepth(): number {
    return this.producer.inFlight + this.batch.count;
  }

  /** Send what is collected, wait for every report (bounded), and close the producer. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.flushBatch();
    await this.producer.flush(timeoutMs);
    clearInterval(this.pollTimer);
    await this.producer.close(1000);
  }
}
