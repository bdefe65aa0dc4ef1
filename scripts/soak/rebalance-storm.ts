import type { SoakResult } from "./types.ts";
import type { KafkaCluster } from "../../tools/kafka/cluster.ts";
import { aheadNow, finish, positionsOf, produceSlice, rnd, setup, spawnConsumer, totalRecords, verdict, onKafka4 } from "./_consumer-lib.ts";

export const description =
  "Consumers of one group join and leave every 1.5-4 s (between 1 and 4 members alive, at least 3 started at once " +
  "at the start; leaving is SIGTERM, a graceful leave that finishes in-flight batches and commits on revoke), while a " +
  "producer adds users and orders (a poison record every 1,000) in slices throughout. Each rebalance moves partitions " +
  "between members mid-batch. After the storm a last consumer drains what is left. Lost = produced users/orders absent " +
  "from MariaDB; duplicated = extra rows. Also checks stock, Redis equal to MariaDB, the DLQ holding exactly the poison " +
  "records, commits never ahead of stored rows (sampled during the storm) and final lag 0. Runs twice: on the embedded broker, and on a three-node Apache Kafka 4.4 cluster (replication factor 3; a real broker keeps a killed member for its 6 s session timeout).";

export async function run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]> {
  return [...(await scenario(opts)), ...(await onKafka4((k) => scenario(opts, k)))];
}

async function scenario(opts: { quick: boolean; ingest: string; log: (msg: string) => void }, cluster?: KafkaCluster): Promise<SoakResult[]> {
  const seconds = opts.quick ? 25 : 150;
  const env = await setup(opts.ingest, { users: opts.quick ? 5000 : 20000, orders: opts.quick ? 10000 : 40000, partitions: 6, seed: 11, cluster });
  const alive: ReturnType<typeof spawnConsumer>[] = [];
  let started = 0;
  let left = 0;
  let badExits = 0;
  let ahead = 0;
  let samples = 0;
  const exits: Promise<unknown>[] = [];
  const badExitInfo: string[] = [];
  let startupTerms = 0;
  const start = () => {
    alive.push(spawnConsumer(env, { extra: ["--workers", "2", "--batch-size", String(Math.floor(rnd(200, 1000))), "--commit-interval-ms", "200"] }));
    started++;
  };
  const leave = async () => {
    const c = alive.splice(Math.floor(Math.random() * alive.length), 1)[0]!;
    c.proc.kill("SIGTERM");
    const t = setTimeout(() => c.proc.kill("SIGKILL"), 30_000);
    // A graceful leave exits 0; 1 only if it gave up on a failing store (none fails here).
    exits.push(
      c.proc.exited.then(async (code) => {
        clearTimeout(t);
        const err = (await c.stderr).trim().split("\n").slice(-3).join(" | ");
        // 143 with nothing logged: SIGTERM arrived during start-up, before `consume` installs its
        // handler (src/commands/consume.ts, after the stores are opened). Nothing was taken yet, so
        // nothing can be lost; counted apart, not as a failure.
        if (code === 143 && err === "") startupTerms++;
        else if (code !== 0) {
          badExits++;
          badExitInfo.push(`exit ${code}: ${err.slice(0, 600)}`);
          opts.log(`a leaving consumer exited ${code}: ${err.slice(0, 1500)}`);
        }
      }),
    );
    left++;
  };
  try {
    const slices = 10;
    let produced = 0;
    await produceSlice(env, 0, 1 / slices);
    produced = 1;
    for (let i = 0; i < 3; i++) start();
    const t0 = performance.now();
    let nextProduce = t0 + (seconds * 1000) / slices;
    while (performance.now() - t0 < seconds * 1000) {
      await Bun.sleep(rnd(1500, 4000));
      if (alive.length <= 1 || (alive.length < 4 && Math.random() < 0.5)) start();
      else await leave();
      if (performance.now() >= nextProduce && produced < slices) {
        await produceSlice(env, produced / slices, (produced + 1) / slices);
        produced++;
        nextProduce += (seconds * 1000) / slices;
      }
      if (samples % 3 === 0) {
        const pos = await positionsOf(env);
        ahead += await aheadNow(env, pos.positions, pos.orderIds);
      }
      samples++;
    }
    while (produced < slices) await produceSlice(env, produced / slices, ++produced / slices);
    opts.log(`storm over: ${started} started, ${left} left, ${alive.length} still in; draining`);
    while (alive.length) await leave();
    await Promise.all(exits);
    const f = await finish(env, { extra: ["--workers", "4"] });
    const pos = await positionsOf(env);
    ahead += await aheadNow(env, pos.positions, pos.orderIds);
    const v = await verdict(env);
    opts.log(`final consumer exit ${f.code}; ${v.summary}`);
    return [
      {
        scenario: "rebalance-storm",
        runs: started + 1,
        records: totalRecords(env),
        lost: v.lost,
        duplicated: v.duplicated,
        pass: v.pass && ahead === 0 && f.code === 0 && badExits === 0,
        notes: `${seconds} s storm: ${started} consumers started, ${left} left (terminated during start-up ${startupTerms}; other non-zero exits ${badExits}${badExitInfo.length ? `: ${badExitInfo.join("; ")}` : ""}); committed ahead of stored: ${ahead}; ${v.summary}`,
      },
    ];
  } finally {
    for (const c of alive) c.proc.kill("SIGKILL");
    await env.cleanup();
  }
}
