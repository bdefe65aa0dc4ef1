/**
 * One pass over the cluster: which brokers answer, the topics with their partitions, replicas and
 * watermarks, the consumer groups with their members and committed offsets. `ingest lag` makes
 * one (or a few); `ingest dashboard` makes one per refresh in a worker, whatever the number of
 * browsers. Every part that fails is reported in the pass, never thrown: a dashboard must keep
 * showing what it can while brokers come and go.
 */
import { type Admin, probeBroker, API_KEY, type GroupMember } from "../kafka/index.ts";

export interface BrokerState {
  id: number;
  host: string;
  port: number;
  up: boolean;
  ms?: number;
  error?: string;
}

export interface PartitionState {
  id: number;
  leader: number;
  replicas: number[];
  isr: number[];
  /** -1 when the watermarks could not be read this pass. */
  low: number;
  high: number;
  error?: string;
}

export interface TopicState {
  name: string;
  partitions: PartitionState[];
  error?: string;
}

export interface GroupState {
  id: string;
  /** From DescribeConsumerGroups, when the cluster has it. */
  state?: string;
  members?: GroupMember[];
  describeError?: string;
  /** Committed offset per "topic\0partition" (-1001 none). */
  committed: Record<string, number>;
  offsetsError?: string;
}

export interface ClusterPass {
  /** Date.now() when the pass started, and how long it took. */
  at: number;
  ms: number;
  /** Set when the cluster could not be read at all (no metadata): everything else is empty. */
  error?: string;
  brokers: BrokerState[];
  topics: TopicState[];
  groups: GroupState[];
  /** Why the cluster's group list is not known (the embedded broker cannot list groups). */
  listGroupsError?: string;
}

export interface PassOptions {
  /** Groups to read whether or not the cluster lists them. */
  groups: string[];
  /** Only these topics (default: every topic but the internal __* ones). */
  topics?: string[];
  /** Ask the cluster for its groups too. */
  listGroups: boolean;
  timeoutMs: number;
}

export const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export async function clusterPass(admin: Admin, o: PassOptions): Promise<ClusterPass> {
  const at = Date.now();
  const t0 = performance.now();
  const pass: ClusterPass = { at, ms: 0, brokers: [], topics: [], groups: [] };
  const done = () => ((pass.ms = Math.round(performance.now() - t0)), pass);
  let md;
  try {
    md = admin.metadata(o.timeoutMs);
  } catch (e) {
    pass.error = (e as Error).message;
    return done();
  }
  const probeTimeout = Math.min(o.timeoutMs, 2000);
  const probes = await Promise.all(md.brokers.map((b) => probeBroker(b.host, b.port, probeTimeout)));
  pass.brokers = md.brokers
    .map((b, i) => ({
      id: b.id,
      host: b.host,
      port: b.port,
      up: probes[i]!.ok,
      ...(probes[i]!.ms !== undefined ? { ms: probes[i]!.ms } : {}),
      ...(probes[i]!.error ? { error: probes[i]!.error } : {}),
    }))
    .sort((a, b) => a.id - b.id);
  // Group calls only where the brokers have them: librdkafka 2.0.2 leaves a group's coordinator
  // requests stuck after a DescribeGroups the broker refused, and the offsets of that group then
  // time out (seen with the embedded broker, which has neither ListGroups nor DescribeGroups).
  const answered = probes.filter((p) => p.ok && p.apis);
  const has = (key: number) => answered.length > 0 && answered.every((p) => p.apis!.includes(key));
  const down = new Set(pass.brokers.filter((b) => !b.up).map((b) => b.id));
  const wanted = o.topics ? new Set(o.topics) : undefined;
  const topics = md.topics.filter((t) => (wanted ? wanted.has(t.name) : !t.name.startsWith("__")));
  // Watermarks of partitions whose leader answers; the others would hold the pass for its timeout.
  const readable = topics.flatMap((t) =>
    t.partitions.filter((p) => p.err === 0 && p.leader >= 0 && !down.has(p.leader)).map((p) => ({ topic: t.name, partition: p.id })),
  );
  const marks = new Map<string, { low: number; high: number; error?: string }>();
  try {
    for (const w of admin.watermarksOf(readable, o.timeoutMs)) marks.set(tpKey(w.topic, w.partition), w);
  } catch (e) {
    for (const p of readable) marks.set(tpKey(p.topic, p.partition), { low: -1, high: -1, error: (e as Error).message });
  }
  pass.topics = topics.map((t) => ({
    name: t.name,
    ...(t.err ? { error: `metadata error ${t.err}` } : {}),
    partitions: t.partitions.map((p) => {
      const m = marks.get(tpKey(t.name, p.id));
      const error =
        m?.error ?? (p.err ? `metadata error ${p.err}` : p.leader < 0 ? "no leader" : down.has(p.leader) ? `leader ${p.leader} does not answer` : undefined);
      return {
        id: p.id,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isrs,
        low: m && !m.error ? m.low : -1,
        high: m && !m.error ? m.high : -1,
        ...(error ? { error } : {}),
      };
    }),
  }));

  const groups = new Set(o.groups);
  if (o.listGroups && !has(API_KEY.ListGroups)) pass.listGroupsError = "these brokers have no ListGroups; the embedded broker has none";
  else if (o.listGroups) {
    try {
      const listed = admin.listGroups(o.timeoutMs);
      for (const g of listed.groups) groups.add(g.id);
      if (listed.errors.length) pass.listGroupsError = listed.errors.join("; ");
    } catch (e) {
      pass.listGroupsError = (e as Error).message;
    }
  }
  const ids = [...groups].sort();
  const descriptions = new Map<string, { state?: string; members?: GroupMember[]; describeError?: string }>();
  if (!has(API_KEY.DescribeGroups)) {
    for (const id of ids) descriptions.set(id, { describeError: "these brokers have no DescribeGroups; the embedded broker has none" });
  } else {
    try {
      for (const d of admin.describeGroups(ids, o.timeoutMs)) {
        descriptions.set(d.id, d.error ? { describeError: d.error } : { state: d.state, members: d.members });
      }
    } catch (e) {
      for (const id of ids) descriptions.set(id, { describeError: (e as Error).message });
    }
  }
  const parts = topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.id })));
  const offsets = parts.length && ids.length ? admin.groupOffsets(ids, parts, o.timeoutMs) : new Map();
  pass.groups = ids.map((id) => {
    const r = offsets.get(id);
    const committed: Record<string, number> = {};
    if (Array.isArray(r)) for (const p of r) committed[tpKey(p.topic, p.partition)] = p.offset ?? -1001;
    return { id, ...descriptions.get(id), committed, ...(r instanceof Error ? { offsetsError: r.message } : {}) };
  });
  return done();
}

export interface LagRow {
  topic: string;
  partition: number;
  /** null: the group never committed on this partition. */
  committed: number | null;
  low: number;
  high: number;
  /** What the group still has to read: high minus the committed offset (or minus low when none). */
  lag: number;
}

/**
 * Per partition of `topics` (default: every topic the group committed on): committed offset,
 * watermarks and lag. A partition whose watermarks are unknown this pass is left out.
 */
export function groupLag(pass: ClusterPass, group: GroupState, topics?: string[]): LagRow[] {
  const names = topics ?? [
    ...new Set(
      Object.entries(group.committed)
        .filter(([, o]) => o >= 0)
        .map(([k]) => k.split("\u0000")[0]!),
    ),
  ];
  const rows: LagRow[] = [];
  for (const name of names) {
    const t = pass.topics.find((x) => x.name === name);
    if (!t) continue;
    for (const p of t.partitions) {
      if (p.high < 0) continue;
      const c = group.committed[tpKey(name, p.id)] ?? -1001;
      const has = c >= 0;
      rows.push({
        topic: name,
        partition: p.id,
        committed: has ? c : null,
        low: p.low,
        high: p.high,
        lag: Math.max(0, p.high - (has ? Math.max(c, p.low) : p.low)),
      });
    }
  }
  return rows;
}
