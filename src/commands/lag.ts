import type { Command } from "../cli/main.ts";
import { parse, kafkaOptions, kafkaConfig, listFlag, intFlag, COMMON_HELP, KAFKA_HELP } from "../cli/args.ts";
import { UsageError, IngestError } from "../cli/errors.ts";
import { DEFAULT_GROUP } from "../cli/defaults.ts";
import { Admin, Consumer } from "../kafka/index.ts";
import { table } from "./topic.ts";

const HELP = `Usage: ingest lag [--group G] [--topic T ...] [--json]

Per partition: the group's committed offset, the high watermark and the lag between them, with
totals. A partition the group never committed shows '-' and counts all its messages as lag.
Name the topics to look at (default users,orders).

Options:
  -g, --group G          consumer group (default ${DEFAULT_GROUP})
  -t, --topic LIST       topics, comma-separated (default users,orders)
      --json             machine-readable output
      --timeout-ms N     how long to wait for the cluster (default 10000)
${KAFKA_HELP}
${COMMON_HELP}
`;

export default {
  summary: "consumer-group lag per partition",
  async run(argv) {
    const { values, positionals } = parse(argv, {
      ...kafkaOptions,
      group: { type: "string", short: "g" },
      topic: { type: "string", short: "t" },
      json: { type: "boolean" },
      "timeout-ms": { type: "string" },
    });
    if (values.help) return process.stdout.write(HELP), 0;
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const group = values.group ?? DEFAULT_GROUP;
    // librdkafka gives a consumer without a group.id no group: lag crashed (SIGSEGV) on it.
    if (values.group === "") throw new UsageError("--group: must not be empty");
    const topics = listFlag(values.topic) ?? ["users", "orders"];
    if (topics.length === 0) throw new UsageError("--topic: expected one or more topic names, got nothing"); // was a lag of 0, exit 0
    const timeout = intFlag("timeout-ms", values["timeout-ms"], 1, 600_000) ?? 10_000;
    const conf = kafkaConfig(values);
    const admin = new Admin(conf);
    // A consumer handle with the group's id reads committed offsets without joining the group.
    const consumer = new Consumer({ ...conf, "group.id": group });
    try {
      const md = admin.metadata(timeout);
      const parts: { topic: string; partition: number }[] = [];
      for (const t of topics) {
        const info = md.topics.find((x) => x.name === t);
        if (!info || info.partitions.length === 0) throw new IngestError(`topic '${t}' does not exist`);
        for (const p of info.partitions) parts.push({ topic: t, partition: p.id });
      }
      const committed = consumer.committed(parts, timeout);
      const rows = parts.map((p, i) => {
        const w = admin.watermarks(p.topic, p.partition, timeout);
        const c = committed[i]!.offset ?? -1001;
        const has = c >= 0;
        return { topic: p.topic, partition: p.partition, committed: has ? c : null, high: w.high, low: w.low, lag: Math.max(0, w.high - (has ? Math.max(c, w.low) : w.low)) };
      });
      const total = rows.reduce((s, r) => s + r.lag, 0);
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ group, total_lag: total, partitions: rows })}\n`);
      } else {
        process.stdout.write(table(["topic", "partition", "committed", "high", "lag"], rows.map((r) => [r.topic, r.partition, r.committed ?? "-", r.high, r.lag])));
        process.stdout.write(`group ${group}: total lag ${total} over ${rows.length} partitions\n`);
      }
      return 0;
    } finally {
      consumer.close();
      admin.close();
    }
  },
} satisfies Command;
