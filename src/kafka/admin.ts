import { read, CString, type Pointer } from "bun:ffi";
import { rdk, cstr, str, EVENT, ERR, RD_KAFKA_PRODUCER } from "./ffi.ts";
import { Client } from "./client.ts";
import { KafkaError, check } from "./errors.ts";
import { cString } from "./conf.ts";
import { IngestError } from "../cli/errors.ts";

export interface PartitionInfo {
  id: number;
  leader: number;
  replicas: number[];
  isrs: number[];
  err: number;
}

export interface TopicInfo {
  name: string;
  partitions: PartitionInfo[];
  err: number;
}

export interface ClusterMetadata {
  brokers: { id: number; host: string; port: number }[];
  topics: TopicInfo[];
  originatingBroker: number;
}

/** Metadata, topic creation and watermarks over a lightweight producer handle. */
export class Admin extends Client {
  constructor(props: Record<string, string>) {
    super(RD_KAFKA_PRODUCER, props, 0); // admin results come on their own queue
  }

  /** Cluster metadata (all topics, or one). Blocks up to timeoutMs. */
  metadata(timeoutMs = 10_000, topic?: string, brokersOnly = false): ClusterMetadata {
    const f = rdk();
    const rkt = topic ? (f.rd_kafka_topic_new(this.rk, cstr(topic), null) as Pointer | null) : null;
    try {
      // all_topics 0 without a topic: the brokers and only the topics this handle knows (a cheap
      // round trip, where all topics can be a large answer on a large cluster).
      return fetchMetadata(this.rk, !topic && !brokersOnly, rkt, timeoutMs, `metadata from ${this.props["bootstrap.servers"]}`);
    } finally {
      if (rkt) f.rd_kafka_topic_destroy(rkt);
    }
  }

  /** Low and high watermark of one partition, asked of its leader. */
  watermarks(topic: string, partition: number, timeoutMs = 10_000): { low: number; high: number } {
    const lo = new BigInt64Array(1);
    const hi = new BigInt64Array(1);
    check(rdk().rd_kafka_query_watermark_offsets(this.rk, cstr(topic), partition, lo, hi, timeoutMs), `watermarks of ${topic}[${partition}]`);
    return { low: Number(lo[0]), high: Number(hi[0]) };
  }

  /**
   * Create a topic (CreateTopics, Kafka >= 0.10.1). `ifNotExists` turns "already exists"
   * into success when the partition count matches.
   */
  createTopic(name: string, partitions: number, replicationFactor = -1, config: Record<string, string> = {}, timeoutMs = 15_000): void {
    const f = rdk();
    const errstr = new Uint8Array(512);
    const nt = f.rd_kafka_NewTopic_new(cstr(name), partitions, replicationFactor, errstr, errstr.length) as Pointer | null;
    if (!nt) throw new IngestError(`topic '${name}': ${cString(errstr)}`, 2);
    const queue = f.rd_kafka_queue_new(this.rk) as Pointer;
    const opts = f.rd_kafka_AdminOptions_new(this.rk, 1 /* CREATETOPICS */) as Pointer;
    try {
      for (const [k, v] of Object.entries(config)) check(f.rd_kafka_NewTopic_set_config(nt, cstr(k), cstr(v)), `topic config ${k}`);
      f.rd_kafka_AdminOptions_set_operation_timeout(opts, timeoutMs, errstr, errstr.length);
      const arr = new BigUint64Array([BigInt(nt)]);
      f.rd_kafka_CreateTopics(this.rk, arr, 1, opts, queue);
      // Serve logs and errors while waiting, so a stuck request is visible with -X debug=admin.
      const until = performance.now() + timeoutMs + 5_000;
      let ev: Pointer | null = null;
      while (!ev && performance.now() < until) {
        ev = f.rd_kafka_queue_poll(queue, 100) as Pointer | null;
        this.pollEvents(0);
      }
      if (!ev) {
        throw new IngestError(
          `create topic '${name}': no answer from ${this.props["bootstrap.servers"]} within ${timeoutMs} ms ` +
            `(the embedded 'ingest broker' has no controller for the admin API: create topics when starting it, --topics ${name}:${partitions})`,
        );
      }
      try {
        const evErr = f.rd_kafka_event_error(ev);
        if (evErr) throw new KafkaError(evErr, `create topic '${name}'`, str(f.rd_kafka_event_error_string(ev)));
        const res = f.rd_kafka_event_CreateTopics_result(ev) as Pointer;
        const cnt = new BigUint64Array(1);
        const topics = f.rd_kafka_CreateTopics_result_topics(res, cnt) as Pointer;
        for (let i = 0; i < Number(cnt[0]); i++) {
          const tr = read.ptr(topics, i * 8) as Pointer;
          const err = f.rd_kafka_topic_result_error(tr);
          if (err !== 0) throw new KafkaError(err, `create topic '${name}'`, str(f.rd_kafka_topic_result_error_string(tr)));
        }
      } finally {
        f.rd_kafka_event_destroy(ev);
      }
    } finally {
      f.rd_kafka_AdminOptions_destroy(opts);
      f.rd_kafka_queue_destroy(queue);
      f.rd_kafka_NewTopic_destroy(nt);
    }
  }

  /** True when `name` exists in the cluster's metadata (asked without auto-creating it). */
  topicExists(name: string, timeoutMs = 10_000): TopicInfo | undefined {
    const t = this.metadata(timeoutMs).topics.find((x) => x.name === name);
    return t && t.err === 0 ? t : undefined;
  }

  /**
   * The topic's metadata, or a clear error when it does not exist. Asks for all topics, which
   * never triggers broker-side auto-creation.
   */
  requireTopic(name: string, timeoutMs = 10_000): TopicInfo {
    const t = this.topicExists(name, timeoutMs);
    if (!t) {
      throw new IngestError(
        `topic '${name}' does not exist on ${this.props["bootstrap.servers"]} ` +
          `(create it with: ingest topic create ${name} --partitions 6, or start the embedded broker with --topics ${name})`,
      );
    }
    return t;
  }

  /** The cluster's id (null when no broker answers in time). */
  clusterId(timeoutMs = 10_000): string | null {
    const f = rdk();
    const p = f.rd_kafka_clusterid(this.rk, timeoutMs) as Pointer | null;
    if (!p) return null;
    try {
      return new CString(p).toString();
    } finally {
      f.rd_kafka_mem_free(this.rk, p);
    }
  }

  /**
   * Whether this is librdkafka's mock cluster (the embedded broker, `ingest broker`): it answers
   * the transactional requests but writes no commit/abort markers, so read_committed readers see
   * aborted records too. Its cluster id says so.
   */
  isMockCluster(timeoutMs = 10_000): boolean {
    return this.clusterId(timeoutMs)?.startsWith("mockCluster") ?? false;
  }

  close(): void {
    this.destroy();
  }
}

export { ERR };

/**
 * Metadata as client `rk` gets it (rd_kafka_metadata, blocking up to timeoutMs): of topic handle
 * `rkt` only, else of all topics (`allTopics`) or of those the handle knows. Throws KafkaError.
 */
export function fetchMetadata(rk: Pointer, allTopics: boolean, rkt: Pointer | null, timeoutMs: number, what: string): ClusterMetadata {
  const f = rdk();
  const out = new BigUint64Array(1);
  const rc = f.rd_kafka_metadata(rk, allTopics ? 1 : 0, rkt, out, timeoutMs);
  if (rc !== 0) throw new KafkaError(rc, what);
  const md = Number(out[0]) as Pointer;
  try {
    return readMetadata(md);
  } finally {
    f.rd_kafka_metadata_destroy(md);
  }
}

function readMetadata(md: Pointer): ClusterMetadata {
  const brokerCnt = read.i32(md, 0);
  const brokersP = read.ptr(md, 8) as Pointer;
  const brokers = [];
  for (let i = 0; i < brokerCnt; i++) {
    const b = (brokersP + i * 24) as Pointer;
    brokers.push({ id: read.i32(b, 0), host: new CString(read.ptr(b, 8) as Pointer).toString(), port: read.i32(b, 16) });
  }
  const topicCnt = read.i32(md, 16);
  const topicsP = read.ptr(md, 24) as Pointer;
  const topics: TopicInfo[] = [];
  for (let i = 0; i < topicCnt; i++) {
    const t = (topicsP + i * 32) as Pointer;
    const pcnt = read.i32(t, 8);
    const partsP = read.ptr(t, 16) as Pointer;
    const partitions: PartitionInfo[] = [];
    for (let j = 0; j < pcnt; j++) {
      const p = (partsP + j * 40) as Pointer;
      const ints = (ptrv: number, n: number) => Array.from({ length: n }, (_, k) => read.i32(ptrv as Pointer, k * 4));
      partitions.push({
        id: read.i32(p, 0),
        err: read.i32(p, 4),
        leader: read.i32(p, 8),
        replicas: ints(read.ptr(p, 16), read.i32(p, 12)),
        isrs: ints(read.ptr(p, 32), read.i32(p, 24)),
      });
    }
    partitions.sort((a, b) => a.id - b.id);
    topics.push({ name: new CString(read.ptr(t, 0) as Pointer).toString(), partitions, err: read.i32(t, 24) });
  }
  topics.sort((a, b) => a.name.localeCompare(b.name));
  return { brokers, topics, originatingBroker: read.i32(md, 32) };
}
