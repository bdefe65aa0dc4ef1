import type { SoakResult } from "./types.ts";
import { startTcpProxy } from "../../test/helpers/tcp-proxy.ts";
import { groupLag, MYSQL, REDIS } from "../../test/helpers/stores.ts";
import { aheadNow, argvOf, positionsOf, produceSlice, countRows, rnd, setup, spawnConsumer, totalRecords, verdict } from "./_consumer-lib.ts";

export const description =
  "One consumer writes users and orders (a poison record every 1,000) to MariaDB and Redis, each reached through a TCP " +
  "proxy owned by the scenario, while a producer adds records in slices. MariaDB and Redis are cut off in turn (every " +
  "live connection dropped, new ones refused) for 1.5-4 s and restored, several times. The consumer must pause, retry " +
  "with capped backoff, log each outage once and resume, committing nothing past what is stored (sampled during every " +
  "cut). It is then stopped with SIGTERM once everything was consumed. Lost = produced users/orders absent from MariaDB; " +
  "duplicated = extra rows. Also checks stock, Redis equal to MariaDB, the DLQ holding exactly the poison records and " +
  "final lag 0.";

export async function run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]> {
  const cuts = opts.quick ? 4 : 12;
  const env = await setup(opts.ingest, { users: opts.quick ? 5000 : 15000, orders: opts.quick ? 10000 : 30000, partitions: 4, seed: 23 });
  const my = await startTcpProxy(MYSQL.host, MYSQL.port);
  const rd = await startTcpProxy(REDIS.host, REDIS.port);
  try {
    const slices = cuts + 1;
    await produceSlice(env, 0, 1 / slices);
    const c = spawnConsumer(env, {
      mysqlUrl: `mysql://root@${my.address}/${env.db.name}`,
      redisUrl: `redis://${rd.address}/${env.redis.db}`,
      logLevel: "info",
      extra: ["--workers", "4", "--batch-size", "300", "--commit-interval-ms", "200"],
    });
    let ahead = 0;
    let sureCuts = 0;
    const log: string[] = [];
    for (let i = 0; i < cuts; i++) {
      await Bun.sleep(rnd(1000, 2500));
      const proxy = i % 2 === 0 ? my : rd;
      const name = proxy === my ? "mariadb" : "redis";
      const killed = proxy.counters.killed;
      // Two ways in: cut first and then produce (the next write is sure to meet the outage), or
      // produce and cut as soon as rows are flowing (a write interrupted mid-transaction/pipeline).
      const blind = i % 4 < 2;
      const rows0 = await countRows(env);
      if (blind) proxy.cut();
      await produceSlice(env, (i + 1) / slices, (i + 2) / slices);
      if (!blind) {
        for (let w = 0; w < 200 && (await countRows(env)) <= rows0; w++) await Bun.sleep(10);
        proxy.cut();
      }
      const pos = await positionsOf(env);
      const len = rnd(1500, 4000);
      const t0 = performance.now();
      let a = 0;
      while (performance.now() - t0 < len) {
        await Bun.sleep(500);
        a += await aheadNow(env, pos.positions, pos.orderIds);
      }
      proxy.restore();
      ahead += a;
      if (blind) sureCuts++;
      log.push(`${name} ${blind ? "before" : "during"} writes ${Math.round(len)} ms (${proxy.counters.killed - killed} conns cut)`);
      opts.log(
        `cut ${i + 1}/${cuts}: ${name} ${blind ? "before" : "during"} writes, for ${Math.round(len)} ms, ${proxy.counters.killed - killed} connections dropped; committed ahead of stored ${a}`,
      );
    }
    // Let it finish: wait until the group's lag is 0 (or give up), then a graceful stop.
    const total = totalRecords(env);
    const t1 = performance.now();
    for (;;) {
      const pos = await positionsOf(env);
      const a = await aheadNow(env, pos.positions, pos.orderIds);
      ahead += a;
      const lag = await groupLag(argvOf(opts.ingest), env.broker.bootstrap, env.group, [env.users, env.orders]);
      if (lag.total_lag === 0 || performance.now() - t1 > 90_000) break;
      await Bun.sleep(1000);
    }
    c.proc.kill("SIGTERM");
    const code = await c.proc.exited;
    const stderr = await c.stderr;
    const failedLogs = stderr.split("\n").filter((l) => l.includes("a store failed; pausing")).length;
    const resumedLogs = stderr.split("\n").filter((l) => l.includes("stores answer again: resuming")).length;
    const v = await verdict(env);
    opts.log(`consumer exit ${code}; outage logs ${failedLogs}, resume logs ${resumedLogs}; ${v.summary}`);
    // Logged once per state change: a line per outage the consumer met (every cut made before
    // producing; a cut after a slice was fully written goes unseen), never one per message.
    const pass = v.pass && ahead === 0 && code === 0 && failedLogs >= sureCuts && failedLogs <= cuts && resumedLogs === failedLogs;
    return [
      {
        scenario: "store-outage",
        runs: cuts,
        records: total,
        lost: v.lost,
        duplicated: v.duplicated,
        pass,
        notes: `cuts: ${log.join(", ")}; consumer exit ${code}; outage logged ${failedLogs}x, resume ${resumedLogs}x; committed ahead of stored: ${ahead}; ${v.summary}`,
      },
    ];
  } finally {
    my.close();
    rd.close();
    await env.cleanup();
  }
}
