import type { Command } from "./command.ts";
import { readFileSync } from "node:fs";
import { execWithRuntimeOptions, PRODUCE_RUNTIME_OPTIONS } from "../cli/runtime-options.ts";
import { KAFKA_FLAGS, kafkaConfig, outputFileFlag, writeOutputFile } from "../cli/args.ts";
import { isOldBroker } from "../kafka/index.ts";
import { defineFlags, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError, IngestError } from "../core/errors.ts";
import { DEFAULT_TOPICS } from "../cli/defaults.ts";
import { parseSchema } from "../csv/schema-rows.ts";
import { FORMATS } from "../codecs/index.ts";
import { AVRO_CODECS } from "../codecs/avro-file.ts";
import { checkCompression } from "../kafka/index.ts";
import { produce, defaultWorkers, defaultRejectsPath, type ProduceSummary } from "../produce/run.ts";
import { REGISTRY_FLAGS, valueSchemaFromRegistry, contentHeaders, transactionalId } from "../cli/schema-flags.ts";
import usersSchemaText from "../../data/users.avsc" with { type: "text" };

export const FLAGS = defineFlags({
  file: { kind: "path", short: "f", placeholder: "F", help: "the file to read (required)" },
  input: {
    kind: "choice",
    placeholder: "I",
    choices: ["csv", "ndjson"],
    defaultText: "ndjson for .ndjson/.jsonl files, else csv",
    help: "how the file is read: {choices}",
  },
  topic: { kind: "string", short: "t", placeholder: "T", default: DEFAULT_TOPICS.users, help: "Kafka topic; it must exist" },
  key: { kind: "string", placeholder: "FIELD", default: "id", help: "message key: this field's value (--key '' for no key)" },
  format: { kind: "choice", placeholder: "F", choices: FORMATS, default: "json", help: "Kafka value format: {choices}" },
  "json-out": { kind: "output", placeholder: "F", help: "also write a JSON file: .json = one array, .ndjson/.jsonl = one object per line" },
  "avro-out": { kind: "output", placeholder: "F", help: "also write an Avro object container file" },
  "avro-codec": { kind: "choice", choices: AVRO_CODECS, default: "deflate", help: "block compression of --avro-out: {choices}" },
  schema: { kind: "path", placeholder: "F", defaultText: "the built-in data/users.avsc", help: "Avro schema of the rows" },
  // Checked by checkCompression (librdkafka's own list).
  compression: { kind: "string", placeholder: "C", default: "lz4", help: "none|gzip|snappy|lz4|zstd" },
  // -1 is librdkafka's spelling of all.
  acks: { kind: "choice", placeholder: "A", choices: ["all", "1", "0", "-1"], default: "all", help: "all|1|0" },
  workers: {
    kind: "int",
    min: 1,
    max: 256,
    defaultText: "the core count for CSV",
    defaultHere: () => String(defaultWorkers()),
    help: "parallel workers, each with its own producer; 1 for ndjson, where librdkafka's own threads need the other cores (measured in bench/)",
  },
  limit: { kind: "int", help: "stop after N rows (uses one worker)" },
  rejects: { kind: "output", placeholder: "F", defaultText: "<input>.rejects.csv", help: "rejects CSV: line,reason,raw (only written if any)" },
  "no-kafka": { kind: "boolean", help: "files only" },
  "no-headers": {
    kind: "boolean",
    help: "records without the content-type header (consumers then need to be told the format; saves about a third of the producing CPU)",
  },
  "summary-json": { kind: "output", placeholder: "F", help: "also write the summary as JSON" },
  progress: { kind: "boolean", defaultText: "only when stderr is a TTY", help: "live progress on stderr" },
  "no-progress": { kind: "boolean", help: "no live progress" },
  "transactional-id": {
    kind: "string",
    placeholder: "ID",
    help:
      "the whole load in Kafka transactions (or transactional.id=ID in --kafka-config): worker i's producer is ID-i, " +
      "each sends its rows in one transaction, and all are committed together once every worker's rows are " +
      "acknowledged (every row accepted, or rejected into the rejects file); any failure or SIGINT/SIGTERM aborts " +
      "them all. A later run with the same ID (and --workers) fences a still-running or dead earlier one. Readers " +
      "with isolation.level=read_committed see all or nothing (but for the milliseconds between the first worker's " +
      "commit and the last one's). Needs Kafka 0.11+ (not the embedded broker, not 0.9/0.10).",
  },
  "commit-every": {
    kind: "int",
    min: 1,
    help: "with --transactional-id: commit every N rows of each worker: no longer all-or-nothing (what was committed stays), but bounded transactions",
  },
  ...REGISTRY_FLAGS,
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage: ingest produce --file users.csv [options]
       ingest produce --file messages.ndjson --input ndjson [options]

Reads a CSV (header row, then rows) and, at once, sends every accepted row to Kafka and writes it
to a JSON file and an Avro object-container file. Column types follow the Avro schema; a row that
does not convert is rejected into the rejects file with its line number and reason, and the run
goes on. Waits for every delivery report. Exit 0 only if every accepted row was delivered and
written; 1 otherwise; 2 for bad usage; 130/143 when stopped by SIGINT/SIGTERM (in-flight messages
are flushed and the summary is still written).

With --input ndjson, each non-empty line of the file is one message value, sent byte for byte
(pre-encoded: no parsing, no schema); the key is the value of field --key, found by a scan of the
line (a line without it is rejected). Use it to replay data as fast as the producer goes.

Every record carries one header, content-type: application/json, avro/binary or
application/msgpack, with the schema as parameters when known (e.g. "avro/binary;
schema=ingest.User; schema-id=3; version=1"); --no-headers sends records without it.`,
  FLAGS,
);

export default {
  async run(argv) {
    const { values, raw, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (!values.file) throw new UsageError("--file is required (the CSV to read)");
    const format = values.format;
    const input = values.input ?? (/\.(ndjson|jsonl)$/i.test(values.file) ? "ndjson" : "csv");
    if (input === "ndjson" && (format !== "json" || values["avro-out"] || values.schema)) {
      throw new UsageError("--input ndjson sends lines as they are: --format other than json, --avro-out and --schema need --input csv");
    }
    const workers = values.workers ?? (input === "ndjson" ? 1 : defaultWorkers());
    const avroCodec = values["avro-codec"];
    const compression = checkCompression(values.compression);
    const acks = values.acks;
    const limit = values.limit ?? Infinity;
    let schemaText = usersSchemaText;
    if (values.schema) {
      try {
        schemaText = readFileSync(values.schema, "utf8");
      } catch (e) {
        throw new IngestError(`--schema: cannot read ${values.schema}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const schema = parseSchema(schemaText, values.schema ?? "data/users.avsc");
    // The job runs under the JIT and malloc options it is measured with: this re-executes the
    // process once, before anything is printed, opened or sent (see cli/runtime-options.ts).
    execWithRuntimeOptions(PRODUCE_RUNTIME_OPTIONS);
    let kafka: Record<string, string> | null = null;
    const commitEvery = values["commit-every"] ?? 0;
    let txn: { id: string; commitEvery: number } | null = null;
    if (!values["no-kafka"]) {
      kafka = kafkaConfig(raw, { "compression.type": compression, acks });
      if (isOldBroker(kafka) && kafka["compression.type"] === "zstd") {
        throw new UsageError(
          `--compression zstd: the broker version ${kafka["broker.version.fallback"]} does not support zstd (Kafka 2.1+); use lz4, snappy or gzip`,
        );
      }
      const id = transactionalId(values["transactional-id"], kafka);
      if (id !== null) txn = { id, commitEvery };
    } else if (values["transactional-id"] || values["schema-registry"]) {
      throw new UsageError(`--${values["transactional-id"] ? "transactional-id" : "schema-registry"}: --no-kafka sends nothing`);
    } else if (raw.format || raw.compression || raw.acks) {
      // Not an error, but say that Kafka options do nothing here.
      process.stderr.write("note: --no-kafka: --format/--compression/--acks have no effect\n");
    }
    // Output paths were checked by parseFlags (a directory, or a missing directory); the default
    // rejects path is checked here, all before anything is sent.
    const summaryJson = values["summary-json"];
    const jsonOut = values["json-out"] ?? null;
    const avroOut = values["avro-out"] ?? null;
    const rejects = values.rejects ?? outputFileFlag("rejects", defaultRejectsPath(values.file))!;
    const progress = values["no-progress"] ? false : values.progress ? true : process.stderr.isTTY === true;
    if (commitEvery && !txn) throw new UsageError("--commit-every needs --transactional-id");
    const topic = values.topic;
    // The value schema's registry id, once, before anything is read or sent: a schema the
    // registry refuses (incompatible with the subject's) stops the run here with its message.
    const registered = kafka ? await valueSchemaFromRegistry(raw, format, topic, schema) : null;
    const headers = values["no-headers"] ? {} : contentHeaders(format, input === "csv" ? schema : null, registered);

    const stop: { signal: NodeJS.Signals | null; onStop?: () => void } = { signal: null };
    const onSignal = (s: NodeJS.Signals) => {
      if (stop.signal) return;
      stop.signal = s;
      process.stderr.write(`\n${s}: stopping: no more rows are read; flushing what is in flight\n`);
      stop.onStop?.();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let summary: ProduceSummary;
    try {
      summary = await produce(
        {
          file: values.file,
          input,
          schema,
          topic,
          key: values.key === "" ? null : values.key,
          format,
          kafka,
          jsonOut,
          avroOut,
          avroCodec,
          rejects,
          workers,
          limit,
          progress,
          valuePrefix: registered?.prefix ?? null,
          headers,
          txn,
        },
        stop,
      );
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    if (summaryJson) writeOutputFile("summary-json", summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
    process.stderr.write(formatSummary(summary));
    if (summary.stopped_by_signal) return summary.stopped_by_signal === "SIGINT" ? 130 : 143;
    return summary.ok ? 0 : 1;
  },
} satisfies Command;

function formatSummary(s: ProduceSummary): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const lines = [
    `produce ${s.ok ? "OK" : s.stopped_by_signal ? `STOPPED (${s.stopped_by_signal})` : "FAILED"}: ${s.file}${s.topic ? ` -> topic ${s.topic}` : ""} (${s.workers} worker${s.workers > 1 ? "s" : ""})`,
    `  rows read ${n(s.rows_read)}, accepted ${n(s.rows_accepted)}, rejected ${n(s.rows_rejected)}${s.rejects_file ? ` (see ${s.rejects_file})` : ""}, empty lines skipped ${n(s.empty_lines_skipped)}`,
  ];
  if (s.topic) {
    lines.push(
      `  kafka: delivered ${n(s.messages_delivered)}, failed ${n(s.messages_failed)}${s.messages_failed ? ` ${JSON.stringify(s.failures)}: ${s.first_failure}` : ""}`,
    );
    if (s.messages_failed_possibly_written)
      lines.push(
        `  kafka: ${n(s.messages_failed_possibly_written)} of the failed were sent but never acknowledged: the topic may hold them (a retry can duplicate them)`,
      );
    lines.push(`  bytes: ${n(s.value_bytes)} of values${s.wire_bytes !== undefined ? `, ${n(s.wire_bytes)} sent to brokers (compressed, with framing)` : ""}`);
  }
  if (s.json_records !== null) lines.push(`  json file: ${n(s.json_records)} records`);
  if (s.avro_records !== null) lines.push(`  avro file: ${n(s.avro_records)} records`);
  if (s.transactions) {
    const t = s.transactions;
    lines.push(
      `  transactions (${t.id}-0..${t.workers.length - 1}): ${t.outcome.toUpperCase()}, ${n(t.committed)} committed${
        t.outcome === "committed"
          ? ""
          : `; ${t.workers
              .filter((w) => w.state !== "committed")
              .map((w) => `${w.id} ${w.state}${w.error ? `: ${w.error}` : ""}`)
              .join("; ")}`
      }`,
    );
  }
  lines.push(
    `  time: ${s.seconds.total}s total (setup ${s.seconds.setup}s, read+send ${s.seconds.read_and_send}s, delivery wait ${s.seconds.delivery_wait}s, files ${s.seconds.files}s); ${n(s.messages_per_second)} msg/s`,
  );
  return `${lines.join("\n")}\n`;
}
