import type { Command } from "./command.ts";
import { KAFKA_FLAGS, kafkaConfig } from "../cli/args.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError, IngestError } from "../core/errors.ts";
import { Admin, ERR, KafkaError, errName, type TopicInfo } from "../kafka/index.ts";

export const FLAGS = defineFlags({
  partitions: { kind: "int", min: 1, max: 100_000, default: "6", help: "partitions for create" },
  "replication-factor": { kind: "int", placeholder: "R", min: 1, max: 32, defaultText: "the broker's", help: "replicas for create" },
  config: { kind: "string", multiple: true, placeholder: "k=v", help: "topic config for create, repeatable (e.g. retention.ms=3600000)" },
  "if-not-exists": { kind: "boolean", help: "create succeeds when the topic already exists" },
  json: { kind: "boolean", help: "machine-readable output" },
  "timeout-ms": { kind: "int", min: 1, max: 600_000, default: "10000", help: "how long to wait for the cluster" },
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage:
  ingest topic create NAME [--partitions N] [--replication-factor R] [--config k=v ...] [--if-not-exists]
  ingest topic list [--json]
  ingest topic describe NAME [--json]

describe shows partitions, leaders, replicas, in-sync replicas and low/high watermarks.`,
  FLAGS,
);

export default {
  async run(argv) {
    const { values, raw, positionals } = parseFlags(argv, FLAGS, true);
    if (values.help) return (process.stdout.write(HELP), 0);
    const [action, name, ...extra] = positionals;
    if (!action) throw new UsageError("topic: expected create, list or describe (see ingest topic --help)");
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const timeout = values["timeout-ms"];
    const conf = kafkaConfig(raw);
    const out = (s: string) => process.stdout.write(s);

    const withAdmin = <T>(fn: (a: Admin) => T): T => {
      const admin = new Admin(conf);
      try {
        return fn(admin);
      } finally {
        admin.close();
      }
    };

    switch (action) {
      case "create": {
        if (!name) throw new UsageError("topic create: missing topic NAME");
        const partitions = values.partitions;
        const rf = values["replication-factor"] ?? -1;
        const config: Record<string, string> = {};
        for (const kv of values.config ?? []) {
          const eq = kv.indexOf("=");
          if (eq <= 0) throw new UsageError(`--config expects key=value, got '${kv}'`);
          config[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        const existing = withAdmin((a) => {
          // Asked first: an unreachable cluster fails here as list and describe do (not after the
          // timeout plus 5 s, blamed on the embedded broker), and an existing topic is known
          // without CreateTopics, which the embedded broker never answers.
          const found = a.topicExists(name, timeout);
          if (found && !values["if-not-exists"])
            throw new KafkaError(
              ERR.TOPIC_ALREADY_EXISTS,
              `create topic '${name}'`,
              `it already exists with ${found.partitions.length} partitions (--if-not-exists makes that a success)`,
            );
          if (found) return found;
          try {
            a.createTopic(name, partitions, rf, config, timeout);
          } catch (e) {
            if (e instanceof KafkaError && e.code === ERR.TOPIC_ALREADY_EXISTS && values["if-not-exists"]) return a.topicExists(name, timeout) ?? null;
            if (e instanceof KafkaError && e.code === -170 /* _UNSUPPORTED_FEATURE */) {
              throw new IngestError(`create topic '${name}': the broker does not support CreateTopics (Kafka < 0.10.1); create it with the broker's own tools`);
            }
            throw e;
          }
          return undefined;
        });
        if (existing !== undefined) {
          const n = existing?.partitions.length;
          out(
            values.json
              ? `${JSON.stringify({ exists: name, partitions: n ?? null })}\n`
              : `topic ${name} already exists${n === undefined ? "" : ` with ${n} partitions`}\n`,
          );
          return 0;
        }
        out(values.json ? `${JSON.stringify({ created: name, partitions })}\n` : `created topic ${name} with ${partitions} partitions\n`);
        return 0;
      }
      case "list": {
        if (name) throw new UsageError(`unexpected argument '${name}'`);
        const md = withAdmin((a) => a.metadata(timeout));
        const topics = md.topics.filter((t) => !t.name.startsWith("__"));
        if (values.json) out(`${JSON.stringify(topics.map((t) => ({ name: t.name, partitions: t.partitions.length })))}\n`);
        else for (const t of topics) out(`${t.name}\t${t.partitions.length} partitions\n`);
        return 0;
      }
      case "describe": {
        if (!name) throw new UsageError("topic describe: missing topic NAME");
        const { topic, marks } = withAdmin((a) => {
          const t: TopicInfo | undefined = a.metadata(timeout).topics.find((x) => x.name === name);
          if (!t || t.err === ERR.UNKNOWN_TOPIC_OR_PART || t.partitions.length === 0) {
            throw new IngestError(`topic '${name}' does not exist${t?.err ? ` (${errName(t.err)})` : ""}`);
          }
          return { topic: t, marks: t.partitions.map((p) => a.watermarks(name, p.id, timeout)) };
        });
        const rows = topic.partitions.map((p, i) => ({
          partition: p.id,
          leader: p.leader,
          replicas: p.replicas,
          isr: p.isrs,
          low: marks[i]!.low,
          high: marks[i]!.high,
          messages: marks[i]!.high - marks[i]!.low,
        }));
        if (values.json) {
          out(`${JSON.stringify({ name, partitions: rows })}\n`);
          return 0;
        }
        out(`topic ${name}: ${rows.length} partitions, ${rows.reduce((s, r) => s + r.messages, 0)} messages retained\n`);
        out(
          table(
            ["partition", "leader", "replicas", "isr", "low", "high", "messages"],
            rows.map((r) => [r.partition, r.leader, r.replicas.join(","), r.isr.join(","), r.low, r.high, r.messages]),
          ),
        );
        return 0;
      }
      default:
        throw new UsageError(`topic: unknown action '${action}' (expected create, list or describe)`);
    }
  },
} satisfies Command;

/** A plain aligned text table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ")).join("\n") + "\n";
}
