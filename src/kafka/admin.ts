import { read, CString, ptr as addressOf, type Pointer } from "bun:ffi";
import { rdk, cstr, str, ERR, ADMIN_OP, RD_KAFKA_PRODUCER } from "./ffi.ts";
import { Client } from "./client.ts";
import { KafkaError, check, errName, retryTransient } from "./errors.ts";
import { withList, fromList, type TopicPartition } from "./partitions.ts";
import { cString } from "./conf.ts";
import { IngestError } from "../core/errors.ts";

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

/** A consumer group as ListConsumerGroups reports it. */
export interface GroupListing {
  id: string;
  /** Stable, Empty, PreparingRebalance, CompletingRebalance, Dead or Unknown. */
  state: string;
  /** A group that only commits offsets (no members ever joined). */
  simple: boolean;
}

export interface GroupMember {
  /** The broker's member id (consumer id). */
  id: string;
  clientId: string;
  host: string;
  assignment: { topic: string; partition: number }[];
}

export interface GroupDescription {
  id: string;
  state: string;
  assignor: string;
  /** Broker id of the group's coordinator (-1 unknown). */
  coordinator: number;
  members: GroupMember[];
  error?: string;
}

interface AdminJob<T> {
  op: number;
  what: string;
  /** Start the request on `queue` with `opts` (both destroyed by runAdmin). */
  start: (opts: Pointer, queue: Pointer) => void;
  /** Read the result event (valid only during the call); throw to fail the request. */
  read: (ev: Pointer) => T;
}

/** Metadata, topics, watermarks and consumer groups over a lightweight producer handle. */
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
    const name = cstr(topic);
    retryTransient(timeoutMs, `watermarks of ${topic}[${partition}]`, (left) => rdk().rd_kafka_query_watermark_offsets(this.rk, name, partition, lo, hi, left));
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
    try {
      for (const [k, v] of Object.entries(config)) check(f.rd_kafka_NewTopic_set_config(nt, cstr(k), cstr(v)), `topic config ${k}`);
      const [res] = this.runAdmin(
        [
          {
            op: ADMIN_OP.CREATETOPICS,
            what: `create topic '${name}'`,
            start: (opts, queue) => {
              f.rd_kafka_AdminOptions_set_operation_timeout(opts, timeoutMs, errstr, errstr.length);
              f.rd_kafka_CreateTopics(this.rk, new BigUint64Array([BigInt(nt)]), 1, opts, queue);
            },
            read: (ev) => {
              const res = f.rd_kafka_event_CreateTopics_result(ev) as Pointer;
              const cnt = new BigUint64Array(1);
              const topics = f.rd_kafka_CreateTopics_result_topics(res, cnt) as Pointer;
              for (let i = 0; i < Number(cnt[0]); i++) {
                const tr = read.ptr(topics, i * 8) as Pointer;
                const err = f.rd_kafka_topic_result_error(tr);
                if (err !== 0) throw new KafkaError(err, `create topic '${name}'`, str(f.rd_kafka_topic_result_error_string(tr)));
              }
            },
          },
        ],
        timeoutMs + 5_000,
      );
      if (res instanceof KafkaError && res.code === ERR._TIMED_OUT) {
        throw new IngestError(
          `create topic '${name}': no answer from ${this.props["bootstrap.servers"]} within ${timeoutMs} ms ` +
            `(the embedded 'ingest broker' has no controller for the admin API: create topics when starting it, --topics ${name}:${partitions})`,
        );
      }
      if (res instanceof Error) throw res;
    } finally {
      f.rd_kafka_NewTopic_destroy(nt);
    }
  }

  /**
   * Low and high watermarks of many partitions in two ListOffsets rounds (earliest, latest), each
   * one request per leader (rd_kafka_offsets_for_times with the logical offsets -2 and -1), where
   * watermarks() asks partition by partition. A partition that failed carries its error's name.
   */
  watermarksOf(
    parts: { topic: string; partition: number }[],
    timeoutMs = 10_000,
  ): { topic: string; partition: number; low: number; high: number; error?: string }[] {
    if (parts.length === 0) return [];
    const round = (logical: number) =>
      withList(
        parts.map((p) => ({ ...p, offset: logical })),
        (list) => {
          check(rdk().rd_kafka_offsets_for_times(this.rk, list, timeoutMs), `watermarks of ${parts.length} partition(s)`);
          return fromList(list);
        },
      );
    const low = round(-2);
    const high = round(-1);
    return parts.map((p, i) => {
      const l = low[i]!;
      const h = high[i]!;
      const err = l.err || h.err;
      return { topic: p.topic, partition: p.partition, low: l.offset ?? -1, high: h.offset ?? -1, ...(err ? { error: errName(err) } : {}) };
    });
  }

  /**
   * The cluster's consumer groups (ListConsumerGroups, asked of every broker). Brokers that could
   * not answer are in `errors`; a cluster that cannot list groups at all (the embedded broker has
   * no ListGroups) throws.
   */
  listGroups(timeoutMs = 10_000): { groups: GroupListing[]; errors: string[] } {
    const f = rdk();
    const [res] = this.runAdmin(
      [
        {
          op: ADMIN_OP.LISTCONSUMERGROUPS,
          what: "list consumer groups",
          start: (opts, queue) => f.rd_kafka_ListConsumerGroups(this.rk, opts, queue),
          read: (ev) => {
            const r = f.rd_kafka_event_ListConsumerGroups_result(ev) as Pointer;
            const cnt = new BigUint64Array(1);
            const valid = f.rd_kafka_ListConsumerGroups_result_valid(r, cnt) as Pointer | null;
            const groups: GroupListing[] = [];
            for (let i = 0; i < Number(cnt[0]); i++) {
              const g = read.ptr(valid!, i * 8) as Pointer;
              groups.push({
                id: str(f.rd_kafka_ConsumerGroupListing_group_id(g)),
                state: str(f.rd_kafka_consumer_group_state_name(f.rd_kafka_ConsumerGroupListing_state(g))),
                simple: f.rd_kafka_ConsumerGroupListing_is_simple_consumer_group(g) !== 0,
              });
            }
            const errs = f.rd_kafka_ListConsumerGroups_result_errors(r, cnt) as Pointer | null;
            const errors = Array.from({ length: Number(cnt[0]) }, (_, i) => errorText(read.ptr(errs!, i * 8) as Pointer));
            if (groups.length === 0 && errors.length > 0) throw new Error(errors[0]);
            return { groups: groups.sort((a, b) => a.id.localeCompare(b.id)), errors };
          },
        },
      ],
      timeoutMs,
    );
    if (res instanceof Error) throw res;
    return res!;
  }

  /** Members and their assignments of these groups (DescribeConsumerGroups); a group that failed carries `error`. */
  describeGroups(ids: string[], timeoutMs = 10_000): GroupDescription[] {
    if (ids.length === 0) return [];
    const f = rdk();
    const names = ids.map((id) => cstr(id));
    const [res] = this.runAdmin(
      [
        {
          op: ADMIN_OP.DESCRIBECONSUMERGROUPS,
          what: "describe consumer groups",
          start: (opts, queue) =>
            f.rd_kafka_DescribeConsumerGroups(this.rk, new BigUint64Array(names.map((n) => BigInt(addressOf(n)))), ids.length, opts, queue),
          read: (ev) => {
            const r = f.rd_kafka_event_DescribeConsumerGroups_result(ev) as Pointer;
            const cnt = new BigUint64Array(1);
            const arr = f.rd_kafka_DescribeConsumerGroups_result_groups(r, cnt) as Pointer | null;
            return Array.from({ length: Number(cnt[0]) }, (_, i) => readGroupDescription(read.ptr(arr!, i * 8) as Pointer));
          },
        },
      ],
      timeoutMs,
    );
    if (res instanceof Error) throw res;
    return res!;
  }

  /**
   * Committed offsets of each group for the given partitions (OffsetFetch; -1001 where the group
   * committed nothing), one request per group, all in flight at once.
   */
  groupOffsets(groups: string[], parts: { topic: string; partition: number }[], timeoutMs = 10_000): Map<string, TopicPartition[] | IngestError> {
    const f = rdk();
    const results = this.runAdmin(
      groups.map((g) => ({
        op: ADMIN_OP.LISTCONSUMERGROUPOFFSETS,
        what: `committed offsets of group '${g}'`,
        start: (opts: Pointer, queue: Pointer) => {
          const req = withList(parts, (list) => f.rd_kafka_ListConsumerGroupOffsets_new(cstr(g), list) as Pointer);
          try {
            f.rd_kafka_ListConsumerGroupOffsets(this.rk, new BigUint64Array([BigInt(req)]), 1, opts, queue);
          } finally {
            f.rd_kafka_ListConsumerGroupOffsets_destroy(req);
          }
        },
        read: (ev: Pointer) => {
          const r = f.rd_kafka_event_ListConsumerGroupOffsets_result(ev) as Pointer;
          const cnt = new BigUint64Array(1);
          const arr = f.rd_kafka_ListConsumerGroupOffsets_result_groups(r, cnt) as Pointer;
          const gr = read.ptr(arr, 0) as Pointer;
          const err = f.rd_kafka_group_result_error(gr) as Pointer | null;
          if (err) throw new KafkaError(f.rd_kafka_error_code(err), `committed offsets of group '${g}'`, str(f.rd_kafka_error_string(err)));
          return fromList(f.rd_kafka_group_result_partitions(gr) as Pointer | null);
        },
      })),
      timeoutMs,
    );
    return new Map(groups.map((g, i) => [g, results[i]!]));
  }

  /**
   * Start each admin request on its own queue, then wait (serving this handle's events) until
   * every result arrived or `waitMs` passed. Per request: what `read` made of its result event,
   * or the error it failed with (a KafkaError _TIMED_OUT when no answer came).
   */
  private runAdmin<T>(jobs: AdminJob<T>[], waitMs: number): (T | IngestError)[] {
    const f = rdk();
    const out: (T | IngestError)[] = [];
    // Which requests have their answer (a read may return undefined: createTopic's does).
    const answered = jobs.map(() => false);
    const queues: Pointer[] = [];
    const options: Pointer[] = [];
    try {
      for (const j of jobs) {
        const queue = f.rd_kafka_queue_new(this.rk) as Pointer;
        queues.push(queue);
        const opts = f.rd_kafka_AdminOptions_new(this.rk, j.op) as Pointer;
        options.push(opts);
        const errstr = new Uint8Array(256);
        f.rd_kafka_AdminOptions_set_request_timeout(opts, Math.max(1, Math.min(waitMs, 3_600_000)), errstr, errstr.length);
        j.start(opts, queue);
      }
      let pending = jobs.length;
      const until = performance.now() + waitMs;
      while (pending > 0) {
        let served = 0;
        for (let i = 0; i < jobs.length; i++) {
          if (answered[i]) continue;
          const ev = f.rd_kafka_queue_poll(queues[i]!, 0) as Pointer | null;
          if (!ev) continue;
          served++;
          pending--;
          answered[i] = true;
          try {
            const err = f.rd_kafka_event_error(ev);
            out[i] = err ? new KafkaError(err, jobs[i]!.what, str(f.rd_kafka_event_error_string(ev))) : jobs[i]!.read(ev);
          } catch (e) {
            out[i] = e instanceof IngestError ? e : new IngestError(`${jobs[i]!.what}: ${(e as Error).message}`);
          } finally {
            f.rd_kafka_event_destroy(ev);
          }
        }
        // Serve logs and errors while waiting, so a stuck request is visible with -X debug=admin.
        this.pollEvents(0);
        if (pending === 0) break;
        if (performance.now() >= until) break;
        if (served === 0) Bun.sleepSync(2);
      }
      return jobs.map((j, i) => (answered[i] ? out[i]! : new KafkaError(ERR._TIMED_OUT, j.what, `no answer within ${waitMs} ms`)));
    } finally {
      for (const o of options) f.rd_kafka_AdminOptions_destroy(o);
      for (const q of queues) f.rd_kafka_queue_destroy(q);
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

/** "message (NAME)" of an rd_kafka_error_t that its owner frees. */
function errorText(err: Pointer): string {
  const f = rdk();
  return `${str(f.rd_kafka_error_string(err))} (${errName(f.rd_kafka_error_code(err))})`;
}

function readGroupDescription(g: Pointer): GroupDescription {
  const f = rdk();
  const err = f.rd_kafka_ConsumerGroupDescription_error(g) as Pointer | null;
  const coord = f.rd_kafka_ConsumerGroupDescription_coordinator(g) as Pointer | null;
  const members: GroupMember[] = [];
  const n = Number(f.rd_kafka_ConsumerGroupDescription_member_count(g));
  for (let i = 0; i < n; i++) {
    const m = f.rd_kafka_ConsumerGroupDescription_member(g, i) as Pointer;
    const a = f.rd_kafka_MemberDescription_assignment(m) as Pointer | null;
    members.push({
      id: str(f.rd_kafka_MemberDescription_consumer_id(m)),
      clientId: str(f.rd_kafka_MemberDescription_client_id(m)),
      host: str(f.rd_kafka_MemberDescription_host(m)),
      assignment: a ? fromList(f.rd_kafka_MemberAssignment_partitions(a) as Pointer | null).map((p) => ({ topic: p.topic, partition: p.partition })) : [],
    });
  }
  return {
    id: str(f.rd_kafka_ConsumerGroupDescription_group_id(g)),
    state: str(f.rd_kafka_consumer_group_state_name(f.rd_kafka_ConsumerGroupDescription_state(g))),
    assignor: str(f.rd_kafka_ConsumerGroupDescription_partition_assignor(g)),
    coordinator: coord ? f.rd_kafka_Node_id(coord) : -1,
    members,
    ...(err ? { error: errorText(err) } : {}),
  };
}
