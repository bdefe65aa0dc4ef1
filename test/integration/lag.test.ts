/**
 * `ingest lag` with its status and --watch, and the dashboard's promise to stay light on the
 * cluster (one pass per refresh, whatever the number of requests), on the embedded broker.
 */
import { test, expect, beforeAll, afterAll } from "bun:test";
import { startBroker, uniqueName, type TestBroker } from "../helpers/broker.ts";
import { runIngest, ingestArgv, ROOT } from "../helpers/cli.ts";
import { spawnAndReadLine } from "../helpers/wait.ts";
import { Consumer } from "../../src/kafka/index.ts";
import { produceAll } from "../helpers/kafka-io.ts";

let broker: TestBroker;
const topic = uniqueName("lag");
const group = uniqueName("lag-g");

beforeAll(async () => {
  broker = startBroker({ brokers: 1, topics: { [topic]: 2 } });
  (
    await produceAll(
      { "bootstrap.servers": broker.bootstrap },
      topic,
      Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    )
  ).producer.close();
  // The group committed part of partition 0 and nothing of partition 1; nobody consumes.
  const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": group, log_level: "3" });
  c.commit([{ topic, partition: 0, offset: 10 }]);
  c.close();
});
afterAll(() => broker.stop());

interface LagJson {
  total_lag: number;
  status: string;
  status_reason: string;
  samples: number;
  partitions: { partition: number; committed: number | null; lag: number; status: string }[];
}

test("one observation: lag and UNKNOWN (no trend yet); several: STALL while the offsets stand still with lag", async () => {
  const one = await runIngest(["lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--json"]);
  expect(one.code, one.stderr).toBe(0);
  const j = JSON.parse(one.stdout) as LagJson;
  const high = broker.highWatermarks(topic);
  expect(j.total_lag).toBe(high[0]! - 10 + high[1]!);
  expect(j.partitions.map((p) => p.committed)).toEqual([10, null]);
  expect(j).toMatchObject({ status: "UNKNOWN", samples: 1 });
  const three = JSON.parse(
    (await runIngest(["lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--json", "--samples", "3", "--interval", "200ms"])).stdout,
  ) as LagJson;
  expect(three).toMatchObject({ status: "STALL", samples: 3 });
  expect(three.status_reason).toContain("stood still");
  const table = await runIngest(["lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--samples", "2", "--interval", "200ms"]);
  expect(table.stdout).toMatch(/^topic +partition +committed +high +lag +status$/m);
  expect(table.stdout).toMatch(new RegExp(`^group ${group}: total lag ${j.total_lag} over 2 partitions, status STALL \\(`, "m"));
  const bad = await runIngest(["lag", "--watch", "--samples", "2", "-b", broker.bootstrap]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe("error: --samples: not with --watch (it judges on the last --window observations)\n");
}, 60_000);

/**
 * Run `argv` until its stdout holds `n` matches of `re`, then SIGINT it (`viaScript`: the process
 * script(1) started, so its output went through a pseudo-terminal). Returns what it printed and its exit code.
 */
async function runUntil(argv: string[], re: RegExp, n: number, viaScript = false): Promise<{ out: string; code: number }> {
  const cmd = viaScript ? ["script", "-qec", `exec ${argv.map((x) => `'${x}'`).join(" ")}`, "/dev/null"] : argv;
  const p = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: "warn" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const reader = p.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 30_000;
  while ((out.match(re) ?? []).length < n && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  const pid = viaScript
    ? Number(
        Bun.spawnSync(["pgrep", "-P", String(p.pid)])
          .stdout.toString()
          .trim()
          .split("\n")[0],
      )
    : p.pid;
  process.kill(pid, "SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  return { out, code: await p.exited };
}

test("--watch --json: one line per refresh, the window filling up, until SIGINT (exit 0)", async () => {
  const r = await runUntil(ingestArgv("lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--json", "--watch", "--interval", "200ms"), /\n/g, 3);
  expect(r.code).toBe(0);
  const lines = r.out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as LagJson);
  expect(lines.length).toBeGreaterThanOrEqual(3);
  expect(lines.map((l) => l.samples).slice(0, 3)).toEqual([1, 2, 3]);
  expect(lines[0]!.status).toBe("UNKNOWN");
  expect(lines.at(-1)!.status).toBe("STALL");
}, 60_000);

test("--watch on a terminal redraws the table in place (the cursor goes back over the last one); piped, it does not", async () => {
  const args = ingestArgv("lag", "-b", broker.bootstrap, "--group", group, "--topic", topic, "--watch", "--interval", "300ms");
  const tty = await runUntil(args, /total lag/g, 3, true);
  expect(tty.code).toBe(0);
  // Each table is the time line, a header, 2 partitions and the total line: 5 lines up, then clear below.
  expect(tty.out).toContain("\x1b[5A\x1b[0J");
  const piped = await runUntil(args, /total lag/g, 2);
  expect(piped.code).toBe(0);
  expect(piped.out).not.toContain("\x1b[");
}, 60_000);

test("the dashboard reads the cluster once per refresh, however many requests it serves", async () => {
  const { proc, line } = await spawnAndReadLine(["dashboard", "-b", broker.bootstrap, "--port", "0", "--refresh", "1s", "--group", group]);
  try {
    const base = line.replace(/^dashboard on /, "");
    const passes = async () => ((await (await fetch(`${base}/api/state`)).json()) as { cluster: { passes: number } }).cluster.passes;
    await Bun.sleep(1500);
    const before = await passes();
    const t0 = Date.now();
    // 300 page and state requests over about 2 s, as many browsers would make.
    for (let i = 0; i < 30; i++) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => fetch(k % 2 ? `${base}/api/state` : base).then((r) => r.text())));
      await Bun.sleep(60);
    }
    const elapsed = (Date.now() - t0) / 1000;
    const after = await passes();
    expect(after - before).toBeLessThanOrEqual(Math.ceil(elapsed) + 1);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}, 30_000);
