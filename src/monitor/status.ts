/**
 * A consumer group's status in the style of LinkedIn Burrow's evaluator: judged per partition
 * from a window of recent observations (committed offset and lag), the group taking its worst
 * partition's status. Burrow reads every commit from __consumer_offsets; here the committed
 * offsets are polled (one OffsetFetch per refresh), so a commit is seen as a change of offset,
 * and "commits stopped" is told apart from "stands still" by whether a live member still holds
 * the partition (docs/operations.md gives the rules and why).
 */

export const STATUSES = ["OK", "UNKNOWN", "WARN", "REWIND", "STALL", "STOP"] as const;
export type Status = (typeof STATUSES)[number];

/** Worse statuses rank higher: a group is as bad as its worst partition. */
const RANK: Record<Status, number> = { OK: 0, UNKNOWN: 1, WARN: 2, REWIND: 3, STALL: 4, STOP: 5 };

export interface Observation {
  /** Milliseconds (any clock, the same for a window). */
  at: number;
  /** Committed offset; null when the group never committed on this partition. */
  offset: number | null;
  lag: number;
}

export interface PartitionVerdict {
  status: Status;
  reason: string;
}

export interface EvaluateOptions {
  /**
   * Whether a live group member holds the partition: true (a member is assigned it), false (the
   * group has no member for it), undefined (membership cannot be seen, e.g. the embedded broker
   * has no DescribeGroups and no consumer's metrics were scraped).
   */
  owned?: boolean;
  /** Now, on the observations' clock. */
  now: number;
  /** The last time the committed offset was seen to change (or first seen), when known beyond the window. */
  lastMoveAt?: number;
}

/**
 * One partition's status from its window (oldest first). Rules, in Burrow's order, apply only
 * when every observation has lag (any zero lag in the window is OK):
 * REWIND the offset went back; STOP/STALL it stood still (STOP when no member holds the
 * partition, or, membership unknown, when it has not moved for more than twice the window);
 * WARN it moves but the lag never fell; else OK.
 */
export function evaluatePartition(window: readonly Observation[], o: EvaluateOptions): PartitionVerdict {
  const last = window.at(-1);
  if (!last) return { status: "UNKNOWN", reason: "not observed yet" };
  if (window.some((w) => w.lag === 0)) return { status: "OK", reason: last.lag === 0 ? "no lag" : "lag was 0 within the window" };
  const offsets = window.map((w) => w.offset ?? -1);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i]! < offsets[i - 1]!) return { status: "REWIND", reason: `committed offset went back from ${offsets[i - 1]} to ${offsets[i]}` };
  }
  if (o.owned === false) return { status: "STOP", reason: "no member of the group holds the partition: commits stopped" };
  if (window.length < 2) return { status: "UNKNOWN", reason: "one observation: no trend yet" };
  const span = last.at - window[0]!.at;
  if (offsets.every((x) => x === offsets[0])) {
    const still = o.now - Math.min(o.lastMoveAt ?? window[0]!.at, window[0]!.at);
    if (o.owned === undefined && still > 2 * span && span > 0) {
      return { status: "STOP", reason: `committed offset has not moved for ${Math.round(still / 1000)} s (more than twice the window): commits stopped` };
    }
    return {
      status: "STALL",
      reason: `committed offset stood still at ${offsets[0] === -1 ? "none" : offsets[0]} with lag ${last.lag} across the window${o.owned ? " while a member holds the partition" : ""}`,
    };
  }
  let falls = false;
  for (let i = 1; i < window.length; i++) if (window[i]!.lag < window[i - 1]!.lag) falls = true;
  if (!falls)
    return { status: "WARN", reason: "committed offset advances but the lag never fell across the window: the consumer is slower than the producers" };
  return { status: "OK", reason: "lag is falling" };
}

/** The worst of these statuses (OK for none). */
export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status = "OK";
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

/** A bounded window of observations per partition, with the time each offset last moved. */
export class StatusWindows {
  private readonly windows = new Map<string, { obs: Observation[]; lastMoveAt: number }>();

  constructor(private readonly size: number) {}

  /** Add one observation of a partition (keyed by the caller, e.g. "group\0topic\0partition"). */
  add(key: string, o: Observation): void {
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = { obs: [], lastMoveAt: o.at }));
    const prev = w.obs.at(-1);
    if (prev && prev.offset !== o.offset) w.lastMoveAt = o.at;
    w.obs.push(o);
    if (w.obs.length > this.size) w.obs.splice(0, w.obs.length - this.size);
  }

  evaluate(key: string, now: number, owned?: boolean): PartitionVerdict {
    const w = this.windows.get(key);
    return evaluatePartition(w?.obs ?? [], { now, owned, lastMoveAt: w?.lastMoveAt });
  }

  /** Forget keys not in `keep` (partitions or groups that went away). */
  retain(keep: Set<string>): void {
    for (const k of this.windows.keys()) if (!keep.has(k)) this.windows.delete(k);
  }
}
