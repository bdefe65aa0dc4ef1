/**
 * Broker faults on a real three-node Apache Kafka 4.4 cluster (tools/kafka): replication factor
 * 3, min.insync.replicas 2. test/integration/kafka4-faults.test.ts runs the same scenarios small, in CI.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "./_children.ts";
import type { SoakResult } from "./types.ts";
import { KafkaCluster } from "../../tools/kafka/cluster.ts";
import {
  aheadNow,
  countRows,
  positionsOf,
  produceSlice,
  rnd,
  setup,
  spawnConsumer,
  totalRecords,
  verdict,
  argvOf,
  KAFKA4_BROKER as BROKER,
  type Env,
} from "./_consumer-lib.ts";
import { groupLag } from "../../test/helpers/stores.ts";

export const description =
  "Broker faults on a real Apache Kafka 4.4 KRaft cluster of three combined broker+controller nodes on this machine " +
  "(tools/kafka/cluster.ts; replication factor 3, min.insync.replicas=2, unclean leader election off). " +
  "**produce-leader-kill**: `ingest produce` of a users CSV (1M rows full, 200k quick; 12 partitions, acks=all, idempotent) while the " +
  "broker leading most partitions is SIGKILLed at a random moment and restarted a few seconds later; the topic is then read by kcat: " +
  "lost = rows the summary reports delivered that are not in the topic, duplicated = keys present twice. " +
  "**serve-leader-kill**: `ingest serve --ack delivered` under `ingest load` (orders, fixed rate) plus a recording client; the busiest " +
  "leader is SIGKILLed mid-run and restarted; every order answered 202 (the recording client's, by id) must be in the topic once, and " +
  "no order id may be in the topic twice. " +
  "**consume-coordinator-kill**: `ingest consume` into MariaDB+Redis (users and orders, a poison record every 1,000) while the broker " +
  "coordinating its group (ConsumerGroupCommand --state) is SIGKILLed mid-write and restarted; the same consumer process must keep going; " +
  "commits are compared with stored rows after the kill (a record below a committed offset that is not stored would be lost). " +
  "**rolling-restart**: the same consumer setup while each broker in turn is stopped (SIGTERM, controlled shutdown) and started again, " +
  "waiting for full ISR before the next. Both consumer scenarios end with the stores exact (every user/order once, stock consistent, " +
  "Redis equal to MariaDB, the DLQ holding the poison records), final lag 0 and the consumer's exit 0. " +
  "**isr-below-min**: two of the three brokers are SIGKILLed (the partitions' ISR falls below min.insync.replicas, and the KRaft quorum " +
  "loses its majority) and `ingest produce` (acks=all) runs; the brokers come back after 10 s (produce must then deliver every row, once) " +
  "or, in a second run, only after produce's message.timeout.ms (produce must exit 1 and report failures; afterwards every row it " +
  "reported delivered must be in the topic). Lost = rows reported delivered but missing; duplicated = keys present twice.";

type Log = (msg: string) => void;
interface Opts {
  quick: boolean;
  ingest: string;
  log: Log;
}

async function run1(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "warn", ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function createTopic(o: Opts, k: KafkaCluster, topic: string, partitions: number, extra: string[] = []): Promise<void> {
  const r = await run1([o.ingest, "topic", "create", topic, "--partitions", String(partitions), ...extra, "-b", k.bootstrap]);
  if (r.code !== 0) throw new Error(`topic create ${topic}: ${r.stderr}`);
  await k.waitForIsr(topic, k.nodes.length);
}

/** Keys (or `%s` values) of a topic, read by kcat from the beginning to the end. */
async function kcatRead(k: KafkaCluster, topic: string, format = "%k\n"): Promise<string[]> {
  const r = await run1(["kcat", "-C", "-b", k.bootstrap, "-t", topic, "-e", "-q", "-f", format]);
  if (r.code !== 0) throw new Error(`kcat ${topic}: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean);
}

const dupes = (xs: string[]) => xs.length - new Set(xs).size;

async function genUsers(o: Opts, rows: number, dir: string): Promise<{ csv: string; ids: Set<string> }> {
  const csv = join(dir, `users-${rows}.csv`);
  if (!existsSync(csv)) {
    const g = await run1([o.ingest, "gen", "users", "--rows", String(rows), "--out", csv]);
    if (g.code !== 0) throw new Error(`gen: ${g.stderr}`);
  }
  const ids = new Set(
    readFileSync(csv, "utf8")
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((l) => l.slice(0, l.indexOf(","))),
  );
  return { csv, ids };
}

interface ProduceSummary {
  rows_accepted: number;
  messages_delivered: number;
  messages_failed: number;
  ok: boolean;
}

// ---- produce while the busiest leader dies -----------------------------------------------------

export async function produceLeaderKill(k: KafkaCluster, o: Opts, rows: number, dir: string): Promise<SoakResult> {
  const { csv, ids } = await genUsers(o, rows, dir);
  const topic = `users-k4pk-${Date.now().toString(36)}`;
  await createTopic(o, k, topic, 12);
  const victim = k.busiestLeader(topic);
  const summaryFile = join(dir, `${topic}.summary.json`);
  const t0 = performance.now();
  const p = spawn([o.ingest, "produce", "--file", csv, "--topic", topic, "-b", k.bootstrap, "--no-progress", "--summary-json", summaryFile], {
    stdout: "ignore",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  const stderr = new Response(p.stderr).text();
  // A random moment while rows are being sent (a 1M-row run sends for about a second here).
  const killAfter = rnd(150, rows >= 1_000_000 ? 900 : 400);
  await Bun.sleep(killAfter);
  const midRun = p.exitCode === null;
  await k.stopNode(victim, "SIGKILL");
  const downMs = rnd(2000, 6000);
  await Bun.sleep(downMs);
  await k.startNode(victim);
  const code = await p.exited;
  const seconds = (performance.now() - t0) / 1000;
  const summary: ProduceSummary | null = existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, "utf8")) : null;
  const keys = await kcatRead(k, topic);
  const inTopic = new Set(keys);
  const missing = [...ids].filter((id) => !inTopic.has(id)).length;
  const stray = [...inTopic].filter((id) => !ids.has(id)).length;
  const duplicated = dupes(keys);
  const agree = summary !== null && summary.messages_delivered === inTopic.size && summary.messages_failed === 0;
  const pass = code === 0 && midRun && missing === 0 && stray === 0 && duplicated === 0 && agree;
  const notes =
    `broker ${victim} (leader of the most partitions) SIGKILLed ${Math.round(killAfter)} ms after start (${midRun ? "mid-run" : "produce had already finished"}), ` +
    `restarted ${(downMs / 1000).toFixed(1)} s later; produce exit ${code} after ${seconds.toFixed(1)} s, summary delivered ${summary?.messages_delivered ?? "?"} failed ${summary?.messages_failed ?? "?"}; ` +
    `topic (kcat): ${keys.length} records, ${inTopic.size} distinct keys of ${ids.size} rows, missing ${missing}, stray ${stray}` +
    (code !== 0 ? `; stderr: ${(await stderr).trim().split("\n").slice(-2).join(" | ")}` : "");
  o.log(`produce-leader-kill: ${pass ? "pass" : "FAIL"}: ${notes}`);
  return { scenario: "kafka4/produce-leader-kill", broker: BROKER, runs: 1, records: ids.size, lost: missing, duplicated, pass, notes };
}

// ---- serve while the busiest leader dies -------------------------------------------------------

export async function serveLeaderKill(k: KafkaCluster, o: Opts, seconds: number, rate: number): Promise<SoakResult> {
  const topic = `orders-k4sk-${Date.now().toString(36)}`;
  await createTopic(o, k, topic, 12);
  const srv = spawn([o.ingest, "serve", "--port", "0", "--orders-topic", topic, "--ack", "delivered", "-b", k.bootstrap], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  const srvErr = new Response(srv.stderr).text();
  const reader = srv.stdout.getReader();
  let line = "";
  while (!/listening on \S+\n?/.test(line)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited: ${await srvErr}`);
    line += new TextDecoder().decode(value);
  }
  const base = /listening on (http:\/\/\S+)/.exec(line)![1]!;
  const load = spawn([o.ingest, "load", "--url", `${base}/order`, "--rate", String(rate), "--duration", `${seconds}s`, "--connections", "64", "--json"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  const loadOut = new Response(load.stdout).text();
  // The recording client: its 202 answers are checked one by one.
  const answered: string[] = [];
  const statuses = new Map<number, number>();
  let recording = true;
  const recorder = (async () => {
    let i = 0;
    while (recording) {
      const body = JSON.stringify({ customer_id: `rec-${i % 50}`, product_id: `P${String(1 + (i % 100)).padStart(4, "0")}`, quantity: 1, amount: 1.5 });
      i++;
      try {
        const res = await fetch(`${base}/order`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(60_000),
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const j = (await res.json()) as { order_id?: string };
        if (res.status === 202) answered.push(j.order_id!);
      } catch {
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
      }
      await Bun.sleep(5);
    }
  })();
  const killAt = seconds * rnd(0.2, 0.4);
  await Bun.sleep(killAt * 1000);
  const victim = k.busiestLeader(topic);
  await k.stopNode(victim, "SIGKILL");
  const downMs = rnd(2000, 5000);
  await Bun.sleep(downMs);
  await k.startNode(victim);
  const loadCode = await load.exited;
  recording = false;
  await recorder;
  srv.kill("SIGTERM");
  const srvCode = await srv.exited;
  let loadReport: {
    status?: Record<string, number>;
    scheduled?: number;
    unanswered?: number;
    dropped_behind?: number;
    latency_ms?: { p99: number; max: number };
  } = {};
  try {
    loadReport = JSON.parse((await loadOut).trim().split("\n").pop() ?? "{}");
  } catch {}
  const values = await kcatRead(k, topic, "%s\n");
  const ids = values.map((v) => /"order_id":"([^"]+)"/.exec(v)?.[1] ?? "");
  const inTopic = new Map<string, number>();
  for (const id of ids) inTopic.set(id, (inTopic.get(id) ?? 0) + 1);
  const missing = answered.filter((id) => !inTopic.has(id)).length;
  const duplicated = ids.length - inTopic.size;
  const load202 = Number(loadReport.status?.["202"] ?? 0);
  // load exits 1 when any answer is not 202: a 503 while the leader is away is an honest answer
  // (not delivered in time), not a fault; a crash or no report is.
  const loadRan = (loadCode === 0 || loadCode === 1) && Number(loadReport.scheduled ?? 0) > 0;
  const pass = missing === 0 && duplicated === 0 && inTopic.size >= load202 + answered.length && answered.length > 0 && srvCode === 0 && loadRan;
  const notes =
    `broker ${victim} SIGKILLed ${killAt.toFixed(1)} s into a ${seconds} s run at ${rate} orders/s (ingest load), restarted ${(downMs / 1000).toFixed(1)} s later; ` +
    `load: scheduled ${loadReport.scheduled}, statuses ${JSON.stringify(loadReport.status ?? {})}, unanswered at its end ${loadReport.unanswered}, not sent ${loadReport.dropped_behind}, p99 ${Math.round(loadReport.latency_ms?.p99 ?? NaN)} ms, max ${Math.round(loadReport.latency_ms?.max ?? NaN)} ms; recording client statuses ${JSON.stringify(Object.fromEntries(statuses))} (0 = no answer); ` +
    `topic: ${ids.length} records, ${inTopic.size} distinct order ids (>= ${load202} + ${answered.length} answered 202); recorded 202s missing ${missing}; serve exit ${srvCode}, load exit ${loadCode}`;
  o.log(`serve-leader-kill: ${pass ? "pass" : "FAIL"}: ${notes}`);
  return { scenario: "kafka4/serve-leader-kill", broker: BROKER, runs: 1, records: ids.length, lost: missing, duplicated, pass, notes };
}

// ---- consume while the group coordinator dies, and a rolling restart -----------------------------

/** The node id of the group's coordinator, from ConsumerGroupCommand --describe --state. */
function coordinatorOf(k: KafkaCluster, group: string): number | null {
  const r = k.tool("consumer-groups", ["--bootstrap-server", k.bootstrap, "--describe", "--group", group, "--state"]);
  const m = /\(\s*(\d+)\s*\)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

async function waitRows(env: Env, above: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < timeoutMs && (n = await countRows(env)) <= above) await Bun.sleep(50);
  return n;
}

/** Waits for the group's lag to reach 0; else the last lag and where it was (or why it could not be read). */
async function waitLag0(env: Env, timeoutMs: number): Promise<{ lag: number; detail: string }> {
  const t0 = performance.now();
  let lag = -1;
  let detail = "";
  while (performance.now() - t0 < timeoutMs) {
    try {
      const r = await groupLag(argvOf(env.ingest), env.broker.bootstrap, env.group, [env.users, env.orders]);
      lag = r.total_lag;
      detail = r.partitions
        .filter((p) => p.lag !== 0)
        .map((p) => JSON.stringify(p))
        .join(" ")
        .slice(0, 600);
    } catch (e) {
      lag = -1;
      detail = (e as Error).message.slice(0, 300);
    }
    if (lag === 0) return { lag, detail: "" };
    await Bun.sleep(500);
  }
  return { lag, detail };
}

async function consumeUnder(
  k: KafkaCluster,
  o: Opts,
  name: string,
  size: { users: number; orders: number },
  fault: (env: Env, check: (what: string) => Promise<void>) => Promise<string>,
): Promise<SoakResult> {
  const env = await setup(o.ingest, { ...size, partitions: 6, seed: 17, cluster: k });
  try {
    // A fifth up front, the rest in slices while the fault happens, so the consumer is writing
    // when a broker goes away.
    const slices = 10;
    await produceSlice(env, 0, 2 / slices);
    let pos = await positionsOf(env);
    let ahead = 0;
    const checks: string[] = [];
    const check = async (what: string) => {
      const a = await aheadNow(env, pos.positions, pos.orderIds);
      ahead += a;
      checks.push(`${what}: ${a}`);
    };
    const c = spawnConsumer(env, { extra: ["--workers", "4", "--batch-size", "500", "--commit-interval-ms", "200"] });
    o.log(`${name}: consumer started; waiting for its first rows`);
    await waitRows(env, 0, 60_000);
    o.log(`${name}: rows are being written; producing the rest in slices while the fault happens`);
    const producer = (async () => {
      for (let i = 2; i < slices; i++) {
        await produceSlice(env, i / slices, (i + 1) / slices);
        await Bun.sleep(800);
      }
    })();
    const faultNotes = await fault(env, check);
    o.log(`${name}: fault over; waiting for the producing of the rest`);
    await producer;
    o.log(`${name}: fault done (${faultNotes}); waiting for lag 0`);
    pos = await positionsOf(env);
    const { lag, detail: lagDetail } = await waitLag0(env, 180_000);
    await check("at the end");
    c.proc.kill("SIGTERM");
    const t = setTimeout(() => c.proc.kill("SIGKILL"), 30_000);
    const code = await c.proc.exited;
    clearTimeout(t);
    const v = await verdict(env);
    const pass = v.pass && ahead === 0 && code === 0 && lag === 0;
    // On a failure, the consumer's last warnings too (it logs at warn): why it stopped or lagged.
    const said = pass
      ? ""
      : ` (its last log lines: ${(await c.stderr)
          .trim()
          .split("\n")
          .slice(-6)
          .map((l) => l.slice(0, 300))
          .join(" | ")})`;
    const notes = `${faultNotes}; the same consumer kept going: drained to lag ${lag}${lag !== 0 ? ` after 180 s (${lagDetail})` : ""}, exit ${code} on SIGTERM${said}; committed-but-not-stored ${checks.join(", ")}; ${v.summary}`;
    o.log(`${name}: ${pass ? "pass" : "FAIL"}: ${notes}`);
    return { scenario: `kafka4/${name}`, broker: BROKER, runs: 1, records: totalRecords(env), lost: v.lost, duplicated: v.duplicated, pass, notes };
  } finally {
    await env.cleanup();
  }
}

export function consumeCoordinatorKill(k: KafkaCluster, o: Opts, size: { users: number; orders: number }): Promise<SoakResult> {
  return consumeUnder(k, o, "consume-coordinator-kill", size, async (env, check) => {
    let coord: number | null = null;
    for (let i = 0; i < 20 && coord === null; i++) coord = coordinatorOf(k, env.group) ?? (await Bun.sleep(500), null);
    if (coord === null) throw new Error("no coordinator found for the group");
    o.log(`consume-coordinator-kill: the group's coordinator is broker ${coord}; killing it`);
    await Bun.sleep(rnd(300, 1500));
    const rows0 = await countRows(env);
    await k.stopNode(coord, "SIGKILL");
    const rows1 = await countRows(env);
    await check("after the kill");
    o.log(`consume-coordinator-kill: broker ${coord} killed; commits checked against the stores`);
    const downMs = rnd(3000, 8000);
    await Bun.sleep(downMs);
    await check(`${(downMs / 1000).toFixed(1)} s later`);
    const t0 = performance.now();
    await k.startNode(coord);
    const answering = (performance.now() - t0) / 1000;
    o.log(`consume-coordinator-kill: broker ${coord} restarted, answering after ${answering.toFixed(1)} s`);
    const moved = coordinatorOf(k, env.group);
    return `coordinator broker ${coord} SIGKILLed mid-write (rows stored ${rows0} -> ${rows1} around the kill), down ${(downMs / 1000).toFixed(1)} s, answering again ${answering.toFixed(1)} s after its restart (coordinator afterwards: ${moved ?? "?"})`;
  });
}

export function rollingRestart(k: KafkaCluster, o: Opts, size: { users: number; orders: number }): Promise<SoakResult> {
  return consumeUnder(k, o, "rolling-restart", size, async (env, check) => {
    const steps: string[] = [];
    for (const n of k.nodes.map((x) => x.id)) {
      const t0 = performance.now();
      await k.stopNode(n, "SIGTERM");
      const stopped = performance.now();
      await check(`broker ${n} stopped`);
      await k.startNode(n);
      await k.waitForIsr(env.users, 3, 120_000);
      await k.waitForIsr(env.orders, 3, 120_000);
      steps.push(
        `broker ${n}: controlled shutdown ${((stopped - t0) / 1000).toFixed(1)} s, back with full ISR after ${((performance.now() - stopped) / 1000).toFixed(1)} s`,
      );
    }
    return `rolling restart (SIGTERM each broker, restart, wait for ISR 3): ${steps.join("; ")}`;
  });
}

// ---- ISR below min.insync.replicas ---------------------------------------------------------------

export async function isrBelowMin(k: KafkaCluster, o: Opts, rows: number, dir: string): Promise<SoakResult[]> {
  const { csv, ids } = await genUsers(o, rows, dir);
  const out: SoakResult[] = [];
  for (const comeBack of ["before-timeout", "after-timeout"] as const) {
    const topic = `users-k4isr-${comeBack}-${Date.now().toString(36)}`;
    await createTopic(o, k, topic, 6);
    const keep = k.busiestLeader(topic);
    const victims = k.nodes.map((n) => n.id).filter((id) => id !== keep);
    for (const v of victims) await k.stopNode(v, "SIGKILL");
    // Back in time: within produce's message.timeout.ms, with room for two JVMs to start and the
    // quorum and ISR to recover. Too late: after it.
    const timeoutMs = comeBack === "before-timeout" ? 90_000 : 15_000;
    const summaryFile = join(dir, `${topic}.summary.json`);
    const t0 = performance.now();
    const p = spawn(
      [
        o.ingest,
        "produce",
        "--file",
        csv,
        "--topic",
        topic,
        "-b",
        k.bootstrap,
        "--no-progress",
        "--summary-json",
        summaryFile,
        "-X",
        `message.timeout.ms=${timeoutMs}`,
      ],
      { stdout: "ignore", stderr: "pipe", env: { ...process.env, LOG_LEVEL: "warn" } },
    );
    const stderr = new Response(p.stderr).text();
    const backAfter = comeBack === "before-timeout" ? 8_000 : timeoutMs + 8_000;
    const exitedBeforeReturn = await Promise.race([Bun.sleep(backAfter).then(() => false), p.exited.then(() => true)]);
    await Promise.all(victims.map((v) => k.startNode(v)));
    const code = await p.exited;
    const seconds = (performance.now() - t0) / 1000;
    await k.waitForIsr(topic, 3, 120_000);
    const summary: ProduceSummary | null = existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, "utf8")) : null;
    const keys = await kcatRead(k, topic);
    const inTopic = new Set(keys);
    const duplicated = dupes(keys);
    const delivered = summary?.messages_delivered ?? -1;
    const failed = summary?.messages_failed ?? -1;
    // Reported delivered but not in the topic: what acks=all must never allow.
    const lost = Math.max(0, delivered - inTopic.size);
    const stray = [...inTopic].filter((id) => !ids.has(id)).length;
    const accountedFor = summary !== null && delivered + failed === summary.rows_accepted;
    const pass =
      comeBack === "before-timeout"
        ? code === 0 && delivered === ids.size && inTopic.size === ids.size && duplicated === 0 && stray === 0
        : code === 1 && failed > 0 && accountedFor && lost === 0 && duplicated === 0 && stray === 0;
    const err = (await stderr)
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("{"))
      .slice(-2)
      .join(" | ");
    const notes =
      `brokers ${victims.join(" and ")} SIGKILLed before produce (broker ${keep} alone: ISR 1 < min.insync.replicas 2, no controller majority); ` +
      `message.timeout.ms ${timeoutMs}; brokers back after ${(backAfter / 1000).toFixed(0)} s; produce exit ${code} after ${seconds.toFixed(1)} s` +
      `${exitedBeforeReturn ? " (before the brokers came back)" : ""}, summary delivered ${delivered} failed ${failed} of ${summary?.rows_accepted ?? "?"}; ` +
      `topic afterwards: ${keys.length} records, ${inTopic.size} distinct (a failed, timed-out message may still have been written: at-least-once for failures)` +
      (err ? `; produce said: ${err.slice(0, 300)}` : "");
    o.log(`isr-below-min/${comeBack}: ${pass ? "pass" : "FAIL"}: ${notes}`);
    out.push({ scenario: `kafka4/isr-below-min/${comeBack}`, broker: BROKER, runs: 1, records: ids.size, lost, duplicated, pass, notes });
  }
  return out;
}

export async function run(opts: Opts): Promise<SoakResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "soak-k4-"));
  const k = await KafkaCluster.start({ nodes: 3 });
  const results: SoakResult[] = [];
  const guard = async (name: string, f: () => Promise<SoakResult | SoakResult[]>) => {
    try {
      const r = await f();
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      results.push({
        scenario: `kafka4/${name}`,
        broker: BROKER,
        runs: 0,
        records: 0,
        lost: 0,
        duplicated: 0,
        pass: false,
        notes: `scenario threw: ${(e as Error).stack ?? e}`,
      });
    }
    // The next scenario starts with every broker up and leading its share again.
    for (const n of k.nodes) if (!n.pid) await k.startNode(n.id);
  };
  try {
    const size = opts.quick ? { users: 4000, orders: 8000 } : { users: 20000, orders: 40000 };
    await guard("produce-leader-kill", () => produceLeaderKill(k, opts, opts.quick ? 200_000 : 1_000_000, dir));
    await guard("serve-leader-kill", () => serveLeaderKill(k, opts, opts.quick ? 20 : 60, opts.quick ? 1000 : 2000));
    await guard("consume-coordinator-kill", () => consumeCoordinatorKill(k, opts, size));
    await guard("rolling-restart", () => rollingRestart(k, opts, size));
    await guard("isr-below-min", () => isrBelowMin(k, opts, opts.quick ? 20_000 : 100_000, dir));
  } finally {
    await k.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
