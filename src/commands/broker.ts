import type { Command } from "./command.ts";
import { intFlag, writeOutputFile } from "../cli/args.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError } from "../core/errors.ts";
import { MockCluster, MOCK_PARTITION_LIMIT_BYTES } from "../kafka/index.ts";
import { log } from "../observability/log.ts";
import { rmSync } from "node:fs";

export const FLAGS = defineFlags({
  brokers: { kind: "int", min: 1, max: 64, default: "3", help: "number of brokers" },
  partitions: { kind: "int", min: 1, max: 10_000, default: "6", help: "default partitions of each topic in --topics" },
  topics: {
    kind: "list",
    default: "users,orders",
    help:
      "topics to create at start, NAME or NAME:PARTITIONS, comma-separated. The embedded broker cannot create " +
      "topics through the admin API later; topics produced to without being created get 4 partitions.",
  },
  "bootstrap-file": { kind: "output", placeholder: "F", help: "also write the bootstrap servers to F (removed on exit)" },
});

export const HELP = commandHelp(
  `Usage: ingest broker [options]

Runs an embedded Kafka-protocol cluster (librdkafka's mock cluster) for development and tests.
It listens on 127.0.0.1 only, on random ports, and prints its bootstrap servers on stdout.
IT IS IN MEMORY AND NOT DURABLE: everything is lost when it stops, and each partition keeps only
about 5 MiB (older batches are silently dropped): use compression and enough partitions for big
runs, and check watermarks (ingest topic describe) after writing.`,
  FLAGS,
  `Example:
  ingest broker --bootstrap-file .broker &  ingest produce --brokers "$(cat .broker)" --file users.csv`,
);

export default {
  async run(argv) {
    const { values, raw, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const { brokers, partitions, topics, "bootstrap-file": file } = values;

    const cluster = new MockCluster(brokers);
    for (const spec of topics) {
      const parts = spec.split(":");
      if (parts.length > 2) throw new UsageError(`--topics: expected NAME or NAME:PARTITIONS, got '${spec}'`);
      const [name, count] = parts;
      if (!name) throw new UsageError(`--topics: empty topic name in '${raw.topics}'`);
      cluster.createTopic(name, count === undefined ? partitions : intFlag("topics", count, 1, 10_000)!, Math.min(brokers, 3));
    }
    if (file) writeOutputFile("bootstrap-file", file, `${cluster.bootstraps}\n`);
    process.stdout.write(`${cluster.bootstraps}\n`);
    log.warn(
      { bootstrap: cluster.bootstraps, brokers, topics, partitions, partitionLimitBytes: MOCK_PARTITION_LIMIT_BYTES },
      "embedded broker started: in-memory, NOT durable, 127.0.0.1 only; each partition keeps only ~5 MiB (older batches are dropped)",
    );

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const keepAlive = setInterval(() => {}, 1 << 30);
      const stop = (s: NodeJS.Signals) => {
        clearInterval(keepAlive);
        resolve(s);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    cluster.destroy();
    if (file) rmSync(file, { force: true });
    log.info({ signal }, "embedded broker stopped");
    return 0;
  },
} satisfies Command;
