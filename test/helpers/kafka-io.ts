import { Producer, MessageBatch, type Consumer } from "../../src/kafka/index.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Sent {
  key: string;
  value: string;
  partition: number;
  offset: number;
}

/** Produce keyed messages through the batch path and return each one's delivery report. */
export async function produceAll(
  props: Record<string, string>,
  topic: string,
  msgs: { key: string; value: string }[],
): Promise<{ sent: Sent[]; producer: Producer }> {
  const sent: Sent[] = msgs.map((m) => ({ ...m, partition: -1, offset: -1 }));
  const reports: { opaque: number; err: number; partition: number; offset: number }[] = [];
  const producer = new Producer(props, { onDelivery: (opaque, err, partition, offset) => reports.push({ opaque, err, partition, offset }) });
  const batch = new MessageBatch(1000, 1 << 16);
  for (let i = 0; i < msgs.length; ) {
    batch.reset();
    for (; i < msgs.length && !batch.full; i++) batch.add(enc.encode(msgs[i]!.key), enc.encode(msgs[i]!.value), -1, i + 1);
    producer.produceBatch(topic, batch);
    producer.poll(0);
  }
  await producer.flush(30_000);
  for (const r of reports) {
    if (r.err === 0) Object.assign(sent[r.opaque - 1]!, { partition: r.partition, offset: r.offset });
  }
  return { sent, producer };
}

export interface Received {
  topic: string;
  key: string | null;
  value: string | null;
  partition: number;
  offset: number;
}

/** Drain records from a consumer until `want` arrived or `timeoutMs` passed. */
export async function consumeN(c: Consumer, want: number, timeoutMs = 20_000): Promise<Received[]> {
  const out: Received[] = [];
  const deadline = Date.now() + timeoutMs;
  do {
    const b = c.consume(5000);
    for (let i = 0; i < b.count; i++) {
      out.push({
        topic: b.topic[i]!,
        key: b.keyLen[i]! < 0 ? null : dec.decode(b.data.subarray(b.keyStart[i]!, b.keyStart[i]! + b.keyLen[i]!)),
        value: b.valLen[i]! < 0 ? null : dec.decode(b.data.subarray(b.valStart[i]!, b.valStart[i]! + b.valLen[i]!)),
        partition: b.partition[i]!,
        offset: b.offset[i]!,
      });
    }
    if (b.count === 0 && timeoutMs > 0) await Bun.sleep(5);
  } while (out.length < want && Date.now() < deadline);
  return out;
}

/** Run `consume` on several consumers round-robin (so each serves its own group protocol). */
export async function consumeFromAll(cs: Consumer[], want: number, timeoutMs = 30_000): Promise<Received[][]> {
  const out: Received[][] = cs.map(() => []);
  const deadline = Date.now() + timeoutMs;
  while (out.reduce((s, o) => s + o.length, 0) < want && Date.now() < deadline) {
    let got = 0;
    for (let k = 0; k < cs.length; k++) {
      const r = await consumeN(cs[k]!, 1, 0);
      got += r.length;
      out[k]!.push(...r);
    }
    if (got === 0) await Bun.sleep(5);
  }
  return out;
}

/**
 * Poll the members of one group until each holds some of the topic's `partitions` partitions
 * and together all of them: the split has settled, so records produced after this are read
 * without a later rebalance handing a partition (and its uncommitted records) to another member.
 * Subscribing two members and consuming at once raced: on a slow host the second one joined
 * after the first had read from every partition, and the records it had not committed were read
 * again by the second.
 */
export async function awaitSplit(cs: Consumer[], partitions: number, timeoutMs = 30_000): Promise<void> {
  const held = cs.map(() => new Set<number>());
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let k = 0; k < cs.length; k++) {
      if (cs[k]!.consume(1).count > 0) throw new Error("awaitSplit: records arrived before the split settled; produce after it");
      for (const ev of cs[k]!.takeRebalances()) {
        for (const p of ev.partitions) ev.kind === "assign" ? held[k]!.add(p.partition) : held[k]!.delete(p.partition);
      }
    }
    const all = new Set(held.flatMap((h) => [...h]));
    if (held.every((h) => h.size > 0) && all.size === partitions && held.reduce((s, h) => s + h.size, 0) === partitions) return;
    if (Date.now() > deadline)
      throw new Error(`awaitSplit: no settled split of ${partitions} partitions after ${timeoutMs} ms (${held.map((h) => h.size).join(" + ")})`);
    await Bun.sleep(10);
  }
}
