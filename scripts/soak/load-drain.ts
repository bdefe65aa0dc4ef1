import { spawn } from "./_children.ts";
import type { SoakResult } from "./types.ts";
import { startChildBroker } from "./_consumer-lib.ts";
import { createDb, claimRedisDb, groupLag, checkStores } from "../../test/helpers/stores.ts";

export const description =
  "`ingest serve` (--ack delivered) takes orders from `ingest load --kind orders` at a fixed rate above what one " +
  "`ingest consume` (MariaDB+Redis sinks, deliberately one lane and small fetches) writes, for ~60 s (quick) or 3 min, with " +
  "the consumer running all along; `ingest lag --json` is sampled every few seconds. Then the load stops and the consumer " +
  "must drain the lag to zero. Every order the server answered 202 for was delivered to Kafka (that is what the ack means), so " +
  "the topic's order ids are the 202 set: their count must equal load's 202 count, and each must be in MariaDB `orders` " +
  "exactly once, with stock = initial stock minus accepted quantities for every product and Redis equal to MariaDB. " +
  "Lost = 202-answered orders missing from MariaDB; duplicated = extra order rows (an id twice, or one nobody was answered for).";

const STOCK = 1_000_000;
const GROUP_PROPS = ["-X", "session.timeout.ms=6000", "-X", "max.poll.interval.ms=7000"];

export async function run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]> {
  const seconds = Number(process.env.SOAK_LOAD_SECONDS ?? (opts.quick ? 60 : 180));
  const rate = Number(process.env.SOAK_LOAD_RATE ?? 1500);
  return [await loadDrain({ ingest: opts.ingest, seconds, rate, log: opts.log })];
}

/** One load-then-drain run; also used by test/integration/reliability-load.test.ts with a short duration. */
export async function loadDrain(opts: { ingest: string; seconds: number; rate: number; log: (msg: string) => void }): Promise<SoakResult> {
  const { seconds, rate } = opts;
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const topic = `orders-load-${id}`;
  const group = `g-load-${id}`;
  // Many partitions: the embedded broker trims each past ~5 MiB, and the backlog must never be trimmed.
  const broker = await startChildBroker(opts.ingest, { [topic]: 24 });
  const db = await createDb("soak");
  const redis = await claimRedisDb();
  const env = { ...process.env, LOG_LEVEL: "warn", MYSQL_URL: db.url, REDIS_URL: redis.url };
  const procs: { kill(s?: string | number): void; exited: Promise<number> }[] = [];
  try {
    const serve = spawn([opts.ingest, "serve", "--port", "0", "-b", broker.bootstrap, "--orders-topic", topic, "--users-topic", topic], {
      stdout: "pipe",
      stderr: "pipe",
      env,
    });
    procs.push(serve);
    const reader = serve.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    reader.releaseLock();
    const url = /listening on (http:\/\/\S+)/.exec(first)?.[1];
    if (!url) throw new Error(`serve did not start: ${first}`);

    // One lane and small fetches: a consumer slower than the load, on purpose.
    const consumer = spawn(
      [
        opts.ingest,
        "consume",
        "--group",
        group,
        "--topics",
        topic,
        "--kinds",
        `orders=${topic}`,
        "--sink",
        "mysql,redis",
        "--initial-stock",
        String(STOCK),
        "--workers",
        "1",
        "--batch-size",
        "50",
        "--commit-interval-ms",
        "500",
        "-b",
        broker.bootstrap,
        ...GROUP_PROPS,
      ],
      { stdout: "ignore", stderr: "pipe", env },
    );
    procs.push(consumer);
    const consumerErr = new Response(consumer.stderr).text();

    opts.log(`load-drain: ${rate}/s for ${seconds}s into ${url}/order, consumer 1 lane`);
    const load = spawn(
      [opts.ingest, "load", "--url", `${url}/order`, "--rate", String(rate), "--duration", `${seconds}s`, "--kind", "orders", "--json", "--connections", "128"],
      { stdout: "pipe", stderr: "pipe", env },
    );
    procs.push(load);
    const loadOut = new Response(load.stdout).text();

    const samples: { t: number; lag: number }[] = [];
    const t0 = Date.now();
    const sample = async () => {
      const l = await groupLag((...a) => [opts.ingest, ...a], broker.bootstrap, group, [topic]).catch(() => null);
      if (l) samples.push({ t: Math.round((Date.now() - t0) / 1000), lag: l.total_lag });
      return l?.total_lag ?? -1;
    };
    let loadDone = false;
    void load.exited.then(() => (loadDone = true));
    while (!loadDone) {
      await sample();
      if (samples.length % 5 === 0) opts.log(`load-drain: t=${samples.at(-1)?.t}s lag ${samples.at(-1)?.lag}`);
      await Bun.sleep(3000);
    }
    const report = JSON.parse(await loadOut) as Record<string, unknown>;
    const statuses = (report.status ?? report.statuses ?? {}) as Record<string, number>;
    const answered202 = Number(statuses["202"] ?? 0);
    const lagAtStop = await sample();
    opts.log(`load-drain: load done, ${answered202} x 202, lag at stop ${lagAtStop}; draining`);

    // Drain: the lag must reach 0 within a generous bound (the backlog at the consumer's own pace).
    const drainStart = Date.now();
    let lag = lagAtStop;
    while (lag !== 0 && Date.now() - drainStart < 600_000) {
      await Bun.sleep(3000);
      lag = await sample();
    }
    const drainSeconds = Math.round((Date.now() - drainStart) / 1000);
    // Give the last commit a moment, then stop the consumer cleanly.
    consumer.kill("SIGTERM");
    const consumerCode = await consumer.exited;

    const kc = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "%s\n"], { stdout: "pipe", stderr: "ignore" });
    const topicIds = kc.stdout
      .toString()
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { order_id: string }).order_id);
    const check = await checkStores(db.conn, { userIds: [], orderIds: topicIds }, STOCK, redis.client);
    const finalLag = (await groupLag((...a) => [opts.ingest, ...a], broker.bootstrap, group, [topic])).total_lag;

    const peak = Math.max(...samples.map((s) => s.lag));
    const grew = peak > rate; // more than a second's worth of backlog built up
    const lost = check.lostOrders;
    const duplicated = check.duplicated;
    // Requests load gave up on (still in flight after its 10 s drain) may have been published but
    // never seen answered: the topic may hold at most that many orders beyond the 202s.
    const unanswered = Number(report.unanswered ?? 0);
    const topicMatches202 = topicIds.length >= answered202 && topicIds.length - answered202 <= unanswered && new Set(topicIds).size === topicIds.length;
    const pass =
      grew && finalLag === 0 && lost === 0 && duplicated === 0 && check.stockBad === 0 && check.redisMismatch === 0 && topicMatches202 && consumerCode === 0;
    const notes =
      `rate ${rate}/s x ${seconds}s, load report ${JSON.stringify(statuses)} (achieved ${report.achieved_rate ?? report.rate ?? "?"}/s); ` +
      `lag peak ${peak}, at stop ${lagAtStop}, drained to ${finalLag} in ${drainSeconds}s; samples ${samples.map((s) => `${s.t}s:${s.lag}`).join(" ")}; ` +
      `load scheduled ${report.scheduled}, unanswered at its end ${unanswered}, dropped ${report.dropped_behind}, latency ms ${JSON.stringify(report.latency_ms)}; ` +
      `topic ${topicIds.length} orders (${topicMatches202 ? "consistent with" : "NOT consistent with"} ${answered202} x 202 + at most ${unanswered} unanswered); MariaDB ${check.orders} rows (accepted ${check.accepted}, rejected ${check.rejected}), ` +
      `stock bad ${check.stockBad}, Redis mismatches ${check.redisMismatch}; consumer exit ${consumerCode}` +
      (grew ? "" : "; FAIL: the lag never grew past one second of load: the consumer kept up, raise SOAK_LOAD_RATE") +
      (consumerCode === 0 ? "" : `; consumer stderr: ${(await consumerErr).slice(0, 300)}`);
    opts.log(`load-drain: ${pass ? "PASS" : "FAIL"} ${notes}`);
    return { scenario: "load-drain", runs: 1, records: answered202, lost, duplicated, pass, notes };
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    await broker.stop().catch(() => undefined);
    await redis.drop();
    await db.drop();
  }
}
