import { describe, expect, test } from "bun:test";
import { heapSize } from "bun:jsc";
import { OffsetTracker, type CommitPosition } from "../../src/consume/offsets.ts";

const T = "orders";

/** committable() then markCommitted(), as the consumer does after a successful commit. */
function commit(t: OffsetTracker): CommitPosition[] {
  const c = t.committable();
  t.markCommitted(c);
  return c;
}

describe("OffsetTracker", () => {
  test("nothing is committable before a record is done", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 0);
    t.track(T, 0, 1);
    expect(t.committable()).toEqual([]);
    expect(t.watermark(T, 0)).toBeUndefined();
    expect(t.inFlight()).toBe(2);
  });

  test("in-order completion commits the next offset to read", () => {
    const t = new OffsetTracker();
    for (let o = 0; o < 5; o++) t.track(T, 0, o);
    t.done(T, 0, 0);
    t.done(T, 0, 1);
    expect(commit(t)).toEqual([{ topic: T, partition: 0, offset: 2 }]);
    expect(t.inFlight()).toBe(3);
  });

  test("out-of-order completion holds the watermark at the first gap, then jumps", () => {
    const t = new OffsetTracker();
    for (let o = 10; o < 16; o++) t.track(T, 3, o);
    t.done(T, 3, 12);
    t.done(T, 3, 11);
    t.done(T, 3, 15);
    expect(t.committable()).toEqual([]); // 10 is still in flight
    t.done(T, 3, 10);
    expect(commit(t)).toEqual([{ topic: T, partition: 3, offset: 13 }]);
    t.done(T, 3, 14);
    expect(t.committable()).toEqual([]); // 13 missing
    t.done(T, 3, 13);
    expect(commit(t)).toEqual([{ topic: T, partition: 3, offset: 16 }]);
    expect(t.inFlight()).toBe(0);
  });

  test("gaps in offsets (compaction, transaction markers) are not waited for", () => {
    const t = new OffsetTracker();
    for (const o of [0, 1, 2, 7, 8, 20]) t.track(T, 1, o);
    t.done(T, 1, 0);
    t.done(T, 1, 1);
    t.done(T, 1, 2);
    t.done(T, 1, 7);
    expect(commit(t)).toEqual([{ topic: T, partition: 1, offset: 8 }]);
    t.done(T, 1, 20);
    expect(t.committable()).toEqual([]); // 8 was taken and is not done
    t.done(T, 1, 8);
    expect(commit(t)).toEqual([{ topic: T, partition: 1, offset: 21 }]);
  });

  test("a position is offered only when changed since the last markCommitted", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 5);
    t.done(T, 0, 5);
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 6 }]);
    // Commit failed (not marked): offered again.
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 6 }]);
    t.markCommitted([{ topic: T, partition: 0, offset: 6 }]);
    expect(t.committable()).toEqual([]);
    t.track(T, 0, 6);
    t.done(T, 0, 6);
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 7 }]);
  });

  test("an async commit reported failed later is offered again, though nothing new was written", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 5);
    t.done(T, 0, 5);
    t.track(T, 1, 9);
    t.done(T, 1, 9);
    commit(t); // sent async: marked committed at once
    expect(t.committable()).toEqual([]);
    t.commitFailed([{ topic: T, partition: 0, offset: 6 }]); // its report: partition 0 failed
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 6 }]);
    commit(t);
    // A stale failure report for an older position changes nothing once a newer one committed.
    t.track(T, 0, 6);
    t.done(T, 0, 6);
    commit(t);
    t.commitFailed([{ topic: T, partition: 0, offset: 6 }]);
    expect(t.committable()).toEqual([]);
  });

  test("partitions and topics are independent", () => {
    const t = new OffsetTracker();
    t.track("users", 0, 0);
    t.track("orders", 0, 0);
    t.track("orders", 1, 100);
    t.done("orders", 1, 100);
    t.done("users", 0, 0);
    const c = commit(t).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    expect(c).toEqual([
      { topic: "orders", partition: 1, offset: 101 },
      { topic: "users", partition: 0, offset: 1 },
    ]);
    expect(t.inFlight("orders")).toBe(1);
    expect(t.inFlight("orders", 1)).toBe(0);
  });

  test("revoke drops state; late completions of a revoked partition are ignored", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 0);
    t.track(T, 0, 1);
    t.track(T, 2, 0);
    t.revoke([{ topic: T, partition: 0 }]);
    expect(() => t.done(T, 0, 0)).not.toThrow();
    expect(t.committable()).toEqual([]);
    expect(t.partitions()).toEqual([{ topic: T, partition: 2 }]);
    // Re-assigned later and resumed from an earlier committed position: allowed after revoke.
    t.track(T, 0, 0);
    t.done(T, 0, 0);
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 1 }]);
  });

  test("misuse is a clear error: non-increasing offsets, completing what was never taken", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 5);
    expect(() => t.track(T, 0, 5)).toThrow(/offset 5 taken after 5/);
    expect(() => t.track(T, 0, 3)).toThrow(/must increase/);
    expect(() => t.track(T, 0, -1)).toThrow(/invalid offset/);
    expect(() => t.done(T, 0, 6)).toThrow(/never taken/);
    t.done(T, 0, 5);
    t.done(T, 0, 5); // repeated completion is harmless
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 6 }]);
  });

  // Found by mutation testing (docs/testing.md): each pins a behaviour no other test did.
  test("completing the offset at the watermark (the next to read, never taken) is an error, not ignored", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 5);
    t.done(T, 0, 5);
    expect(() => t.done(T, 0, 6)).toThrow(/offset 6 completed but was never taken/);
    expect(() => t.done(T, 0, 4)).not.toThrow(); // below the watermark: an old completion
  });

  test("a repeated completion of a record behind the head counts once", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 0);
    t.track(T, 0, 1);
    t.done(T, 0, 1);
    t.done(T, 0, 1);
    expect(t.inFlight()).toBe(1);
    t.done(T, 0, 0);
    expect(t.inFlight()).toBe(0);
    expect(commit(t)).toEqual([{ topic: T, partition: 0, offset: 2 }]);
  });

  test("a late report of an older commit never moves the committed position back", () => {
    const t = new OffsetTracker();
    for (let o = 0; o < 10; o++) t.track(T, 0, o);
    for (let o = 0; o < 10; o++) t.done(T, 0, o);
    t.markCommitted([{ topic: T, partition: 0, offset: 10 }]);
    t.markCommitted([{ topic: T, partition: 0, offset: 6 }]);
    expect(t.committable()).toEqual([]);
  });

  test("a failed commit of position 1 (the first record) is offered again", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 0);
    t.done(T, 0, 0);
    expect(commit(t)).toEqual([{ topic: T, partition: 0, offset: 1 }]);
    t.commitFailed([{ topic: T, partition: 0, offset: 1 }]);
    expect(t.committable()).toEqual([{ topic: T, partition: 0, offset: 1 }]);
  });

  test("reports and queries about partitions not tracked (revoked, never assigned) leave them untracked", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 0);
    t.done(T, 0, 0);
    t.revoke([{ topic: T, partition: 0 }]);
    t.markCommitted([
      { topic: T, partition: 0, offset: 1 },
      { topic: T, partition: 7, offset: 3 },
    ]);
    t.commitFailed([{ topic: T, partition: 0, offset: 1 }]);
    expect(t.watermark(T, 0)).toBeUndefined();
    expect(t.watermark("other", 1)).toBeUndefined();
    expect(t.partitions()).toEqual([]);
    expect(t.committable()).toEqual([]);
  });

  test("inFlight by topic and by partition counts only those", () => {
    const t = new OffsetTracker();
    t.track("users", 0, 0);
    t.track("users", 0, 1);
    t.track("orders", 0, 0);
    t.track("orders", 1, 0);
    t.track("orders", 1, 1);
    t.track("orders", 1, 2);
    expect([t.inFlight(), t.inFlight("users"), t.inFlight("orders"), t.inFlight("orders", 0), t.inFlight("orders", 1), t.inFlight("users", 1)]).toEqual([
      6, 2, 4, 1, 3, 0,
    ]);
  });

  test("clear forgets every partition", () => {
    const t = new OffsetTracker();
    t.track(T, 0, 0);
    t.track(T, 1, 0);
    t.done(T, 0, 0);
    t.clear();
    expect([t.partitions(), t.committable(), t.inFlight()]).toEqual([[], [], 0]);
  });

  test("matches a naive model under random out-of-order completion with gaps", () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 20; round++) {
      const t = new OffsetTracker();
      const taken: number[] = [];
      let o = Math.floor(rand() * 100);
      for (let i = 0; i < 5000; i++) {
        taken.push(o);
        o += rand() < 0.1 ? 2 + Math.floor(rand() * 5) : 1; // gaps
      }
      const done = new Set<number>();
      const open: number[] = [];
      let next = 0;
      let lastCommitted = -1;
      while (done.size < taken.length) {
        // Take a few, complete a random one of those open.
        const take = Math.floor(rand() * 4);
        for (let k = 0; k < take && next < taken.length; k++) {
          t.track(T, 0, taken[next]!);
          open.push(taken[next]!);
          next++;
        }
        if (open.length && rand() < 0.8) {
          const idx = Math.floor(rand() * open.length);
          const off = open[idx]!;
          open[idx] = open[open.length - 1]!;
          open.pop();
          t.done(T, 0, off);
          done.add(off);
        }
        // Naive: the longest done prefix of what was taken.
        let p = 0;
        while (p < next && done.has(taken[p]!)) p++;
        const expected = p === 0 ? -1 : taken[p - 1]! + 1;
        const c = commit(t);
        if (expected > lastCommitted) {
          expect(c).toEqual([{ topic: T, partition: 0, offset: expected }]);
          lastCommitted = expected;
        } else {
          expect(c).toEqual([]);
        }
        if (next === taken.length && open.length === 0) break;
      }
      expect(t.watermark(T, 0)).toBe(taken[taken.length - 1]! + 1);
      expect(t.inFlight()).toBe(0);
    }
  });

  test("a million records in order stay linear (compaction keeps memory bounded)", () => {
    const t = new OffsetTracker();
    const n = 1_000_000;
    Bun.gc(true);
    const heapBefore = heapSize();
    for (let o = 0; o < n; o++) {
      t.track(T, 0, o);
      if (o >= 10) t.done(T, 0, o - 10);
    }
    // Ten records in flight need a few slots, not a million: without compaction the heap grew by
    // about 23 MB here, with it by under 0.1 MB.
    Bun.gc(true);
    expect(heapSize() - heapBefore).toBeLessThan(4 << 20);
    for (let o = n - 10; o < n; o++) t.done(T, 0, o);
    expect(t.watermark(T, 0)).toBe(n);
    expect(t.inFlight()).toBe(0);
  });
});
