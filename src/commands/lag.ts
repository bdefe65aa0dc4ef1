import type { Command } from "./command.ts";
import { KAFKA_FLAGS, kafkaConfig } from "../cli/args.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError, IngestError } from "../core/errors.ts";
import { DEFAULT_GROUP } from "../cli/defaults.ts";
import { Admin } from "../kafka/index.ts";
import { clusterPass, groupLag, tpKey, type LagRow } from "../monitor/cluster.ts";
import { StatusWindows, worstStatus, type Status } from "../monitor/status.ts";
import { table } from "./topic.ts";

export const FLAGS = defineFlags({
  group: { kind: "string", short: "g", placeholder: "G", default: DEFAULT_GROUP, nonEmpty: true, help: "consumer group" },
  topic: { kind: "list", short: "t", default: "users,orders", nonEmpty: "topic names", help: "topics, comma-separated" },
  json: { kind: "boolean", help: "machine-readable output (with --watch: one line per refresh)" },
  samples: { kind: "int", min: 1, max: 1000, default: "1", help: "observations to judge the status on, --interval apart" },
  watch: { kind: "boolean", help: "refresh the table in place until interrupted; the status is judged on the last --window observations" },
  interval: { kind: "duration", min: 100, max: 3_600_000, rangeText: "100ms..1h", default: "2s", help: "time between observations and refreshes" },
  window: { kind: "int", min: 2, max: 1000, default: "10", help: "observations kept for the status with --watch" },
  "timeout-ms": { kind: "int", min: 1, max: 600_000, default: "10000", help: "how long to wait for the cluster" },
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage: ingest lag [--group G] [--topic T ...] [--json] [--watch]

Per partition: the group's committed offset, the high watermark, the lag between them and a
status, with totals. A partition the group never committed shows '-' and counts all its
messages as lag. Name the topics to look at with --topic.

The status is judged as LinkedIn Burrow does, on a window of observations per partition:
OK (lag 0 in the window, or falling), WARN (the offset moves but the lag never falls), STALL
(the offset stands still with lag while a member holds the partition), STOP (no member holds
it, or it has not moved for more than twice the window), REWIND (the offset went back), and
UNKNOWN when one observation cannot show a trend: take several with --samples, or --watch.
The group's status is its worst partition's (docs/operations.md).`,
  FLAGS,
);

interface Observed {
  group: string;
  total_lag: number;
  status: Status;
  status_reason: string;
  samples: number;
  partitions: (LagRow & { status: Status; reason: string })[];
}

export default {
  async run(argv) {
    // --group '': librdkafka gives a consumer without a group.id no group: lag crashed (SIGSEGV) on it.
    // --topic '': was a lag of 0, exit 0.
    const { values, raw, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const { group, topic: topics, "timeout-ms": timeout, samples, interval: intervalMs, window: windowSize } = values;
    if (values.watch && raw.samples) throw new UsageError("--samples: not with --watch (it judges on the last --window observations)");
    const admin = new Admin(kafkaConfig(raw));
    const windows = new StatusWindows(values.watch ? windowSize : samples);
    let observations = 0;

    /** One observation of the group's partitions; the status from the window so far. */
    const observe = async (): Promise<Observed> => {
      const pass = await clusterPass(admin, { groups: [group], topics, listGroups: false, timeoutMs: timeout });
      if (pass.error) throw new IngestError(pass.error);
      for (const t of topics) {
        const info = pass.topics.find((x) => x.name === t);
        if (!info || info.partitions.length === 0) throw new IngestError(`topic '${t}' does not exist`);
        const unread = info.partitions.find((p) => p.high < 0);
        if (unread) throw new IngestError(`watermarks of ${t}[${unread.id}]: ${unread.error ?? "unknown"}`);
      }
      const g = pass.groups[0]!;
      if (g.offsetsError) throw new IngestError(g.offsetsError);
      const owners = g.members ? new Set(g.members.flatMap((m) => m.assignment.map((a) => tpKey(a.topic, a.partition)))) : undefined;
      observations++;
      const partitions = groupLag(pass, g, topics).map((r) => {
        const key = tpKey(r.topic, r.partition);
        windows.add(key, { at: pass.at, offset: r.committed, lag: r.lag });
        const v = windows.evaluate(key, pass.at, owners ? owners.has(key) : undefined);
        return { ...r, status: v.status, reason: v.reason };
      });
      const status = worstStatus(partitions.map((p) => p.status));
      const worst = partitions.find((p) => p.status === status);
      return {
        group,
        total_lag: partitions.reduce((s, r) => s + r.lag, 0),
        status,
        status_reason: worst ? `${worst.topic}[${worst.partition}]: ${worst.reason}` : "no partitions",
        samples: Math.min(observations, values.watch ? windowSize : samples),
        partitions,
      };
    };

    const render = (o: Observed): string => {
      if (values.json) {
        const { partitions, ...head } = o;
        return `${JSON.stringify({ ...head, partitions: partitions.map(({ reason: _r, ...p }) => p) })}\n`;
      }
      return (
        table(
          ["topic", "partition", "committed", "high", "lag", "status"],
          o.partitions.map((r) => [r.topic, r.partition, r.committed ?? "-", r.high, r.lag, r.status]),
        ) +
        `group ${group}: total lag ${o.total_lag} over ${o.partitions.length} partitions, status ${o.status}${o.status === "OK" ? "" : ` (${o.status_reason})`}\n`
      );
    };

    try {
      if (!values.watch) {
        let o = await observeWithin(observe, timeout);
        for (let i = 1; i < samples; i++) {
          await Bun.sleep(intervalMs);
          o = await observeWithin(observe, timeout);
        }
        process.stdout.write(render(o));
        return 0;
      }
      return await watch(observe, render, intervalMs, values.json === true);
    } finally {
      admin.close();
    }
  },
} satisfies Command;

/**
 * One observation, asked again while it fails for up to `timeoutMs`: for a few seconds after a
 * broker dies its partitions have no answering leader and its groups' coordinator moves (a real
 * cluster fences a silent broker after broker.session.timeout.ms, 9 s by default). A topic that
 * does not exist is reported at once.
 */
async function observeWithin(observe: () => Promise<Observed>, timeoutMs: number): Promise<Observed> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await observe();
    } catch (e) {
      if (!(e instanceof IngestError) || /does not exist/.test(e.message) || performance.now() + 500 >= deadline) throw e;
      await Bun.sleep(500);
    }
  }
}

/**
 * --watch: observe every interval until SIGINT/SIGTERM. On a terminal the table is redrawn in
 * place (the cursor goes back over the previous one); elsewhere each refresh is printed after
 * the last (JSON: one line each). A cluster that stops answering is shown and retried.
 */
async function watch(observe: () => Promise<Observed>, render: (o: Observed) => string, intervalMs: number, json: boolean): Promise<number> {
  const tty = process.stdout.isTTY === true && !json;
  let stop = false;
  let wake: () => void = () => {};
  const onSignal = () => {
    stop = true;
    wake();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let lines = 0;
  try {
    while (!stop) {
      let text: string;
      try {
        text = render(await observe());
      } catch (e) {
        if (!(e instanceof IngestError)) throw e;
        text = json
          ? `${JSON.stringify({ error: e.message, at: new Date().toISOString() })}\n`
          : `cannot read the lag: ${e.message} (retrying every ${intervalMs / 1000} s)\n`;
      }
      const stamp = json ? "" : `${new Date().toISOString().slice(11, 19)}  every ${intervalMs / 1000} s, Ctrl-C to stop\n`;
      if (tty) {
        process.stdout.write(`${lines ? `\x1b[${lines}A\x1b[0J` : ""}${stamp}${text}`);
        lines = (stamp + text).split("\n").length - 1;
      } else process.stdout.write(`${stamp}${text}${json ? "" : "\n"}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return 0;
}
