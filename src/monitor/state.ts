/**
 * What the dashboard knows, built from the cluster passes (one per refresh, from the worker) and
 * the scraped processes: per topic its rate from watermark deltas, per group its lag, lag history,
 * catch-up estimate and Burrow-style status, per broker whether it answers. Served as JSON to the
 * page and to scripts, and as Prometheus metrics.
 */
import { groupLag, tpKey, type ClusterPass, type GroupState, type LagRow } from "./cluster.ts";
import { StatusWindows, worstStatus, STATUSES, type Status } from "./status.ts";
import type { TargetState } from "./scrape.ts";
import type { Family } from "../observability/prometheus.ts";

export interface DashboardOptions {
  bootstrap: string;
  refreshMs: number;
  /** Observations per partition the status is judged on. */
  window: number;
  /** How far back the lag charts go. */
  historyMs: number;
  /** Groups named on the command line: shown even before they commit anything. */
  explicitGroups: string[];
}

interface Point {
  at: number;
  value: number;
}

export interface MemberView {
  id: string;
  clientId: string;
  host: string;
  /** "users[0-2,5] orders[1]" */
  assignment: string;
  partitions: number;
}

export interface GroupView {
  id: string;
  state: string | null;
  status: Status;
  statusReason: string;
  lag: number;
  /** Records committed per second and produced per second to the group's topics, over the last ~30 s. */
  consumeRate: number;
  produceRate: number;
  /** Seconds until lag 0 at the current pace; null when not catching up (see catchUp). */
  catchUpSeconds: number | null;
  catchUp: string;
  membersSource: "broker" | "metrics" | null;
  membersNote?: string;
  members: MemberView[];
  partitions: (LagRow & { status: Status; reason: string; owner: string | null })[];
  /** Lag over time: seconds since the epoch and total lag (and per topic). */
  history: { t: number[]; total: number[]; byTopic: Record<string, number[]> };
  error?: string;
}

export interface TopicView {
  name: string;
  partitions: number;
  retained: number;
  /** Messages in per second, from the high watermarks' delta. */
  rate: number;
  highSum: number;
  underReplicated: number;
  /** Partitions whose watermarks could not be read this pass (leader down). */
  unreadable: number;
  errors: string[];
}

export interface Snapshot {
  generatedAt: number;
  refreshMs: number;
  cluster: {
    bootstrap: string;
    up: boolean;
    error: string | null;
    lastPassAt: number | null;
    lastGoodPassAt: number | null;
    passMs: number | null;
    passes: number;
    failedPasses: number;
    listGroupsError: string | null;
  };
  brokers: { id: number; address: string; up: boolean; ms: number | null; error: string | null }[];
  topics: TopicView[];
  groups: GroupView[];
  targets: TargetState[];
}

/** "users[0-2,5] orders[1]" from a list of partitions. */
export function compactAssignment(parts: { topic: string; partition: number }[]): string {
  const by = new Map<string, number[]>();
  for (const p of parts) by.set(p.topic, [...(by.get(p.topic) ?? []), p.partition]);
  return [...by]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([t, ps]) => {
      const s = [...ps].sort((a, b) => a - b);
      const ranges: string[] = [];
      for (let i = 0; i < s.length; i++) {
        let j = i;
        while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
        ranges.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
        i = j;
      }
      return `${t}[${ranges.join(",")}]`;
    })
    .join(" ");
}

/** Rate per second between the newest point and the newest one at least `spanMs` older (or the oldest). */
function rateOver(points: Point[], spanMs: number): number {
  const last = points.at(-1);
  if (!last) return 0;
  let base = points[0]!;
  for (let i = points.length - 1; i >= 0; i--) {
    if (last.at - points[i]!.at >= spanMs) {
      base = points[i]!;
      break;
    }
  }
  return last.at > base.at ? ((last.value - base.value) * 1000) / (last.at - base.at) : 0;
}

function formatDuration(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export class DashboardState {
  private pass: ClusterPass | undefined;
  private lastGood: ClusterPass | undefined;
  private passes = 0;
  private failedPasses = 0;
  private targets: TargetState[] = [];
  /** Per topic: the sum of its high watermarks over time. */
  private readonly topicHigh = new Map<string, Point[]>();
  /** Per partition, the last high watermark read (kept while its leader does not answer). */
  private readonly lastHigh = new Map<string, { low: number; high: number }>();
  private readonly windows: StatusWindows;
  private readonly groupHistory = new Map<
    string,
    { at: number; total: number; committed: number; high: number; byTopic: Record<string, number>; partsKey: string }[]
  >();
  private groups: GroupView[] = [];
  private topics: TopicView[] = [];

  constructor(private readonly o: DashboardOptions) {
    this.windows = new StatusWindows(o.window);
  }

  /** Groups named by scraped consumers (to be read by the next passes). */
  groupsFromTargets(): string[] {
    return [...new Set(this.targets.flatMap((t) => (t.up && t.consume?.group ? [t.consume.group] : [])))];
  }

  setTargets(targets: TargetState[]): void {
    this.targets = targets.map((t) => ({ ...t }));
  }

  onPass(pass: ClusterPass): void {
    this.pass = pass;
    this.passes++;
    if (pass.error) {
      this.failedPasses++;
      return;
    }
    this.lastGood = pass;
    const keepHistory = (pts: Point[] | { at: number }[]) => {
      while (pts.length > 1 && pass.at - pts[0]!.at > this.o.historyMs) pts.shift();
    };
    // Partitions whose watermarks could not be read keep their last values: lag and rates do not
    // jump to 0 while a leader is away.
    for (const t of pass.topics) {
      for (const p of t.partitions) {
        const k = tpKey(t.name, p.id);
        if (p.high >= 0) this.lastHigh.set(k, { low: p.low, high: p.high });
        else {
          const last = this.lastHigh.get(k);
          if (last) Object.assign(p, last);
        }
      }
    }
    this.topics = pass.topics.map((t) => {
      const highSum = t.partitions.reduce((s, p) => s + Math.max(0, p.high), 0);
      let pts = this.topicHigh.get(t.name);
      if (!pts) this.topicHigh.set(t.name, (pts = []));
      pts.push({ at: pass.at, value: highSum });
      keepHistory(pts);
      return {
        name: t.name,
        partitions: t.partitions.length,
        retained: t.partitions.reduce((s, p) => s + Math.max(0, p.high - p.low), 0),
        rate: Math.max(0, rateOver(pts, 3000)),
        highSum,
        underReplicated: t.partitions.filter((p) => p.isr.length < p.replicas.length).length,
        unreadable: t.partitions.filter((p) => p.error).length,
        errors: [...new Set([...(t.error ? [t.error] : []), ...t.partitions.flatMap((p) => (p.error ? [`[${p.id}] ${p.error}`] : []))])],
      };
    });
    for (const name of this.topicHigh.keys()) if (!pass.topics.some((t) => t.name === name)) this.topicHigh.delete(name);
    const keys = new Set<string>();
    this.groups = pass.groups.flatMap((g) => {
      const v = this.groupView(pass, g, keys);
      return v ? [v] : [];
    });
    this.windows.retain(keys);
    for (const id of this.groupHistory.keys()) if (!pass.groups.some((g) => g.id === id)) this.groupHistory.delete(id);
  }

  private groupView(pass: ClusterPass, g: GroupState, keys: Set<string>): GroupView | null {
    // Members: the broker's description; where the cluster cannot describe groups (the embedded
    // broker), the consumers whose metrics are scraped and name this group.
    let membersSource: GroupView["membersSource"] = null;
    let members: { id: string; clientId: string; host: string; assignment: { topic: string; partition: number }[] }[] = [];
    let membersNote: string | undefined;
    if (g.members && !g.describeError) {
      membersSource = "broker";
      members = g.members;
    } else {
      const scraped = this.targets.filter((t) => t.consume?.group === g.id);
      if (scraped.length) {
        membersSource = "metrics";
        members = scraped
          .filter((t) => t.up)
          .map((t) => ({ id: t.url, clientId: t.consume!.clientId ?? "", host: new URL(t.url).host, assignment: t.consume!.assigned }));
        membersNote = `the cluster cannot describe groups (${g.describeError ?? "no answer"}): members from the scraped consumers' metrics`;
      } else {
        membersNote = `members unknown: the cluster cannot describe groups (${g.describeError ?? "no answer"}); --scrape the consumers' metrics to see them`;
      }
    }
    const owner = new Map<string, string>();
    for (const m of members) for (const a of m.assignment) owner.set(tpKey(a.topic, a.partition), m.clientId || m.id);
    const topics = new Set<string>();
    for (const [k, off] of Object.entries(g.committed)) if (off >= 0) topics.add(k.split("\u0000")[0]!);
    for (const m of members) for (const a of m.assignment) topics.add(a.topic);
    const explicit = pass.topics.filter((t) => topics.has(t.name)).map((t) => t.name);
    // A group with nothing committed and no member is left out, unless it was asked for by name.
    if (explicit.length === 0 && members.length === 0 && !g.offsetsError && !this.o.explicitGroups.includes(g.id)) return null;
    const rows = groupLag(pass, g, explicit);
    const partitions = rows.map((r) => {
      const key = `${g.id}\u0000${tpKey(r.topic, r.partition)}`;
      keys.add(key);
      this.windows.add(key, { at: pass.at, offset: r.committed, lag: r.lag });
      const own = owner.get(tpKey(r.topic, r.partition)) ?? null;
      const v = this.windows.evaluate(key, pass.at, membersSource ? own !== null : undefined);
      return { ...r, status: v.status, reason: v.reason, owner: own };
    });
    const total = rows.reduce((s, r) => s + r.lag, 0);
    const byTopic: Record<string, number> = {};
    for (const r of rows) byTopic[r.topic] = (byTopic[r.topic] ?? 0) + r.lag;
    let hist = this.groupHistory.get(g.id);
    if (!hist) this.groupHistory.set(g.id, (hist = []));
    // Points only once the group has partitions; rates only over points of the same partitions
    // (a partition appearing would read as a burst of production or consumption).
    const partsKey = rows.map((r) => tpKey(r.topic, r.partition)).join(",");
    if (rows.length)
      hist.push({
        at: pass.at,
        total,
        committed: rows.reduce((s, r) => s + (r.committed ?? r.low), 0),
        high: rows.reduce((s, r) => s + r.high, 0),
        byTopic,
        partsKey,
      });
    while (hist.length > 1 && pass.at - hist[0]!.at > this.o.historyMs) hist.shift();
    let from = hist.length;
    while (from > 0 && hist[from - 1]!.partsKey === partsKey) from--;
    const same = hist.slice(from);
    const consumeRate = Math.max(
      0,
      rateOver(
        same.map((h) => ({ at: h.at, value: h.committed })),
        30_000,
      ),
    );
    const produceRate = Math.max(
      0,
      rateOver(
        same.map((h) => ({ at: h.at, value: h.high })),
        30_000,
      ),
    );
    const lagSlope = rateOver(
      same.map((h) => ({ at: h.at, value: h.total })),
      30_000,
    );
    let catchUpSeconds: number | null = null;
    let catchUp: string;
    if (total === 0) catchUp = "caught up";
    else if (same.length < 2) catchUp = "measuring";
    else if (lagSlope < 0) {
      catchUpSeconds = Math.round(total / -lagSlope);
      catchUp = `about ${formatDuration(catchUpSeconds)} at the current pace`;
    } else catchUp = consumeRate > 0 ? "not catching up: producers are as fast or faster" : "not catching up: nothing is being committed";
    const worst = partitions.length ? worstStatus(partitions.map((p) => p.status)) : "UNKNOWN";
    const worstRow = partitions.find((p) => p.status === worst);
    const topicNames = Object.keys(byTopic).sort();
    return {
      id: g.id,
      state: g.state ?? null,
      status: worst,
      statusReason: worstRow ? `${worstRow.topic}[${worstRow.partition}]: ${worstRow.reason}` : "nothing committed and no member yet",
      lag: total,
      consumeRate,
      produceRate,
      catchUpSeconds,
      catchUp,
      membersSource,
      ...(membersNote ? { membersNote } : {}),
      members: members.map((m) => ({
        id: m.id,
        clientId: m.clientId,
        host: m.host,
        assignment: compactAssignment(m.assignment),
        partitions: m.assignment.length,
      })),
      partitions,
      history: {
        t: hist.map((h) => h.at / 1000),
        total: hist.map((h) => h.total),
        byTopic: Object.fromEntries(topicNames.map((t) => [t, hist!.map((h) => h.byTopic[t] ?? 0)])),
      },
      ...(g.offsetsError ? { error: g.offsetsError } : {}),
    };
  }

  snapshot(): Snapshot {
    const p = this.pass;
    const good = this.lastGood;
    return {
      generatedAt: Date.now(),
      refreshMs: this.o.refreshMs,
      cluster: {
        bootstrap: this.o.bootstrap,
        up: !!p && !p.error,
        error: p?.error ?? (p ? null : "first pass not done yet"),
        lastPassAt: p?.at ?? null,
        lastGoodPassAt: good?.at ?? null,
        passMs: p?.ms ?? null,
        passes: this.passes,
        failedPasses: this.failedPasses,
        listGroupsError: good?.listGroupsError ?? null,
      },
      // While the cluster is unreachable, the last brokers seen are all shown down.
      brokers: (good?.brokers ?? []).map((b) => ({
        id: b.id,
        address: `${b.host}:${b.port}`,
        up: !p?.error && b.up,
        ms: b.ms ?? null,
        error: p?.error ? "cluster unreachable" : (b.error ?? null),
      })),
      topics: this.topics,
      groups: this.groups,
      targets: this.targets,
    };
  }

  /** The cluster view as Prometheus families (the dashboard's own /metrics: an exporter for alerts). */
  metrics(): Family[] {
    const s = this.snapshot();
    return [
      { name: "ingest_cluster_up", type: "gauge", help: "1 when the last cluster pass read the metadata", samples: [{ value: s.cluster.up ? 1 : 0 }] },
      {
        name: "ingest_broker_up",
        type: "gauge",
        help: "1 when the broker answered an ApiVersions request this pass",
        samples: s.brokers.map((b) => ({ labels: { broker: b.id, address: b.address }, value: b.up ? 1 : 0 })),
      },
      {
        name: "ingest_topic_partitions",
        type: "gauge",
        help: "partitions of the topic",
        samples: s.topics.map((t) => ({ labels: { topic: t.name }, value: t.partitions })),
      },
      {
        name: "ingest_topic_retained_messages",
        type: "gauge",
        help: "high minus low watermark, summed over partitions",
        samples: s.topics.map((t) => ({ labels: { topic: t.name }, value: t.retained })),
      },
      {
        name: "ingest_topic_messages_total",
        type: "counter",
        help: "sum of the partitions' high watermarks: messages ever written (rate() gives messages in per second)",
        samples: s.topics.map((t) => ({ labels: { topic: t.name }, value: t.highSum })),
      },
      {
        name: "ingest_topic_under_replicated_partitions",
        type: "gauge",
        help: "partitions whose in-sync replicas are fewer than their replicas",
        samples: s.topics.map((t) => ({ labels: { topic: t.name }, value: t.underReplicated })),
      },
      {
        name: "ingest_group_lag",
        type: "gauge",
        help: "high watermark minus the group's committed offset",
        samples: s.groups.flatMap((g) => g.partitions.map((p) => ({ labels: { group: g.id, topic: p.topic, partition: p.partition }, value: p.lag }))),
      },
      {
        name: "ingest_group_lag_total",
        type: "gauge",
        help: "the group's lag summed over its partitions",
        samples: s.groups.map((g) => ({ labels: { group: g.id }, value: g.lag })),
      },
      {
        name: "ingest_group_members",
        type: "gauge",
        help: "members of the group (where the cluster or the scraped consumers tell)",
        samples: s.groups.filter((g) => g.membersSource).map((g) => ({ labels: { group: g.id }, value: g.members.length })),
      },
      {
        name: "ingest_group_status",
        type: "gauge",
        help: "1 for the group's current Burrow-style status (OK, UNKNOWN, WARN, REWIND, STALL, STOP), 0 for the others",
        samples: s.groups.flatMap((g) => STATUSES.map((st) => ({ labels: { group: g.id, status: st }, value: g.status === st ? 1 : 0 }))),
      },
      {
        name: "ingest_scrape_up",
        type: "gauge",
        help: "1 when the scraped process answered with Prometheus text",
        samples: s.targets.map((t) => ({ labels: { target: t.url }, value: t.up ? 1 : 0 })),
      },
    ];
  }
}
