/**
 * Memory flatness of the Kafka layer: produce N messages (default 10M) through the batch path
 * and consume them back, sampling RSS every 10% of the way. A per-message leak of native memory
 * or pinned buffers shows as RSS growing with the count; a flat line means none.
 *
 *   bun bench/memory.ts [--messages 10000000] [--partitions 64]
 */
import { parseArgs } from "node:util";
import { Producer, MessageBatch, Consumer, Admin } from "../src/kafka/index.ts";

const { values } = parseArgs({ options: { messages: { type: "string", default: "10000000" }, partitions: { type: "string", default: "64" } } });
const N = Number(values.messages);
const P = Number(values.partitions);
const mb = () => Math.round(process.memoryUsage.rss() / 2 ** 20);
const quiet = { log_level: "3" };

// The broker runs in its own process so its in-memory log does not count in this RSS.
const broker = Bun.spawn([process.execPath, "run", `${import.meta.dir}/../src/cli/main.ts`, "broker", "--brokers", "1", "--topics", `mem:${P}`], {
  stdout: "pipe",
  stderr: "ignore",
});
const first = await broker.stdout.getReader().read();
const bootstrap = new TextDecoder().decode(first.value).trim();

console.log(`memory flatness: ${N.toLocaleString()} messages, ${P} partitions, lz4, embedded broker`);
const produceRss: number[] = [];
{
  const p = new Producer({
    "bootstrap.servers": bootstrap,
    "compression.type": "lz4",
    "linger.ms": "5",
    "batch.num.messages": "10000",
    "queue.buffering.max.messages": "1000000",
    ...quiet,
  });
  const batch = new MessageBatch(10_000, 1 << 20);
  const enc = new TextEncoder();
  const t0 = performance.now();
  for (let i = 0; i < N; ) {
    batch.reset();
    for (; i < N && !batch.full; i++) {
      batch.ensure(64);
      const off = batch.used;
      const w = enc.encodeInto(`{"i":${i}}`, batch.data.subarray(off)).written;
      batch.used += w;
      batch.commit(-1, -1, off, w);
    }
    p.produceBatch("mem", batch);
    p.poll(0);
    if (i % (N / 10) === 0) produceRss.push(mb());
  }
  await p.flush(120_000);
  const s = (performance.now() - t0) / 1000;
  console.log(
    `produce: ${p.delivered.toLocaleString()} delivered, ${p.failed} failed in ${s.toFixed(1)} s (${Math.round(p.delivered / s).toLocaleString()} msg/s)`,
  );
  console.log(`  RSS MiB at each 10%: ${produceRss.join(" ")}`);
  await p.close();
}

const admin = new Admin({ "bootstrap.servers": bootstrap, ...quiet });
let retained = 0;
for (let i = 0; i < P; i++) {
  const w = admin.watermarks("mem", i);
  retained += w.high - w.low;
}
admin.close();
console.log(`broker retained ${retained.toLocaleString()} of ${N.toLocaleString()} (the embedded broker trims past ~5 MiB per partition)`);

{
  const c = new Consumer({ "bootstrap.servers": bootstrap, "group.id": "mem", ...quiet });
  c.assign(Array.from({ length: P }, (_, i) => ({ topic: "mem", partition: i, offset: -2 })));
  const consumeRss: number[] = [];
  let got = 0;
  let next = retained / 10;
  const t0 = performance.now();
  let idle = 0;
  while (got < retained && idle < 2000) {
    const b = c.consume(10_000);
    got += b.count;
    if (b.count === 0) {
      idle++;
      await Bun.sleep(1);
    } else idle = 0;
    if (got >= next) {
      consumeRss.push(mb());
      next += retained / 10;
    }
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`consume: ${got.toLocaleString()} in ${s.toFixed(1)} s (${Math.round(got / s).toLocaleString()} msg/s)`);
  console.log(`  RSS MiB at each 10%: ${consumeRss.join(" ")}`);
  c.close();
}
broker.kill("SIGTERM");
await broker.exited;
