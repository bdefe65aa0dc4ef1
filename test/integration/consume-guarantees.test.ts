/**
 * The consumer's promise about offsets, at its edges: a committed offset means the record and
 * every one before it reached every sink, or the dead-letter topic. Each test here makes one of
 * those edges happen (a sink that gives up, a dead-letter send the broker refuses) and checks
 * the group's committed position and the summary against what really got through.
 */
import { test, expect, beforeAll, afterAll } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBroker, uniqueName, FAST_GROUP_PROPS, type TestBroker } from "../helpers/broker.ts";
import { runIngest, spawnIngest, ingestArgv } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "ingest-guarantees-"));
const fast = Object.entries(FAST_GROUP_PROPS).flatMap(([k, v]) => ["-X", `${k}=${v}`]);
const USERS = 5000;
let broker: TestBroker;

beforeAll(async () => {
  broker = startBroker({ brokers: 1 });
  expect((await runIngest(["gen", "users", "--rows", String(USERS), "--out", join(dir, "users.csv")])).code).toBe(0);
});
afterAll(() => {
  broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The group's committed offset of partition 0, read back from the broker (null: none). */
async function committedOffset(bootstrap: string, group: string, topic: string): Promise<number | null> {
  const lag = await runIngest(["lag", "--group", group, "--topic", topic, "--json", "-b", bootstrap]);
  expect(lag.code).toBe(0);
  return JSON.parse(lag.stdout).partitions[0].committed;
}

/** Keys and source offsets of what a dead-letter topic holds, read with kcat. */
function deadLetters(bootstrap: string, topic: string): string[] {
  const k = Bun.spawnSync(["kcat", "-C", "-b", bootstrap, "-t", `${topic}.dlq`, "-e", "-q", "-f", "%k@%h\n"]);
  return k.stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l) => `${l.slice(0, l.indexOf("@"))}@${/ingest\.source\.offset=(\d+)/.exec(l)?.[1]}`)
    .sort();
}

test("records a sink gave up on (stdout closed under | head -1) are neither counted written nor committed (breaks if an abandoned batch's offsets are marked done)", async () => {
  const users = uniqueName("users");
  broker.createTopic(users, 1);
  expect((await runIngest(["produce", "--file", join(dir, "users.csv"), "--topic", users, "-b", broker.bootstrap])).code).toBe(0);
  const group = uniqueName("g");
  const summary = join(dir, "epipe.json");
  const argv = ingestArgv(
    "consume",
    "--group",
    group,
    "--topics",
    users,
    "--sink",
    "stdout",
    "--batch-size",
    "500",
    "--max-messages",
    String(USERS),
    "--summary-json",
    summary,
    "-b",
    broker.bootstrap,
    ...fast,
  );
  const p = Bun.spawn(["bash", "-c", `"\${@:2}" 2>"$1" | head -1 >/dev/null; exit \${PIPESTATUS[0]}`, "_", join(dir, "epipe.err"), ...argv], {
    env: { ...process.env, LOG_LEVEL: "warn" },
  });
  expect(await p.exited).toBe(1);
  const err = readFileSync(join(dir, "epipe.err"), "utf8");
  expect(err).toContain("EPIPE");
  const sum = JSON.parse(readFileSync(summary, "utf8"));
  expect(sum.abandoned).toBeGreaterThan(0);
  // The broker's committed position covers written records only: the abandoned ones are read again.
  const committed = (await committedOffset(broker.bootstrap, group, users)) ?? 0;
  expect(committed).toBeLessThanOrEqual(sum.received - sum.abandoned);
  expect(sum.committed.reduce((s: number, c: { offset: number }) => s + c.offset, 0)).toBe(committed);
  // Every record taken was either written or given up on, never both, and the summary says so.
  expect(sum.written + sum.abandoned).toBe(sum.received);
  expect(sum.written).toBe(sum.bySink.stdout);
  expect(err).toContain(`consume STOPPED WITH UNWRITTEN RECORDS (`);
  expect(err).toContain(`written ${sum.written.toLocaleString("en-US")} `);
}, 60_000);

/** A users topic holding good, poison, poison, good (offsets 0..3), on a broker of its own. */
function poisonTopic(own: TestBroker): string {
  const users = uniqueName("users");
  own.createTopic(users, 1);
  const good = (id: number) =>
    `{"id":${id},"first_name":"A","last_name":"B","email":"a@x","age":3,"country":"FR","city":"P","signup_ts":1,"is_active":true,"score":1,"phone":null}`;
  const input = `k0:${good(1)}\nk1:{not json\nk2:{"id":"x"}\nk3:${good(2)}\n`;
  expect(Bun.spawnSync(["kcat", "-P", "-b", own.bootstrap, "-t", users, "-K:"], { stdin: new TextEncoder().encode(input) }).exitCode).toBe(0);
  return users;
}

/** Collects a stream's text as it arrives: wait for some text to appear, or for the end. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const ended = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of stream) text += dec.decode(chunk, { stream: true });
    return text;
  })();
  return {
    ended,
    async waitFor(want: string, timeoutMs: number): Promise<void> {
      for (const deadline = Date.now() + timeoutMs; !text.includes(want); await Bun.sleep(50)) {
        if (Date.now() > deadline) throw new Error(`'${want}' not seen within ${timeoutMs} ms; read so far:\n${text}`);
      }
    },
  };
}

// Kafka API key 0 = Produce; 29 = TOPIC_AUTHORIZATION_FAILED, which librdkafka does not retry
// itself: the dead-letter producer's delivery report carries the failure.
const PRODUCE = 0;
const NOT_RETRIED_BY_LIBRDKAFKA = 29;

test("a dead-letter send the broker refuses is sent again: both poison records reach <topic>.dlq before their offsets are committed (breaks if a failed DLQ delivery counts as delivered)", async () => {
  // Its own broker: the pushed Produce errors must meet the consumer's dead-letter sends only.
  const own = startBroker({ brokers: 1 });
  try {
    const users = poisonTopic(own);
    const group = uniqueName("g");
    own.cluster.pushRequestErrors(PRODUCE, [NOT_RETRIED_BY_LIBRDKAFKA, NOT_RETRIED_BY_LIBRDKAFKA]);
    const summary = join(dir, "dlq-retry.json");
    const r = await runIngest(
      ["consume", "--group", group, "--topics", users, "--sink", "none", "--max-messages", "4", "--summary-json", summary, "-b", own.bootstrap, ...fast],
      { timeoutMs: 60_000 },
    );
    expect(r.stderr).toContain("dead-letter produce failed; retrying"); // the injected refusal was met
    expect(r.code).toBe(0);
    expect(deadLetters(own.bootstrap, users)).toEqual(["k1@1", "k2@2"]);
    const sum = JSON.parse(readFileSync(summary, "utf8"));
    expect([sum.poison, sum.dlqDelivered, sum.written]).toEqual([2, 2, 2]);
    expect(await committedOffset(own.bootstrap, group, users)).toBe(4);
  } finally {
    own.stop();
  }
}, 90_000);

test("while the dead-letter topic refuses every send, the group never commits past the first poison record and the summary claims none delivered (breaks if a failed DLQ delivery counts as delivered)", async () => {
  const own = startBroker({ brokers: 1 });
  try {
    const users = poisonTopic(own);
    const group = uniqueName("g");
    own.cluster.pushRequestErrors(PRODUCE, Array(10_000).fill(NOT_RETRIED_BY_LIBRDKAFKA));
    const summary = join(dir, "dlq-down.json");
    const p = spawnIngest([
      "consume",
      "--group",
      group,
      "--topics",
      users,
      "--sink",
      "none",
      "--commit-interval-ms",
      "100",
      "--summary-json",
      summary,
      "-b",
      own.bootstrap,
      ...fast,
    ]);
    // Stop once a send was refused and some commit intervals have passed (the group join may be slow on a busy machine).
    const stderr = collect(p.stderr);
    await stderr.waitFor("dead-letter produce failed; retrying", 45_000);
    await Bun.sleep(1500);
    p.kill("SIGTERM");
    const code = await p.exited;
    const all = await stderr.ended;
    // Offset 1 (poison) never reached the DLQ, so nothing past it is committed (offset 0 may be).
    expect((await committedOffset(own.bootstrap, group, users)) ?? 0).toBeLessThanOrEqual(1);
    expect(deadLetters(own.bootstrap, users)).toEqual([]);
    if (!existsSync(summary)) throw new Error(`consume wrote no summary (exit ${code}); its stderr:\n${all}`);
    const sum = JSON.parse(readFileSync(summary, "utf8"));
    expect([sum.received, sum.written, sum.poison, sum.dlqDelivered, sum.abandoned]).toEqual([4, 2, 2, 0, 2]);
    // The two poison records are neither in the DLQ nor committed: the stop says records stayed unhandled.
    expect(all).toContain('consume STOPPED WITH UNWRITTEN RECORDS (SIGTERM): received 4, written 2 {"none":2}, poison 2 (dlq 0)');
    expect(code).toBe(1);
  } finally {
    own.stop();
  }
}, 90_000);

test("--no-dlq: poison records are counted and skipped, nothing is sent to the dead-letter topic, and the group commits past them", async () => {
  const users = poisonTopic(broker);
  const group = uniqueName("g");
  const summary = join(dir, "no-dlq.json");
  const r = await runIngest(
    [
      "consume",
      "--group",
      group,
      "--topics",
      users,
      "--sink",
      "stdout",
      "--no-dlq",
      "--idle-exit-ms",
      "3000",
      "--summary-json",
      summary,
      "-b",
      broker.bootstrap,
      ...fast,
    ],
    { timeoutMs: 60_000 },
  );
  expect(r.code).toBe(0);
  expect(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id),
  ).toEqual([1, 2]);
  expect(r.stderr).toContain("poison record skipped (--no-dlq)");
  const sum = JSON.parse(readFileSync(summary, "utf8"));
  expect([sum.received, sum.written, sum.poison, sum.dlqDelivered, sum.abandoned]).toEqual([4, 2, 2, 0, 0]);
  expect(await committedOffset(broker.bootstrap, group, users)).toBe(4);
  expect(deadLetters(broker.bootstrap, users)).toEqual([]);
}, 60_000);
