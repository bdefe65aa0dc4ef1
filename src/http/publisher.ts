import { Producer, MessageBatch, ERR, errName, type DeliveryReport } from "../kafka/index.ts";

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

interface Waiter {
  resolve: (d: Delivered | null) => void;
  reject: (e: Error) => void;
  /** --ack queued: settle once librdkafka took the message. */
  queuedAck: boolean;
}

/**
 * Requests' messages collected within one event-loop turn go to librdkafka in one
 * rd_kafka_produce_batch call; each request's promise settles from its delivery report (or as
 * soon as it is queued, with ack "queued"). A full producer queue refuses at once (503), it
 * never buffers without bound.
 */
export class Publisher {
  readonly producer: Producer;
  private readonly batch = new MessageBatch(10_000, 1 << 20);
  private readonly topics: string[] = [];
  private readonly ids: number[] = [];
  private readonly waiters = new Map<number, Waiter>();
  private seq = 0;
  private scheduled = false;
  private readonly pollTimer: ReturnType<typeof setInterval>;
  produced = 0;
  failed = 0;
  private readonly enc = new TextEncoder();

  constructor(
    props: Record<string, string>,
    private readonly maxQueued: number,
  ) {
    this.producer = new Producer(props, { onDelivery: (r) => this.onDelivery(r) });
    // Delivery reports are served from this timer (rd_kafka_queue_poll with timeout 0).
    this.pollTimer = setInterval(() => this.producer.poll(0), 1);
  }

  publish(topic: string, key: string, value: string, waitDelivery: boolean): Promise<Delivered | null> {
    if (this.queueDepth >= this.maxQueued) return Promise.reject(new QueueFullError("producer queue is full"));
    const id = ++this.seq;
    this.topics.push(topic);
    this.ids.push(id);
    this.batch.add(this.enc.encode(key), this.enc.encode(value), -1, id);
    const p = new Promise<Delivered | null>((resolve, reject) => this.waiters.set(id, { resolve, reject, queuedAck: !waitDelivery }));
    if (this.batch.full) this.flushBatch();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushBatch());
    }
    return p;
  }

  /** Hand the collected messages to librdkafka: one call per run of the same topic. */
  private flushBatch(): void {
    this.scheduled = false;
    const n = this.batch.count;
    if (n === 0) return;
    const ids = this.ids.slice(0, n);
    let from = 0;
    while (from < n) {
      const topic = this.topics[from]!;
      let to = from + 1;
      while (to < n && this.topics[to] === topic) to++;
      // No waiting here: refusals come back at once through onDelivery as _QUEUE_FULL.
      this.producer.produceBatch(topic, this.batch, from, to, 0);
      from = to;
    }
    for (const id of ids) {
      const w = this.waiters.get(id);
      if (w?.queuedAck) {
        this.waiters.delete(id);
        w.resolve(null);
      }
    }
    this.batch.reset();
    this.topics.length = 0;
    this.ids.length = 0;
    this.producer.poll(0);
  }

  private onDelivery(r: DeliveryReport): void {
    if (r.err === 0) this.produced++;
    else this.failed++;
    const w = this.waiters.get(r.opaque);
    if (!w) return;
    this.waiters.delete(r.opaque);
    if (r.err === 0) w.resolve({ partition: r.partition, offset: r.offset });
    else if (r.err === ERR._QUEUE_FULL) w.reject(new QueueFullError("producer queue is full"));
    else w.reject(new DeliveryError(errName(r.err), `delivery failed: ${errName(r.err)}`));
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
