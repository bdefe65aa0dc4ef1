import type { SoakResult } from "./types.ts";
import type { KafkaCluster } from "../../tools/kafka/cluster.ts";
import { aheadNow, finish, positionsOf, produceSlice, countRows, rnd, setup, spawnConsumer, totalRecords, verdict, onKafka4 } from "./_consumer-lib.ts";

export const description =
  "A consumer (`--sink mysql,redis`, 4 lanes, random batch size and commit interval) over users and orders topics " +
  "with a poison record every 1,000 is SIGKILLed at a random moment (during start-up, the group join or mid-write), " +
  "then restarted, over and over; half of the records are produced up front and the rest half-way through. After every " +
  "kill the committed offsets are compared with the rows in MariaDB: a record below a committed offset that is not stored " +
  "would be lost for good. A last consumer then runs to the end. Lost = produced users/orders absent from MariaDB; " +
  "duplicated = extra rows (an id stored twice, or a row nobody produced). It also checks stock (initial stock minus " +
  "accepted quantities, never negative), Redis equal to MariaDB for every user and every changed product, the DLQ holding " +
  "exactly the poison records (copies re-sent after a kill are counted in the notes: the DLQ is at-least-once), and final lag 0. Runs twice: on the embedded broker, and on a three-node Apache Kafka 4.4 cluster (replication factor 3; a real broker keeps a killed member for its 6 s session timeout).";

export async function run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]> {
  return [...(await scenario(opts)), ...(await onKafka4((k) => scenario(opts, k)))];
}

async function scenario(opts: { quick: boolean; ingest: string; log: (msg: string) => void }, cluster?: KafkaCluster): Promise<SoakResult[]> {
  const kills = opts.quick ? 6 : 24;
  const env = await setup(opts.ingest, { users: opts.quick ? 4000 : 15000, orders: opts.quick ? 8000 : 30000, partitions: 4, seed: 7, cluster });
  try {
    const slices = 4;
    let produced = 0;
    let pos = await positionsOf(env);
    let ahead = 0;
    let killedMidWrite = 0;
    for (let i = 0; i < kills; i++) {
      if (i % Math.ceil(kills / slices) === 0 && produced < slices) {
        await produceSlice(env, produced / slices, (produced + 1) / slices);
        produced++;
        pos = await positionsOf(env);
      }
      const batch = String(Math.floor(rnd(100, 1500)));
      const rows0 = await countRows(env);
      const c = spawnConsumer(env, { extra: ["--workers", "4", "--batch-size", batch, "--commit-interval-ms", String(Math.floor(rnd(50, 800)))] });
      const t0 = performance.now();
      // One kill in four at a blind moment (start-up, migration, group join); the rest once rows
      // are flowing, a random moment into the writes.
      if (i % 4 === 3) await Bun.sleep(rnd(100, 3000));
      else {
        while (performance.now() - t0 < 15_000 && (await countRows(env)) === rows0) await Bun.sleep(50);
        await Bun.sleep(rnd(0, 1500));
      }
      const at = performance.now() - t0;
      c.proc.kill("SIGKILL");
      await c.proc.exited;
      const rows1 = await countRows(env);
      if (rows1 > rows0) killedMidWrite++;
      const a = await aheadNow(env, pos.positions, pos.orderIds);
      ahead += a;
      opts.log(`kill ${i + 1}/${kills} after ${Math.round(at)} ms (batch ${batch}): rows stored ${rows0} -> ${rows1}, committed-but-not-stored ${a}`);
    }
    while (produced < slices) await produceSlice(env, produced / slices, ++produced / slices);
    const f = await finish(env, { extra: ["--workers", "4"] });
    const v = await verdict(env);
    const pass = v.pass && ahead === 0 && f.code === 0;
    opts.log(`final consumer exit ${f.code}; ${v.summary}`);
    return [
      {
        scenario: "consumer-kill",
        runs: kills + 1,
        records: totalRecords(env),
        lost: v.lost,
        duplicated: v.duplicated,
        pass,
        notes: `${kills} SIGKILLs (${killedMidWrite} after rows had been written in that run) + final run (exit ${f.code}); committed ahead of stored after kills: ${ahead}; ${v.summary}`,
      },
    ];
  } finally {
    await env.cleanup();
  }
}
