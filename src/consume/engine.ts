/**
 * The consume loop: a group member that takes batches from librdkafka, decodes and validates
 * each record, spreads the records over `lanes` by key (same key, same lane, in offset order),
 * writes each lane's batches through to every sink, and commits an offset only when it and
 * every offset before it in its partition has been written everywhere (OffsetTracker).
 *
 * Lanes are async chains on this thread, not Bun workers: the work per batch is store I/O
 * (mysql2 and redis are async), so lanes overlap their round trips on one thread; decoding runs
 * here too (measured: `--sink none` decodes and validates JSON at the rate in docs/benchmarks.md, and a
 * worker hop would add a copy of every batch). Poison records go to `<topic>.dlq`.
 */
import { Consumer, Producer, KafkaError, type RecordBatch, type TopicPartition } from "../kafka/index.ts";
import type { ValueDecoder } from "./decode.ts";
import { RawValues, type Sink, type OrderBatchResult } from "../sinks/types.ts";
import type { User, Order } from "../core/records.ts";
import { OffsetTracker, type CommitPosition } from "./offsets.ts";
import { laneOf, validateUser, validateOrder, type Kind } from "./records.ts";
import { log } from "../observability/log.ts";
import { SinkError } from "../sinks/errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
/**
 * Fetches wait up to 20 ms for 64 KiB (librdkafka: 1 byte, up to 500 ms). A steady trickle of
 * orders otherwise arrives a few records per fetch, and every fetch costs the broker a request,
 * this loop a wake-up and each lane a store transaction; a backlog fills 64 KiB at once, so only
 * a trickle waits, and 20 ms at most. -X overrides both.
 */
const FETCH_DEFAULTS = { "fetch.min.bytes": "65536", "fetch.wait.max.ms": "20" };
/** Commit errors that pass once the group settles. */
const COMMIT_RETRY = new Set([
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "REQUEST_TIMED_OUT",
  "_TIMED_OUT",
  "_TRANSPORT",
]);

function validate(kind: Kind, v: unknown): User | Order | string {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "undecodable json: expected an object";
  return kind === "users" ? validateUser(v as Record<string, unknown>) : validateOrder(v as Record<string, unknown>);
}

export interface ConsumeOptions {
  /** Shared by the group consumer and the dead-letter producer. */
  kafka: Record<string, string>;
  /** The group consumer's own settings on top of `kafka` (isolation.level). */
  consumerKafka?: Record<string, string>;
  group: string;
  topics: string[];
  kinds: Map<string, Kind>;
  /**
   * --format raw: values are neither decoded nor validated, only handed on as bytes (sinks none
   * and stdout). Measures the transport alone; nothing is poison.
   */
  raw?: boolean;
  /** Written in this order; the first SQL store decides orders, later sinks get its result. */
  sinks: Sink[];
  /** Values to records: by content-type header or --format, Avro through a schema registry (decode.ts). */
  decoder: ValueDecoder;
  lanes: number;
  batchSize: number;
  /**
   * A decoded sub-batch still waiting for its lane's first sink takes the next batches' records
   * of its kind: when the stores are the bottleneck a lane's writes grow (fewer transactions and
   * round trips per record, like a group commit); when they keep up nothing waits. Orders merge
   * up to this (an order write is a transaction with fixed costs: the id lookup, the products'
   * locks, which every lane contends for, and the commit); users up to batchSize (or this, if
   * smaller): larger user writes measured no faster.
   */
  maxWriteRecords: number;
  commitIntervalMs: number;
  fromBeginning: boolean;
  maxMessages: number;
  idleExitMs: number;
  /** Records taken but not yet written before fetching pauses (backpressure). */
  maxInFlight: number;
  dlq: boolean;
  /** Log a progress line this often (and once at the end); 0: never (a live terminal view draws instead). */
  reportEveryMs: number;
  /** Give up retrying a failing store this long after a stop was asked for. */
  stopGraceMs: number;
}

export interface ConsumeStats {
  received: number;
  written: number;
  poison: number;
  dlqDelivered: number;
  bySink: Record<string, number>;
  /** Successful writes (statements or transactions) per sink: bySink / writesBySink is records per write. */
  writesBySink: Record<string, number>;
  ordersAccepted: number;
  ordersRejected: number;
  ordersDuplicate: number;
  commits: number;
  committed: CommitPosition[];
  storeFailures: number;
  /** From the first record taken to the last record written or dead-lettered (the rate's time). */
  seconds: number;
  /** From the first record taken to the end of the run (includes an --idle-exit-ms wait). */
  wallSeconds: number;
  firstMessageAt: number | null;
  /** performance.now() of the last record written or dead-lettered. */
  lastWriteAt: number | null;
  stoppedBy: string;
  abandoned: number;
  /** Set when the last (synchronous) commit at exit failed: written positions not committed. */
  finalCommitError?: string;
}

/**
 * A run: consecutive records of one partition in one fetched batch. The offset tracker sees a
 * run as one position (its last offset), done when every record of the run is written or
 * dead-lettered: one tracker update per partition per batch instead of one per record (the
 * per-record Map updates cost as much as JSON.parse). Commits stay exact: a run's end is only
 * committed once all of it and everything before it is written.
 */
interface Run {
  topic: string;
  partition: number;
  last: number;
  /** Records of the run not yet written or dead-lettered. */
  pending: number;
  /** The run ended and was handed to the tracker. */
  closed: boolean;
}

interface Pending {
  kind: Kind | "raw";
  records: (User | Order)[] | RawValues;
  /** The runs this sub-batch's records belong to, and how many records of each. */
  runs: Run[];
  counts: number[];
  /** Called once every sink is done with it (written or given up): raw values may be reused. */
  release?: () => void;
  /** Its first sink has begun writing it: nothing more may join it. */
  started?: boolean;
}

/** A sub-batch a sink gave up on: later sinks skip it and its offsets stay uncommitted. */
const ABANDONED = Symbol("abandoned");
type Upstream = OrderBatchResult | undefined | typeof ABANDONED;

/** Count one more record of `run` in a sub-batch (records of one run are consecutive there). */
function addToRun(p: Pending, run: Run): void {
  const last = p.runs.length - 1;
  if (last >= 0 && p.runs[last] === run) p.counts[last]!++;
  else {
    p.runs.push(run);
    p.counts.push(1);
  }
}

export class ConsumeEngine {
  readonly stats: ConsumeStats;
  private readonly consumer: Consumer;
  private readonly tracker = new OffsetTracker();
  /** Per lane: the promise of its last queued sub-batch's completion (drain waits on these). */
  private readonly lanes: Promise<void>[];
  /** Per lane, per sink: the promise of that sink's last queued write in the lane. */
  private readonly stages: Promise<void>[][];
  private dlqProducer: Producer | undefined;
  private readonly dlqPending = new Map<
    number,
    { topic: string; partition: number; offset: number; run: Run; value: Uint8Array | null; key: Uint8Array | null; reason: string }
  >();
  private dlqSeq = 0;
  /** Poison records skipped without a DLQ (--no-dlq): done, not written. */
  private skipped = 0;
  private stopReason: string | null = null;
  private stopAt = 0;
  private paused = false;
  private storeDown = false;
  /** Sub-batches currently retrying a failed store: the outage starts at 0 -> 1 and ends at 1 -> 0. */
  private failingWrites = 0;
  private lastCommit = 0;
  private readonly t0 = performance.now();
  private readonly jsonArray: boolean;
  /** Per lane and kind (lane * 2 + kind): the last queued decoded sub-batch, while it can take more. */
  private readonly open = new Map<number, Pending>();
  /** Per kind: how many records a queued sub-batch may grow to (maxWriteRecords). */
  private readonly mergeLimit: Record<Kind, number>;

  constructor(private readonly o: ConsumeOptions) {
    this.consumer = new Consumer(
      { "auto.offset.reset": "earliest", "group.id": o.group, ...FETCH_DEFAULTS, ...o.kafka, ...o.consumerKafka, "enable.auto.commit": "false" },
      { deferRevoke: true, startOffset: o.fromBeginning ? -2 : undefined, contentTypes: !o.raw },
    );
    this.jsonArray = !o.raw && o.decoder.format === "json";
    this.mergeLimit = { users: Math.min(o.batchSize, o.maxWriteRecords), orders: o.maxWriteRecords };
    this.lanes = Array.from({ length: Math.max(1, o.lanes) }, () => Promise.resolve());
    this.stages = this.lanes.map(() => o.sinks.map(() => Promise.resolve()));
    this.stats = {
      received: 0,
      written: 0,
      poison: 0,
      dlqDelivered: 0,
      bySink: Object.fromEntries(o.sinks.map((s) => [s.name, 0])),
      writesBySink: Object.fromEntries(o.sinks.map((s) => [s.name, 0])),
      ordersAccepted: 0,
      ordersRejected: 0,
      ordersDuplicate: 0,
      commits: 0,
      committed: [],
      storeFailures: 0,
      seconds: 0,
      wallSeconds: 0,
      firstMessageAt: null,
      lastWriteAt: null,
      stoppedBy: "",
      abandoned: 0,
    };
  }

  /** Ask the loop to finish: stop taking records, write and commit what was taken, leave. */
  stop(reason: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.stopAt = performance.now();
    log.info({ reason }, "consume: stopping: finishing in-flight batches, then committing");
  }

  async run(): Promise<ConsumeStats> {
    this.consumer.subscribe(this.o.topics);
    log.info(
      { group: this.o.group, topics: this.o.topics, sinks: this.o.sinks.map((s) => `${s.name} ${s.target}`), lanes: this.lanes.length },
      "consume: started",
    );
    let lastData = performance.now();
    let lastReport = performance.now();
    let reportedAt = 0;
    let sleepMs = 1;
    let fullSince = 0;
    try {
      while (!this.stopReason) {
        await this.handleRebalances();
        this.dlqProducer?.poll(0);
        if (this.storeDown) {
          // A store is failing: stop fetching (pause) until its retries succeed, but keep polling,
          // or librdkafka leaves the group once max.poll.interval.ms passes without a poll and
          // every commit after that fails ("Unknown member").
          this.setPaused(true);
          await Promise.race([Promise.all(this.lanes), Bun.sleep(50)]);
          await this.keepPolling();
          this.maybeCommit();
          continue;
        }
        if (this.paused && this.inFlight() < this.o.maxInFlight) this.setPaused(false);
        if (this.inFlight() >= this.o.maxInFlight) {
          // Lanes are full: take nothing more until they drain. librdkafka's fetch queue is bounded
          // (queued.max.messages.kbytes), so this is backpressure without pausing; pausing would
          // make librdkafka drop its prefetched messages and fetch them again. But a store that
          // stays slow for long would keep us from polling past max.poll.interval.ms and lose the
          // group membership: after a second of being full, pause and keep polling.
          fullSince ||= performance.now();
          await Promise.race([Promise.all(this.lanes), Bun.sleep(20)]);
          if (performance.now() - fullSince > 1000 && this.inFlight() >= this.o.maxInFlight) {
            this.setPaused(true);
            await this.keepPolling();
          }
          this.maybeCommit();
          continue;
        }
        fullSince = 0;
        const batch = this.consumer.consume(this.o.batchSize, this.jsonArray);
        for (const e of batch.errors) log.warn({ topic: e.topic, partition: e.partition, code: e.name }, `consume: ${e.message}`);
        if (batch.count > 0) {
          lastData = performance.now();
          sleepMs = 1;
          this.stats.firstMessageAt ??= performance.now();
          await this.take(batch);
          // Let the lanes run (their writes are queued as promise continuations), and when the
          // fetch queue is nearly empty let it fill rather than spin on per-call overhead.
          await Bun.sleep(batch.count < this.o.batchSize / 4 ? 1 : 0);
        } else {
          // --idle-exit-ms counts only while partitions are assigned: a group join is not idleness.
          const idleSince = Math.max(lastData, this.consumer.lastAssignAt);
          if (
            this.o.idleExitMs > 0 &&
            this.consumer.assignment.size > 0 &&
            performance.now() - idleSince > this.o.idleExitMs &&
            this.inFlight() === 0 &&
            this.dlqPending.size === 0
          ) {
            this.stop(`idle for ${this.o.idleExitMs} ms`);
          }
          // Back off while idle, to 5 ms at most: an empty poll costs a few microseconds, and the
          // cap is the delay a record arriving at an idle consumer can wait before it is taken.
          await Bun.sleep(sleepMs);
          sleepMs = Math.min(5, sleepMs * 2);
        }
        if (this.o.maxMessages > 0 && this.stats.received >= this.o.maxMessages) {
          await this.drain();
          if (this.stats.written + this.stats.dlqDelivered >= this.o.maxMessages) this.stop(`--max-messages ${this.o.maxMessages} reached`);
        }
        this.maybeCommit();
        if (this.o.reportEveryMs > 0 && performance.now() - lastReport >= this.o.reportEveryMs) {
          this.report((this.stats.written - reportedAt) / ((performance.now() - lastReport) / 1000));
          reportedAt = this.stats.written;
          lastReport = performance.now();
        }
      }
      await this.drain();
      if (this.dlqPending.size > 0) {
        // Dead-letter sends still refused when the stop's grace ran out: like a batch a sink gave
        // up on, these poison records stay uncommitted (consumed again) and the exit says so.
        this.stats.abandoned += this.dlqPending.size;
        log.warn(
          { records: this.dlqPending.size },
          "consume: stopping with dead-letter sends still failing: these records stay uncommitted and will be consumed again",
        );
        this.dlqPending.clear();
      }
      this.stats.finalCommitError = await this.finalCommit();
    } finally {
      this.stats.stoppedBy = this.stopReason ?? "error";
      const from = this.stats.firstMessageAt ?? this.t0;
      this.stats.wallSeconds = (performance.now() - from) / 1000;
      this.stats.seconds = ((this.stats.lastWriteAt ?? performance.now()) - from) / 1000;
      try {
        this.consumer.close();
      } catch (e) {
        log.warn({ err: (e as Error).message }, "consume: close failed");
      }
      if (this.dlqProducer) await this.dlqProducer.close(10_000);
    }
    if (this.o.reportEveryMs > 0) this.report(this.stats.written / Math.max(this.stats.seconds, 1e-3));
    return this.stats;
  }

  /**
   * Dispatch a batch once the writer schemas it names are fetched (a registry that is down
   * sends those records to the DLQ: see decode.ts); the loop keeps polling meanwhile only
   * between batches, so batches stay in order.
   */
  private async take(b: RecordBatch): Promise<void> {
    if (!this.o.raw && this.o.decoder.needsPrepare(b)) await this.o.decoder.prepare(b);
    this.dispatch(b);
  }

  /** Split a fetched batch into per-lane, per-kind sub-batches and queue them on their lanes. */
  private dispatch(b: RecordBatch): void {
    /** --format raw: this batch's sub-batch per lane (they point into its buffer, so never merge). */
    const per = new Map<number, Pending>();
    // JSON: one decode and one parse for the whole batch; a batch holding anything that is not
    // JSON falls back to record by record, so the poison one is found and only it goes to the DLQ.
    let parsed: unknown[] | null = null;
    if (b.jsonArrayEnd > 0) {
      try {
        parsed = JSON.parse(utf8.decode(b.data.subarray(0, b.jsonArrayEnd))) as unknown[];
        if (parsed.length !== b.count) parsed = null;
      } catch {
        parsed = null;
      }
    }
    // The batch's buffer goes back to the consumer for reuse once nothing reads it: decoded
    // records hold copies (at the end of this call), raw sub-batches point into it (when every
    // one of them is written).
    let rawParts = 0;
    const releaseRaw = () => {
      if (--rawParts === 0) this.consumer.recycle(b.data);
    };
    let run: Run | undefined;
    for (let i = 0; i < b.count; i++) {
      const topic = b.topic[i]!;
      const partition = b.partition[i]!;
      const offset = b.offset[i]!;
      if (!run || run.partition !== partition || run.topic !== topic) {
        if (run) this.closeRun(run);
        run = { topic, partition, last: offset, pending: 0, closed: false };
      } else if (!(offset > run.last)) {
        throw new RangeError(`consume: ${topic}[${partition}] offset ${offset} taken after ${run.last}; offsets must increase`);
      }
      run.last = offset;
      run.pending++;
      this.stats.received++;
      const lane = b.keyLen[i]! > 0 ? laneOf(b.data, b.keyStart[i]!, b.keyLen[i]!, this.lanes.length) : partition % this.lanes.length;
      if (this.o.raw) {
        let p = per.get(lane * 2);
        if (!p) {
          per.set(lane * 2, (p = { kind: "raw", records: new RawValues(b.data), runs: [], counts: [], release: releaseRaw }));
          rawParts++;
        }
        (p.records as RawValues).start.push(b.valStart[i]!);
        (p.records as RawValues).len.push(b.valLen[i]!);
        addToRun(p, run);
        continue;
      }
      const kind = this.o.kinds.get(topic)!;
      const value = b.valLen[i]! < 0 ? null : b.data.subarray(b.valStart[i]!, b.valStart[i]! + b.valLen[i]!);
      const rec = value === null ? "null value" : parsed ? validate(kind, parsed[i]) : this.o.decoder.decode(kind, value, b.contentType?.[i] ?? 0);
      if (typeof rec === "string") {
        const key = b.keyLen[i]! < 0 ? null : b.data.slice(b.keyStart[i]!, b.keyStart[i]! + b.keyLen[i]!);
        this.toDlq(topic, partition, offset, run, key, value ? value.slice() : null, rec);
        continue;
      }
      // Into the lane's queued sub-batch of this kind while its first sink has not started on it
      // and it is below the merge limit; else a new one, queued at once (its write starts later,
      // in a promise continuation, so records added during this call still go with it).
      const k = lane * 2 + (kind === "users" ? 0 : 1);
      let p = this.open.get(k);
      if (!p || p.started || p.records.length >= this.mergeLimit[kind]) {
        p = { kind, records: [], runs: [], counts: [] };
        this.open.set(k, p);
        this.enqueue(lane, p);
      }
      (p.records as (User | Order)[]).push(rec);
      addToRun(p, run);
    }
    if (run) this.closeRun(run);
    if (!this.o.raw) this.consumer.recycle(b.data);
    for (const [k, p] of per) this.enqueue(k >> 1, p);
  }

  /** A run's last record was dispatched: the tracker takes it (and completes it if nothing is pending). */
  private closeRun(run: Run): void {
    this.tracker.track(run.topic, run.partition, run.last);
    run.closed = true;
    if (run.pending === 0) this.tracker.done(run.topic, run.partition, run.last);
  }

  /** n records of a run were written (or dead-lettered). */
  private runDone(run: Run, n: number): void {
    run.pending -= n;
    if (run.pending === 0 && run.closed) this.tracker.done(run.topic, run.partition, run.last);
  }

  /**
   * Queue one sub-batch on its lane as a pipeline over the sinks: sink i writes this sub-batch
   * after sink i-1 has written it (a cache follows its SQL store's result) and after sink i has
   * written the lane's previous sub-batch (order per key, per sink). So MySQL can write batch
   * n+1 while Redis writes batch n: a lane takes the slowest sink's time, not the sum. The
   * sub-batch's offsets are done once the last sink has it.
   */
  private enqueue(lane: number, p: Pending): void {
    const stages = this.stages[lane]!;
    let prev: Promise<Upstream> = Promise.resolve(undefined);
    for (let si = 0; si < this.o.sinks.length; si++) {
      const sink = this.o.sinks[si]!;
      const first = si === 0;
      const cur = Promise.all([stages[si], prev]).then(([, up]) => {
        if (first) {
          p.started = true;
          const k = lane * 2 + (p.kind === "users" ? 0 : 1);
          if (this.open.get(k) === p) this.open.delete(k);
        }
        return up === ABANDONED ? ABANDONED : this.writeSink(p, sink, up);
      });
      stages[si] = cur.then(() => undefined);
      prev = cur;
    }
    this.lanes[lane] = prev.then((r) => {
      p.release?.();
      if (r === ABANDONED) return;
      for (let i = 0; i < p.runs.length; i++) this.runDone(p.runs[i]!, p.counts[i]!);
      this.stats.written += p.records.length;
      this.stats.lastWriteAt = performance.now();
    });
  }

  /**
   * Write one sub-batch to one sink, retrying with capped backoff while the store fails.
   * Resolves to the order result the next sinks build on (the SQL store's), or ABANDONED when
   * it gave up (a stop with the store still failing, or an error no retry can fix).
   */
  private async writeSink(p: Pending, s: Sink, upstream: OrderBatchResult | undefined): Promise<Upstream> {
    let failing = false;
    // One outage is one pair of log lines however many lanes meet it: it ends when the last
    // retrying write gets through, not when the first does (a lane retrying on a connection
    // that died with the outage would otherwise flip the state again).
    const endFailing = () => {
      if (!failing) return;
      failing = false;
      if (--this.failingWrites === 0 && this.storeDown) {
        this.storeDown = false;
        log.info("consume: stores answer again: resuming");
      }
    };
    for (let attempt = 0; ; attempt++) {
      try {
        let out = upstream;
        if (p.kind === "raw") await s.writeRaw!(p.records as RawValues);
        else if (p.kind === "users") await s.writeUsers(p.records as User[]);
        else {
          const r = await s.writeOrders(p.records as Order[], upstream);
          if (!upstream && (s.name === "mysql" || s.name === "sqlite")) {
            out = r;
            for (const x of r.results) {
              if (x.status === "accepted") this.stats.ordersAccepted++;
              else if (x.status === "rejected") this.stats.ordersRejected++;
              else if (x.status === "duplicate") this.stats.ordersDuplicate++;
            }
          }
        }
        this.stats.bySink[s.name] = (this.stats.bySink[s.name] ?? 0) + p.records.length;
        this.stats.writesBySink[s.name] = (this.stats.writesBySink[s.name] ?? 0) + 1;
        endFailing();
        return out;
      } catch (e) {
        this.stats.storeFailures++;
        if (e instanceof SinkError && !e.retriable) {
          // Retrying cannot help (stdout closed, a value the database refuses): stop, leave
          // these records uncommitted, and exit non-zero naming the error.
          endFailing();
          this.stats.abandoned += p.records.length;
          if (!this.stopReason) log.error({ err: e.message }, "consume: a sink failed in a way a retry cannot fix; stopping");
          this.stop(e.message);
          return ABANDONED;
        }
        if (!failing) {
          failing = true;
          this.failingWrites++;
        }
        if (!this.storeDown) {
          this.storeDown = true;
          log.error({ err: (e as Error).message }, "consume: a store failed; pausing partitions and retrying with backoff (nothing is committed past it)");
        }
        if (this.stopReason && performance.now() - this.stopAt > this.o.stopGraceMs) {
          endFailing();
          this.stats.abandoned += p.records.length;
          log.warn({ records: p.records.length }, "consume: stopping with a store still failing: these records stay uncommitted and will be consumed again");
          return ABANDONED;
        }
        await Bun.sleep(Math.min(5_000, 50 * 2 ** Math.min(attempt, 7)));
      }
    }
  }

  /** Poison: to `<topic>.dlq` with the error and its source in headers; done once delivered. */
  private toDlq(topic: string, partition: number, offset: number, run: Run, key: Uint8Array | null, value: Uint8Array | null, reason: string): void {
    this.stats.poison++;
    if (!this.o.dlq) {
      log.warn({ topic, partition, offset, reason }, "consume: poison record skipped (--no-dlq)");
      this.skipped++;
      this.runDone(run, 1);
      return;
    }
    const id = ++this.dlqSeq;
    this.dlqPending.set(id, { topic, partition, offset, run, key, value, reason });
    this.sendDlq(id);
  }

  private sendDlq(id: number): void {
    const p = this.dlqPending.get(id);
    if (!p) return; // given up on at the stop (see run)
    this.dlqProducer ??= new Producer(
      { ...this.o.kafka, "linger.ms": "5" },
      {
        onDelivery: (opaque, err) => {
          const item = this.dlqPending.get(opaque);
          if (!item) return;
          if (err === 0) {
            this.dlqPending.delete(opaque);
            this.stats.dlqDelivered++;
            this.stats.lastWriteAt = performance.now();
            this.runDone(item.run, 1);
          } else {
            log.error({ topic: `${item.topic}.dlq`, code: err }, "consume: dead-letter produce failed; retrying");
            setTimeout(() => this.sendDlq(opaque), 1000);
          }
        },
      },
    );
    try {
      this.dlqProducer.produce(`${p.topic}.dlq`, p.key, p.value, {
        opaque: id,
        headers: {
          "ingest.error": p.reason,
          "ingest.source.topic": p.topic,
          "ingest.source.partition": String(p.partition),
          "ingest.source.offset": String(p.offset),
        },
      });
    } catch (e) {
      log.error({ err: (e as Error).message }, "consume: dead-letter produce refused; retrying");
      setTimeout(() => this.sendDlq(id), 1000);
    }
  }

  private async handleRebalances(): Promise<void> {
    for (const ev of this.consumer.takeRebalances()) {
      if (ev.kind === "assign") {
        // librdkafka keeps a partition's pause through a revoke and its re-assignment (Java's
        // consumer does not): paused during a drain, resumed while the assignment was empty, it
        // came back paused while this loop believed it fetching, and the group stalled.
        this.applyPause(ev.partitions.map((p) => ({ topic: p.topic, partition: p.partition })));
        continue;
      }
      // Revoke: finish what was taken from these partitions, commit it, then let them go.
      await this.drain();
      this.commitNow(false, ev.partitions);
      this.tracker.revoke(ev.partitions);
      this.consumer.completeRevoke();
    }
    if (this.consumer.revokePending) this.consumer.completeRevoke();
  }

  /** Wait until every queued lane batch and dead-letter delivery has finished. */
  private async drain(): Promise<void> {
    const t0 = performance.now();
    // A drain held up by a failing store can last longer than max.poll.interval.ms: after a
    // second, pause fetching and keep polling (see keepPolling).
    const poll = async () => {
      if (performance.now() - t0 > 1000) {
        this.setPaused(true);
        await this.keepPolling();
      }
    };
    for (;;) {
      const lanes = [...this.lanes];
      const all = Promise.all(lanes);
      let settled = false;
      void all.then(() => (settled = true));
      while (!settled) {
        await Promise.race([all, Bun.sleep(200)]);
        if (!settled) await poll();
      }
      while (this.dlqPending.size > 0) {
        this.dlqProducer?.poll(0);
        await Bun.sleep(5);
        await poll();
        if (this.stopReason && performance.now() - this.stopAt > this.o.stopGraceMs) break;
      }
      if (lanes.every((l, i) => l === this.lanes[i])) return;
    }
  }

  /**
   * Poll the consumer while its partitions are paused, so the group keeps this member: librdkafka
   * counts max.poll.interval.ms from the last consume call. Paused partitions deliver nothing new;
   * anything fetched before the pause still arrives here and is queued like any batch, in order.
   */
  private async keepPolling(): Promise<void> {
    const batch = this.consumer.consume(this.o.batchSize, this.jsonArray);
    for (const e of batch.errors) log.warn({ topic: e.topic, partition: e.partition, code: e.name }, `consume: ${e.message}`);
    if (batch.count > 0) await this.take(batch);
  }

  private maybeCommit(): void {
    if (performance.now() - this.lastCommit >= this.o.commitIntervalMs) this.commitNow(true);
  }

  /**
   * The last commit, synchronous. A broker refuses commits while the group rebalances (another
   * member leaving at the same time, say): serve the rebalance and try again for a few seconds.
   * If it still fails, the error is returned and the command exits non-zero. Nothing is lost
   * then (the records are written and will be consumed again, idempotently), but the group lags.
   */
  private async finalCommit(): Promise<string | undefined> {
    let err = this.commitNow(false);
    const deadline = performance.now() + 10_000;
    while (err instanceof KafkaError && COMMIT_RETRY.has(err.codeName) && performance.now() < deadline) {
      this.setPaused(true);
      await Bun.sleep(250);
      await this.keepPolling();
      await this.handleRebalances();
      await this.drain();
      err = this.commitNow(false);
    }
    return err?.message;
  }

  /** Commit the contiguous written positions (of `only` these partitions, when given). */
  private commitNow(async: boolean, only?: TopicPartition[]): Error | undefined {
    this.lastCommit = performance.now();
    this.tracker.commitFailed(this.consumer.takeFailedCommits() as CommitPosition[]);
    let pos = this.tracker.committable();
    if (only) pos = pos.filter((p) => only.some((q) => q.topic === p.topic && q.partition === p.partition));
    if (!pos.length) return undefined;
    try {
      this.consumer.commit(pos, async);
      this.tracker.markCommitted(pos);
      this.stats.commits++;
      for (const p of pos) {
        const i = this.stats.committed.findIndex((c) => c.topic === p.topic && c.partition === p.partition);
        if (i >= 0) this.stats.committed[i] = p;
        else this.stats.committed.push(p);
      }
    } catch (e) {
      log.warn({ err: (e as Error).message }, "consume: commit failed; will retry");
      return e as Error;
    }
    return undefined;
  }

  private setPaused(on: boolean): void {
    if (on === this.paused) return;
    this.paused = on;
    if (!this.applyPause([...this.consumer.assignment.values()].map((p) => ({ topic: p.topic, partition: p.partition })))) this.paused = !on;
  }

  /** Pause or resume these assigned partitions as `paused` says; false if librdkafka refused. */
  private applyPause(parts: TopicPartition[]): boolean {
    try {
      if (this.paused) this.consumer.pause(parts);
      else this.consumer.resume(parts);
      return true;
    } catch (e) {
      log.warn({ err: (e as Error).message }, `consume: ${this.paused ? "pause" : "resume"} failed`);
      return false;
    }
  }

  /** Records taken and not yet written (or dead-lettered), without walking the tracker. */
  inFlight(): number {
    return this.stats.received - this.stats.written - this.stats.dlqDelivered - this.skipped - this.stats.abandoned;
  }

  /** The partitions this member holds now. */
  assignment(): TopicPartition[] {
    return [...this.consumer.assignment.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /** The consumer's client id (librdkafka's handle name), as the group's description shows it. */
  get clientName(): string {
    return this.consumer.name;
  }

  /** Lag per assigned partition: high watermark minus the committed position. */
  lag(): { topic: string; partition: number; lag: number }[] {
    const out = [];
    for (const p of this.consumer.assignment.values()) {
      const { high } = this.consumer.cachedWatermarks(p.topic, p.partition);
      const pos = this.stats.committed.find((c) => c.topic === p.topic && c.partition === p.partition)?.offset ?? 0;
      if (high >= 0) out.push({ topic: p.topic, partition: p.partition, lag: Math.max(0, high - pos) });
    }
    return out;
  }

  /** A progress line at info; the per-partition detail (committed, lag) at debug only. */
  private report(rate: number): void {
    const lag = this.lag();
    log.info(
      {
        msgs_per_s: Math.round(rate),
        received: this.stats.received,
        written: this.stats.bySink,
        poison: this.stats.poison,
        dlq: this.stats.dlqDelivered,
        in_flight: this.inFlight(),
        lag: lag.reduce((s, l) => s + l.lag, 0),
      },
      "consume: progress",
    );
    if (log.isLevelEnabled("debug")) {
      log.debug(
        {
          committed: this.stats.committed.map((c) => `${c.topic}[${c.partition}]@${c.offset}`),
          lag_by_partition: lag.map((l) => `${l.topic}[${l.partition}]=${l.lag}`),
        },
        "consume: progress by partition",
      );
    }
  }
}
