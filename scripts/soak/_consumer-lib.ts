/**
 * Shared by the consumer soak scenarios (a `_` file: the runner does not treat it as a scenario).
 * A fresh embedded broker in a child process (or topics on a real Kafka 4.4 cluster the caller
 * started), a MariaDB database and Redis db of the run's own,
 * a users+orders dataset with a poison record every 1,000, consumer processes, and the final
 * verdict (exactly once in MySQL and Redis, stock, DLQ, commits) as counts.
 */
import { spawn } from "./_children.ts";
import type { Subprocess } from "bun";
import { KafkaCluster } from "../../tools/kafka/cluster.ts";
import type { SoakResult } from "./types.ts";
import {
  checkStores,
  claimRedisDb,
  committedAheadOfStored,
  createDb,
  groupLag,
  makeDataset,
  orderIdPositions,
  produceLines,
  recordPositions,
  topicKeys,
  type Dataset,
  type StoreCheck,
  type TestDb,
  type TestRedis,
} from "../../test/helpers/stores.ts";

/**
 * The embedded broker holds a group rejoin for the members' max.poll.interval.ms and keeps a
 * killed member until session.timeout.ms: short values keep every restart and rebalance quick.
 */
export const GROUP_PROPS = ["-X", "session.timeout.ms=4000", "-X", "heartbeat.interval.ms=500", "-X", "max.poll.interval.ms=5000"];
/** A real broker refuses sessions below its group.min.session.timeout.ms (6 s by default). */
export const KAFKA4_GROUP_PROPS = ["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000", "-X", "max.poll.interval.ms=30000"];
export const STOCK = 60;

export interface ChildBroker {
  bootstrap: string;
  stop(): Promise<void>;
}

/** `ingest broker` in a child process; its first stdout line is the bootstrap list. */
export async function startChildBroker(ingest: string, topics: Record<string, number>): Promise<ChildBroker> {
  const spec = Object.entries(topics)
    .map(([t, n]) => `${t}:${n}`)
    .join(",");
  const p = spawn([ingest, "broker", "--brokers", "3", "--topics", spec], { stdout: "pipe", stderr: "ignore", env: { ...process.env, LOG_LEVEL: "warn" } });
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("ingest broker exited before printing its bootstrap");
    text += new TextDecoder().decode(value);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  void (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done);
  })();
  return {
    bootstrap: text.split("\n")[0]!.trim(),
    async stop() {
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 5000);
      await p.exited;
      clearTimeout(t);
    },
  };
}

/** Topics (and their dead-letter topics) created on a running Kafka 4.4 cluster with `ingest topic create`. */
async function topicsOn(ingest: string, cluster: KafkaCluster, topics: string[], partitions: number): Promise<ChildBroker> {
  for (const t of topics.flatMap((x) => [x, `${x}.dlq`])) {
    const p = spawn([ingest, "topic", "create", t, "--partitions", String(t.endsWith(".dlq") ? 1 : partitions), "-b", cluster.bootstrap], {
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, LOG_LEVEL: "warn" },
    });
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`topic create ${t}: ${err}`);
  }
  return { bootstrap: cluster.bootstrap, stop: async () => {} };
}

export interface Env {
  ingest: string;
  broker: ChildBroker;
  /** The real Kafka 4.4 cluster the topics live on, when not the embedded broker. */
  cluster?: KafkaCluster;
  groupProps: string[];
  db: TestDb;
  redis: TestRedis;
  users: string;
  orders: string;
  group: string;
  ds: Dataset;
  kinds: Map<string, "users" | "orders">;
  cleanup(): Promise<void>;
}

export async function setup(ingest: string, o: { users: number; orders: number; partitions: number; seed: number; cluster?: KafkaCluster }): Promise<Env> {
  const id = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const users = `users-soak-${id}`;
  const orders = `orders-soak-${id}`;
  const broker = o.cluster
    ? await topicsOn(ingest, o.cluster, [users, orders], o.partitions)
    : await startChildBroker(ingest, { [users]: o.partitions, [orders]: o.partitions });
  const db = await createDb("soak");
  const redis = await claimRedisDb();
  const ds = makeDataset({ users: o.users, orders: o.orders, poisonEvery: 1000, seed: o.seed });
  return {
    ingest,
    broker,
    cluster: o.cluster,
    groupProps: o.cluster ? KAFKA4_GROUP_PROPS : GROUP_PROPS,
    db,
    redis,
    users,
    orders,
    group: `g-soak-${id}`,
    ds,
    kinds: new Map([
      [users, "users"],
      [orders, "orders"],
    ]),
    async cleanup() {
      await broker.stop().catch(() => undefined);
      await redis.drop();
      await db.drop();
    },
  };
}

/** Produce a slice [from, to) of each topic's lines (a fraction of the dataset). */
export async function produceSlice(env: Env, from: number, to: number): Promise<void> {
  const cut = (lines: string[]) => lines.slice(Math.floor(lines.length * from), Math.floor(lines.length * to));
  await produceLines(env.broker.bootstrap, env.users, cut(env.ds.usersLines));
  await produceLines(env.broker.bootstrap, env.orders, cut(env.ds.ordersLines));
}

export function totalRecords(env: Env): number {
  return env.ds.usersLines.length + env.ds.ordersLines.length;
}

export interface ConsumerOpts {
  mysqlUrl?: string;
  redisUrl?: string;
  extra?: string[];
  logLevel?: string;
}

export function spawnConsumer(env: Env, o: ConsumerOpts = {}): { proc: Subprocess<"ignore", "ignore", "pipe">; stderr: Promise<string> } {
  const args = [
    env.ingest,
    "consume",
    "--group",
    env.group,
    "--topics",
    `${env.users},${env.orders}`,
    "--sink",
    "mysql,redis",
    "--initial-stock",
    String(STOCK),
    "-b",
    env.broker.bootstrap,
    ...env.groupProps,
    ...(o.extra ?? []),
  ];
  const proc = spawn(args, {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: o.logLevel ?? "warn", MYSQL_URL: o.mysqlUrl ?? env.db.url, REDIS_URL: o.redisUrl ?? env.redis.url },
  });
  return { proc, stderr: new Response(proc.stderr).text() };
}

export const argvOf =
  (ingest: string) =>
  (...a: string[]) => [ingest, ...a];

/** Records below a committed offset that are not in MySQL (must stay 0). */
export async function aheadNow(
  env: Env,
  positions: Awaited<ReturnType<typeof recordPositions>>,
  orderIds: Awaited<ReturnType<typeof orderIdPositions>>,
): Promise<number> {
  // A minute: right after a broker dies, its group coordinator and partition leaders move (Kafka
  // fences a silent broker after 9 s) and the committed offsets cannot be read meanwhile.
  const lag = await groupLag(argvOf(env.ingest), env.broker.bootstrap, env.group, [env.users, env.orders], env.cluster ? 60_000 : 10_000);
  return committedAheadOfStored(lag, positions, orderIds, env.db.conn, env.kinds);
}

export async function positionsOf(env: Env) {
  return {
    positions: await recordPositions(env.broker.bootstrap, [env.users, env.orders]),
    orderIds: await orderIdPositions(env.broker.bootstrap, env.orders),
  };
}

export interface Verdict {
  check: StoreCheck;
  totalLag: number;
  dlqMissing: number;
  dlqStray: number;
  dlqDuplicates: number;
  lost: number;
  duplicated: number;
  pass: boolean;
  summary: string;
}

/** The end state against the dataset. DLQ duplicates are reported, not failed: the DLQ is at-least-once. */
export async function verdict(env: Env): Promise<Verdict> {
  const check = await checkStores(env.db.conn, env.ds, STOCK, env.redis.client);
  const lag = await groupLag(argvOf(env.ingest), env.broker.bootstrap, env.group, [env.users, env.orders]);
  const dlq = [...(await topicKeys(env.broker.bootstrap, `${env.users}.dlq`)), ...(await topicKeys(env.broker.bootstrap, `${env.orders}.dlq`))];
  const dlqSet = new Set(dlq);
  const dlqMissing = [...env.ds.poisonKeys].filter((k) => !dlqSet.has(k)).length;
  const dlqStray = [...dlqSet].filter((k) => !env.ds.poisonKeys.has(k)).length;
  const dlqDuplicates = dlq.length - dlqSet.size;
  const lost = check.lostUsers + check.lostOrders;
  const pass =
    lost === 0 && check.duplicated === 0 && check.stockBad === 0 && check.redisMismatch === 0 && lag.total_lag === 0 && dlqMissing === 0 && dlqStray === 0;
  const summary =
    `mysql users ${check.users}/${env.ds.userIds.length}, orders ${check.orders}/${env.ds.orderIds.length} (accepted ${check.accepted}, rejected ${check.rejected}); ` +
    `stock bad ${check.stockBad}; redis mismatches ${check.redisMismatch}; final lag ${lag.total_lag}; ` +
    `DLQ ${dlqSet.size}/${env.ds.poisonKeys.size} poison (missing ${dlqMissing}, stray ${dlqStray}, re-sent copies ${dlqDuplicates})`;
  return { check, totalLag: lag.total_lag, dlqMissing, dlqStray, dlqDuplicates, lost, duplicated: check.duplicated, pass, summary };
}

/** Run a consumer until it has been idle (everything consumed), return its exit code. */
export async function finish(env: Env, o: ConsumerOpts = {}, timeoutMs = 120_000): Promise<{ code: number; stderr: string }> {
  const c = spawnConsumer(env, { ...o, extra: [...(o.extra ?? []), "--idle-exit-ms", "6000"] });
  const t = setTimeout(() => c.proc.kill("SIGKILL"), timeoutMs);
  const code = await c.proc.exited;
  clearTimeout(t);
  return { code, stderr: await c.stderr };
}

export function rnd(min: number, max: number): number {
  return min + Math.random() * (max - min);
}

/** users + orders rows in MariaDB (0 before the schema exists). */
export async function countRows(env: { db: { conn: import("mysql2/promise").Connection } }): Promise<number> {
  try {
    const [[r]] = (await env.db.conn.query("SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM orders) AS n")) as unknown as [{ n: number }[]];
    return Number(r!.n);
  } catch {
    return 0;
  }
}

export const KAFKA4_BROKER = "Kafka 4.4, 3 nodes";

/**
 * Run a scenario on a fresh three-node Kafka 4.4 cluster (replication factor 3), its results
 * labelled with that broker; the cluster is stopped afterwards.
 */
export async function onKafka4(f: (k: KafkaCluster) => Promise<SoakResult[]>): Promise<SoakResult[]> {
  const k = await KafkaCluster.start({ nodes: 3 });
  try {
    return (await f(k)).map((r) => ({ ...r, broker: KAFKA4_BROKER }));
  } finally {
    await k.stop();
  }
}
