/**
 * Each command's one-line summary, in the order `ingest --help` lists them: read by main's help
 * (which must not load the commands, so that it never opens librdkafka) and by docs/commands.md.
 */
export const COMMAND_SUMMARIES = {
  broker: "run an embedded, in-memory Kafka-protocol cluster for development and tests",
  topic: "create, list and describe topics",
  produce: "read a CSV of users; write JSON, Avro and Kafka at once",
  consume: "consume in a group; write through to MySQL/SQLite and Redis with manual commits",
  serve: "HTTP order intake: POST /order, POST /orders/batch, GET /health",
  load: "fixed-rate HTTP load generator for serve",
  lag: "consumer-group lag per partition, with a Burrow-style status; --watch refreshes it",
  dashboard: "live web page: topics, consumer groups (lag, chart, status), processes, brokers",
  gen: "generate deterministic users or orders CSV",
  health: "container health probe: HTTP endpoint, heartbeat file, Kafka reachability",
} as const;

export type CommandName = keyof typeof COMMAND_SUMMARIES;
