/**
 * Per-partition contiguous watermark of completed records, for manual Kafka commits.
 *
 * Records are `track`ed in the order the consumer takes them and `done` when every sink has
 * written them, possibly out of order (batches of different partitions or workers finish at
 * different times). The committable position of a partition is the offset after the longest
 * done prefix of what was taken. Offsets need not be contiguous (compacted topics, transaction
 * markers), so the tracker follows the offsets actually taken, never offset+1 arithmetic.
 *
 * Cost: O(1) amortized per track/done (a slot array, a map from offset to slot, and a head that
 * only moves forward; consumed slots are dropped in bulk).
 */

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A position to commit: Kafka commits the NEXT offset to read. */
export interface CommitPosition extends TopicPartition {
  offset: number;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Offsets in the order taken (strictly increasing); slots before `head` are done and dropped logically. */
  offsets: number[];
  done: boolean[];
  /** offset -> index into offsets/done, for slots at or after head. */
  slot: Map<number, number>;
  head: number;
  /** Next offset to read once everything up to the head is done; -1 before the first completion. */
  watermark: number;
  /** The position last reported as committed by markCommitted; -1 if none. */
  committed: number;
  lastTracked: number;
  /** Taken and not yet done. */
  pending: number;
}

/** Drop consumed slots once this many accumulate (and they are at least half the array). */
const COMPACT_AT = 4096;

const key = (topic: string, partition: number) => `${partition}\u0000${topic}`;

export class OffsetTracker {
  private parts = new Map<string, PartitionState>();

  private state(topic: string, partition: number, create: boolean): PartitionState | undefined {
    const k = key(topic, partition);
    let s = this.parts.get(k);
    if (!s && create) {
      s = { topic, partition, offsets: [], done: [], slot: new Map(), head: 0, watermark: -1, committed: -1, lastTracked: -1, pending: 0 };
      this.parts.set(k, s);
    }
    return s;
  }

  /** A record was taken from the partition. Offsets of one partition must increase. */
  track(topic: string, partition: number, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset tracker: invalid offset ${offset} for ${topic}[${partition}]`);
    const s = this.state(topic, partition, true)!;
    if (offset <= s.lastTracked) {
      throw new RangeError(
        `offset tracker: ${topic}[${partition}] offset ${offset} taken after ${s.lastTracked}; offsets must increase (revoke the partition before seeking back)`,
      );
    }
    s.lastTracked = offset;
    s.slot.set(offset, s.offsets.length);
    s.offsets.push(offset);
    s.done.push(false);
    s.pending++;
  }

  /**
   * The record at `offset` was written to every sink. Unknown offsets throw, except on partitions
   * that were revoked (late completions of a lost partition are expected and ignored); repeated
   * completions are ignored.
   */
  done(topic: string, partition: number, offset: number): void {
    const s = this.state(topic, partition, false);
    if (!s) return; // revoked (or never assigned): nothing to commit for it any more
    const i = s.slot.get(offset);
    if (i === undefined) {
      if (offset < s.watermark) return; // already completed and folded into the watermark
      throw new RangeError(`offset tracker: ${topic}[${partition}] offset ${offset} completed but was never taken`);
    }
    if (s.done[i]) return;
    s.done[i] = true;
    s.pending--;
    if (i !== s.head) return;
    // Advance over the done prefix; every slot is passed once, so this is amortized O(1).
    let h = s.head;
    while (h < s.offsets.length && s.done[h]) {
      s.slot.delete(s.offsets[h]!);
      h++;
    }
    s.watermark = s.offsets[h - 1]! + 1;
    s.head = h;
    if (h >= COMPACT_AT && h * 2 >= s.offsets.length) {
      s.offsets = s.offsets.slice(h);
      s.done = s.done.slice(h);
      for (let j = 0; j < s.offsets.length; j++) s.slot.set(s.offsets[j]!, j);
      s.head = 0;
    }
  }

  /** Positions (next offset to read) that advanced since the last markCommitted; does not change state. */
  committable(): CommitPosition[] {
    const out: CommitPosition[] = [];
    for (const s of this.parts.values()) {
      if (s.watermark > s.committed) out.push({ topic: s.topic, partition: s.partition, offset: s.watermark });
    }
    return out;
  }

  /** Record that these positions were committed, so committable() stops offering them. */
  markCommitted(positions: readonly CommitPosition[]): void {
    for (const p of positions) {
      const s = this.state(p.topic, p.partition, false);
      if (s && p.offset > s.committed) s.committed = p.offset;
    }
  }

  /**
   * These commits failed after all (an async commit's report): offer the positions again, so
   * the next commit repeats them even if nothing new is written on those partitions.
   */
  commitFailed(positions: readonly CommitPosition[]): void {
    for (const p of positions) {
      const s = this.state(p.topic, p.partition, false);
      if (s && s.committed === p.offset) s.committed = -1; // not when a newer position was committed since
    }
  }

  /** Forget partitions (rebalance revoke / lost): their in-flight completions are then ignored. */
  revoke(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.parts.delete(key(p.topic, p.partition));
  }

  /** Forget everything. */
  clear(): void {
    this.parts.clear();
  }

  /** Records taken but not yet done, over all partitions (or one). */
  inFlight(topic?: string, partition?: number): number {
    let n = 0;
    for (const s of this.parts.values()) {
      if (topic !== undefined && (s.topic !== topic || (partition !== undefined && s.partition !== partition))) continue;
      n += s.pending;
    }
    return n;
  }

  /** The current watermark (next offset to read) of a partition, or undefined before any completion. */
  watermark(topic: string, partition: number): number | undefined {
    const s = this.state(topic, partition, false);
    return s && s.watermark >= 0 ? s.watermark : undefined;
  }

  /** Partitions currently tracked. */
  partitions(): TopicPartition[] {
    return [...this.parts.values()].map((s) => ({ topic: s.topic, partition: s.partition }));
  }
}
