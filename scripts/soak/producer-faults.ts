import { spawn } from "./_children.ts";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SoakResult } from "./types.ts";
import { startBroker, type TestBroker } from "../../test/helpers/broker.ts";
import { consumeN } from "../../test/helpers/kafka-io.ts";
import { Consumer } from "../../src/kafka/index.ts";

export const description =
  "`ingest produce` of a generated users CSV (100,000 rows quick, 300,000 full) under producer-side faults, each against an " +
  "embedded cluster driven in-process through the mock-cluster API (a child `ingest broker` cannot be told to take a broker " +
  "down): a broker set down and up again mid-run; every broker gone past `message.timeout.ms`; a 50-message producer queue " +
  "(QUEUE_FULL all the time); SIGTERM mid-run; SIGKILL mid-run. Afterwards the topic is read twice, by a fresh consumer " +
  "(all partitions from the beginning) and by `kcat -C -e -f '%k\\n'`, and the keys are counted. Lost = rows the summary " +
  "reports delivered that are not in the topic (for SIGKILL, which writes no summary: rows in the topic that are not in the " +
  "CSV); duplicated = keys present more than once. Failures must be reported (summary `messages_failed`, exit 1), never silent: " +
  "delivered + failed = accepted whenever a summary is written. No key may appear twice: nothing is re-run after a " +
  "SIGKILL (a re-run of the same file would send again every row already delivered: produce has no resume), and produce does " +
  "not enable idempotence, so a duplicate here would be a librdkafka retry of a batch whose ack was lost.";

type Fault = "broker-flap" | "message-timeout" | "queue-full" | "sigterm" | "sigkill";
const FAULTS: Fault[] = ["broker-flap", "message-timeout", "queue-full", "sigterm", "sigkill"];

interface Tally {
  runs: number;
  records: number;
  lost: number;
  duplicated: number;
  pass: boolean;
  notes: string[];
}

/** Keys in the topic, read by kcat and by a fresh consumer; both must agree. */
async function readKeys(broker: TestBroker, topic: string, partitions: number): Promise<{ kcat: string[]; consumer: string[] }> {
  const k = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "%k\n"], { stdout: "pipe", stderr: "ignore" });
  const kcat = k.stdout.toString().split("\n").filter(Boolean);
  const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": `fresh-${topic}`, "enable.auto.commit": "false", log_level: "3" });
  c.assign(Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, offset: -2 /* beginning */ })));
  const got = await consumeN(c, broker.retained(topic), 60_000);
  c.close();
  return { kcat, consumer: got.map((r) => r.key ?? "") };
}

function dupes(keys: string[]): number {
  return keys.length - new Set(keys).size;
}

export async function run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]> {
  const rows = opts.quick ? 100_000 : 300_000;
  const rounds = opts.quick ? 1 : 3;
  const partitions = 12;
  const dir = mkdtempSync(join(tmpdir(), "soak-pf-"));
  const csv = join(dir, "users.csv");
  const g = Bun.spawnSync([opts.ingest, "gen", "users", "--rows", String(rows), "--out", csv, "--log-level", "warn"]);
  if (g.exitCode !== 0) throw new Error(`gen failed: ${g.stderr}`);
  const csvIds = new Set(
    readFileSync(csv, "utf8")
      .split("\n")
      .slice(1)
      .filter(Boolean)
      .map((l) => l.slice(0, l.indexOf(","))),
  );
  const tally = new Map<Fault, Tally>(FAULTS.map((f) => [f, { runs: 0, records: 0, lost: 0, duplicated: 0, pass: true, notes: [] }]));
  const broker = startBroker({ brokers: 3 });
  try {
    for (let round = 0; round < rounds; round++) {
      for (const fault of FAULTS) {
        const t = tally.get(fault)!;
        // The timeout case needs every broker gone: its own one-broker cluster.
        const b = fault === "message-timeout" ? startBroker({ brokers: 1 }) : broker;
        const topic = `pf-${fault}-${round}-${Date.now().toString(36)}`;
        b.createTopic(topic, partitions);
        const summary = join(dir, `${topic}.json`);
        const extra: Record<Fault, string[]> = {
          "broker-flap": ["-X", "linger.ms=20"],
          "message-timeout": ["-X", "message.timeout.ms=2000", "--workers", "1"],
          "queue-full": ["-X", "queue.buffering.max.messages=50", "-X", "linger.ms=1", "--limit", String(Math.min(rows, 50_000))],
          sigterm: ["-X", "linger.ms=20"],
          sigkill: [],
        };
        const p = spawn(
          [opts.ingest, "produce", "--file", csv, "--topic", topic, "-b", b.bootstrap, "--summary-json", summary, "--log-level", "warn", ...extra[fault]],
          { stdout: "ignore", stderr: "pipe" },
        );
        const stderr = new Response(p.stderr).text();
        // Strike mid-run: once rows are reaching the topic, at a random moment after.
        if (fault !== "queue-full") {
          const until = Date.now() + 15_000;
          while (b.retained(topic) === 0 && Date.now() < until && p.exitCode === null) await Bun.sleep(20);
        }
        const at = Math.floor(Math.random() * 400);
        if (fault === "broker-flap") {
          await Bun.sleep(at);
          b.cluster.setBrokerDown(1 + Math.floor(Math.random() * 3));
          await Bun.sleep(1500);
          for (let id = 1; id <= 3; id++) b.cluster.setBrokerUp(id);
        } else if (fault === "message-timeout") {
          await Bun.sleep(at);
          b.cluster.setBrokerDown(1);
        } else if (fault === "sigterm" || fault === "sigkill") {
          await Bun.sleep(at);
          p.kill(fault === "sigterm" ? "SIGTERM" : "SIGKILL");
        }
        const code = await p.exited;
        if (fault === "message-timeout") b.cluster.setBrokerUp(1);
        const s = existsSync(summary) ? JSON.parse(readFileSync(summary, "utf8")) : null;
        const { kcat, consumer } = await readKeys(b, topic, partitions);
        if (b !== broker) b.stop();
        const present = new Set(kcat);
        const stray = [...present].filter((k) => !csvIds.has(k)).length;
        const dup = dupes(kcat);
        const problems: string[] = [];
        if (consumer.length !== kcat.length) problems.push(`fresh consumer read ${consumer.length}, kcat ${kcat.length}`);
        if (stray) problems.push(`${stray} keys not in the CSV`);
        let lost = stray;
        if (fault === "sigkill") {
          if (code !== 137 && code !== 0 && !(p.signalCode === "SIGKILL")) problems.push(`exit ${code}`);
        } else {
          if (!s) problems.push(`no summary (exit ${code})`);
          else {
            if (s.messages_delivered + s.messages_failed !== s.rows_accepted && !s.stopped_by_signal)
              problems.push(`delivered ${s.messages_delivered} + failed ${s.messages_failed} != accepted ${s.rows_accepted}`);
            // Reported delivered must all be present: the topic holds at least that many distinct keys.
            lost += Math.max(0, s.messages_delivered - present.size);
            if (present.size !== s.messages_delivered) problems.push(`topic has ${present.size} distinct keys, summary says ${s.messages_delivered} delivered`);
            const wantCode = fault === "message-timeout" ? 1 : fault === "sigterm" ? 143 : 0;
            if (code !== wantCode) problems.push(`exit ${code}, expected ${wantCode}`);
            if (fault === "message-timeout" && !(s.messages_failed > 0 && s.ok === false))
              problems.push(`failures not reported: failed ${s.messages_failed}, ok ${s.ok}`);
            if ((fault === "broker-flap" || fault === "queue-full") && (s.messages_failed !== 0 || s.messages_delivered !== s.rows_accepted))
              problems.push(`not all delivered: ${s.messages_delivered}/${s.rows_accepted}`);
            if (fault === "broker-flap" || fault === "queue-full") {
              // Everything was reported delivered: every expected key must be there.
              const expected = fault === "queue-full" ? s.rows_accepted : csvIds.size;
              lost = Math.max(lost, expected - present.size);
            }
          }
        }
        t.runs++;
        t.records += kcat.length;
        t.lost += lost;
        t.duplicated += dup;
        const ok = problems.length === 0 && lost === 0 && dup === 0;
        if (!ok) t.pass = false;
        const line = `round ${round + 1}: exit ${code}${s ? `, accepted ${s.rows_accepted}, delivered ${s.messages_delivered}, failed ${s.messages_failed}` : ", no summary"}, topic ${kcat.length} (kcat) / ${consumer.length} (consumer), dup ${dup}${problems.length ? `; PROBLEMS: ${problems.join("; ")}; stderr: ${(await stderr).slice(0, 200)}` : ""}`;
        t.notes.push(line);
        opts.log(`producer-faults ${fault} ${line}`);
      }
    }
  } finally {
    broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return FAULTS.map((f) => {
    const t = tally.get(f)!;
    return {
      scenario: `producer-faults/${f}`,
      runs: t.runs,
      records: t.records,
      lost: t.lost,
      duplicated: t.duplicated,
      pass: t.pass,
      notes: t.notes.join(" | "),
    };
  });
}
