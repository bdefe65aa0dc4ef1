/**
 * produce --transactional-id against a real Kafka 4.4 (tools/kafka): a load is all-or-nothing
 * for read_committed readers, checked with Kafka's own console consumer, kcat and ingest consume;
 * a killed load is invisible and the re-run with the same id commits it exactly once; a stopped
 * (zombie) first run is fenced by the second and its rows never become visible.
 */
import { expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kafka4Test, sharedKafka4, type KafkaCluster } from "../helpers/kafka4.ts";
import { runIngest, spawnIngest } from "../helpers/cli.ts";
import { startBroker, uniqueName } from "../helpers/broker.ts";

let k: KafkaCluster;
let dir: string;
const BIG = 1_000_000;
let bigCsv: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ingest-txn-"));
  k = await sharedKafka4();
  bigCsv = await gen(BIG, "big");
}, 240_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function gen(rows: number, name: string): Promise<string> {
  const file = join(dir, `${name}.csv`);
  const r = await runIngest(["gen", "users", "--rows", String(rows), "--out", file], { timeoutMs: 120_000 });
  expect(r.code).toBe(0);
  return file;
}

async function topic(prefix: string, partitions = 6): Promise<string> {
  const t = uniqueName(prefix);
  const r = await runIngest(["topic", "create", t, "--partitions", String(partitions), "-b", k.bootstrap]);
  expect(r.code).toBe(0);
  return t;
}

/**
 * Sum of the high watermarks: every record written, committed or not (kcat -Q, read_uncommitted:
 * with read_committed ListOffsets answers the last stable offset instead; asynchronous, so
 * the test's event loop goes on noticing when a child exits while it waits).
 */
async function written(t: string): Promise<number> {
  const p = Bun.spawn(
    [
      "kcat",
      "-Q",
      "-m",
      "3",
      "-X",
      "isolation.level=read_uncommitted",
      "-b",
      k.bootstrap,
      ...Array.from({ length: 6 }, (_, i) => ["-t", `${t}:${i}:-1`]).flat(),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`kcat -Q ${t}: ${err}`);
  return [...out.matchAll(/offset (-?\d+)/g)].reduce((n, m) => n + Math.max(0, Number(m[1])), 0);
}

/** written() once it stops changing (requests a killed producer had sent may still land just after). */
async function settledWritten(t: string): Promise<number> {
  let last = await written(t);
  for (;;) {
    await Bun.sleep(500);
    const now = await written(t);
    if (now === last) return now;
    last = now;
  }
}

/** Wait until the topic holds at least `n` records (committed or not); a new topic's partitions may have no leader yet. */
async function waitWritten(t: string, n: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await written(t).catch(() => 0)) < n) {
    if (Date.now() > deadline) throw new Error(`${t}: fewer than ${n} records after ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

/** Keys of the records a reader with this isolation level sees (kcat, to the end of the topic). */
async function keys(t: string, isolation: "read_committed" | "read_uncommitted"): Promise<string[]> {
  const p = Bun.spawn(["kcat", "-C", "-b", k.bootstrap, "-t", t, "-e", "-q", "-X", `isolation.level=${isolation}`, "-f", "%k\n"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  return out.split("\n").filter(Boolean);
}

/** How many records Kafka's own console consumer reads with --isolation-level read_committed (from the beginning, to a quiet end). */
function javaReadCommitted(t: string): number {
  const r = k.tool(
    "console-consumer",
    ["--bootstrap-server", k.bootstrap, "--topic", t, "--from-beginning", "--isolation-level", "read_committed", "--timeout-ms", "8000"],
    { timeoutMs: 120_000 },
  );
  const m = /Processed a total of (\d+) messages/.exec(r.stderr);
  expect(m).not.toBeNull();
  return Number(m![1]);
}

/** ingest consume's received count for this isolation level (a fresh group, to the end). */
async function ingestReceived(t: string, isolation?: string): Promise<number> {
  const r = await runIngest(
    [
      "consume",
      "--topics",
      t,
      "--kinds",
      `users=${t}`,
      "--sink",
      "none",
      "--group",
      uniqueName("g"),
      "--idle-exit-ms",
      "6000",
      ...(isolation ? ["--isolation", isolation] : []),
      "-b",
      k.bootstrap,
    ],
    { timeoutMs: 120_000 },
  );
  expect(r.code).toBe(0);
  const m = /received ([\d,]+)/.exec(r.stderr);
  expect(m).not.toBeNull();
  return Number(m![1]!.replace(/,/g, ""));
}

const produceArgs = (file: string, t: string, id: string, ...more: string[]) => [
  "produce",
  "--file",
  file,
  "--topic",
  t,
  "--transactional-id",
  id,
  "-b",
  k.bootstrap,
  ...more,
];

kafka4Test(
  "SIGKILL at a random point of a 1M-row load: read_committed readers see none of it, read_uncommitted some; the re-run with the same id commits exactly 1M",
  async () => {
    const t = await topic("txn-kill");
    const id = uniqueName("load");
    const first = spawnIngest(produceArgs(bigCsv, t, id, "--workers", "2"));
    await waitWritten(t, 1 + Math.floor(Math.random() * 200_000));
    expect(first.exitCode).toBeNull(); // killed mid-load, not finished
    first.kill("SIGKILL");
    await first.exited;
    expect(first.signalCode).toBe("SIGKILL");
    const sent = await settledWritten(t);
    expect(sent).toBeGreaterThan(0);
    expect((await keys(t, "read_uncommitted")).length).toBe(sent);
    expect(javaReadCommitted(t)).toBe(0);
    expect((await keys(t, "read_committed")).length).toBe(0);
    expect(await ingestReceived(t)).toBe(0);
    expect(await ingestReceived(t, "read_uncommitted")).toBe(sent);

    const again = await runIngest(produceArgs(bigCsv, t, id, "--workers", "2"), { timeoutMs: 300_000 });
    expect(again.stderr).toContain("COMMITTED, 2 committed");
    expect(again.code).toBe(0);
    const committed = await keys(t, "read_committed");
    expect(committed.length).toBe(BIG);
    expect(new Set(committed).size).toBe(BIG);
  },
  600_000,
);

kafka4Test(
  "SIGTERM aborts the load: nothing becomes visible, and nothing is left open",
  async () => {
    const t = await topic("txn-term");
    const p = spawnIngest(produceArgs(bigCsv, t, uniqueName("term"), "--workers", "2"));
    await waitWritten(t, 50_000);
    expect(p.exitCode).toBeNull();
    p.kill("SIGTERM");
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(143);
    expect(stderr).toContain("SIGTERM: stopping");
    expect(stderr).toContain("ABORTED");
    expect(await written(t)).toBeGreaterThan(0);
    // Aborted (not left open): a read_committed reader reaches the end at once and sees nothing.
    expect((await keys(t, "read_committed")).length).toBe(0);
    expect((await keys(t, "read_uncommitted")).length).toBeGreaterThan(0);
  },
  300_000,
);

kafka4Test(
  "a zombie first run (SIGSTOP, a second run with the same id, SIGCONT) is fenced and its rows never become visible",
  async () => {
    const rows = BIG;
    const csv = bigCsv;
    const t = await topic("txn-zombie");
    const id = uniqueName("zombie");
    const first = spawnIngest(produceArgs(csv, t, id, "--workers", "1"));
    await waitWritten(t, 1000);
    first.kill("SIGSTOP");
    expect(first.exitCode).toBeNull(); // stopped mid-load, not finished
    const before = await written(t);
    try {
      const second = await runIngest(produceArgs(csv, t, id, "--workers", "1"), { timeoutMs: 180_000 });
      expect(second.stderr).toContain("COMMITTED, 1 committed");
      expect(second.code).toBe(0);
    } finally {
      first.kill("SIGCONT");
    }
    const [stderr, code] = await Promise.all([new Response(first.stderr).text(), first.exited]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/fenced|FENCED|epoch/i);
    expect(before).toBeGreaterThan(0);
    const committed = await keys(t, "read_committed");
    expect(committed.length).toBe(rows);
    expect(new Set(committed).size).toBe(rows);
    expect(await written(t)).toBeGreaterThan(rows); // the zombie's rows are in the log, aborted
  },
  400_000,
);

kafka4Test(
  "--commit-every N: transactions of N rows; what was committed before a stop stays (no longer all-or-nothing)",
  async () => {
    const t = await topic("txn-every");
    const ok = await runIngest(produceArgs(bigCsv, t, uniqueName("every"), "--workers", "1", "--limit", "25000", "--commit-every", "10000"), {
      timeoutMs: 120_000,
    });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("COMMITTED, 3 committed");
    expect((await keys(t, "read_committed")).length).toBe(25_000);

    const t2 = await topic("txn-every-stop");
    const p = spawnIngest(produceArgs(bigCsv, t2, uniqueName("every"), "--workers", "1", "--commit-every", "100000"));
    await waitWritten(t2, 250_000);
    p.kill("SIGTERM");
    expect(await p.exited).toBe(143);
    const seen = (await keys(t2, "read_committed")).length;
    expect(seen).toBeGreaterThanOrEqual(200_000);
    expect(seen % 100_000).toBe(0);
  },
  300_000,
);

kafka4Test(
  "--transactional-id against brokers without transactions is a clear error, never a load without them",
  async () => {
    const mock = startBroker({ topics: { "txn-mock": 3 } });
    try {
      const csv = await gen(10, "small");
      const r = await runIngest(["produce", "--file", csv, "--topic", "txn-mock", "--transactional-id", "x", "-b", mock.bootstrap]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("the embedded broker (librdkafka's mock cluster) answers transactional requests but has no transactions");
      expect(mock.retained("txn-mock")).toBe(0);
      const old = await runIngest(["produce", "--file", csv, "--topic", "t", "--transactional-id", "x", "--broker-version", "0.9.0.1", "-b", "127.0.0.1:9"]);
      expect(old.code).toBe(2);
      expect(old.stderr).toContain("has no transactions (Kafka 0.11+)");
      const usage = await runIngest(["produce", "--file", csv, "--topic", "t", "--commit-every", "5", "-b", "127.0.0.1:9"]);
      expect(usage.code).toBe(2);
    } finally {
      mock.stop();
    }
  },
  120_000,
);
