import type { ByteRange } from "../csv/reader.ts";
import type { AvroRecordSchema } from "../csv/schema-rows.ts";
import type { AvroFileCodec } from "../codecs/avro-file.ts";
import type { Format } from "../codecs/index.ts";

/** What one produce worker does: one byte range of the CSV into Kafka and its file parts. */
export interface ProduceJob {
  index: number;
  file: string;
  /** csv: parse and convert by the schema; ndjson: send each line as it is (pre-encoded). */
  input: "csv" | "ndjson";
  range: ByteRange;
  header: string[];
  schema: AvroRecordSchema;
  key: string | null;
  format: Format;
  topic: string;
  /** librdkafka properties, or null with --no-kafka. */
  kafka: Record<string, string> | null;
  /** The topic's partition count from the command's own check (0: not known). */
  partitions: number;
  /** Bytes that start every Kafka value: the schema registry's wire header (magic 0, schema id), or null. */
  valuePrefix: Uint8Array | null;
  /** Headers every record carries (content-type, schema name and version). */
  headers: Record<string, string>;
  /**
   * Transactional sends (kafka has this worker's transactional.id): one transaction for the
   * worker's rows, or one per `commitEvery` rows (0: one). The last one is committed or
   * aborted as the main thread decides once every worker is ready (see run.ts).
   */
  txn: { commitEvery: number } | null;
  /**
   * Output file parts. Part 0 starts with the file's prefix (`prefix`: "[" or the Avro header)
   * and becomes the file itself at the end; the other parts are appended to it.
   */
  jsonPart: { path: string; ndjson: boolean; prefix: Uint8Array | null } | null;
  avroPart: { path: string; codec: AvroFileCodec; sync: Uint8Array; prefix: Uint8Array | null } | null;
  rejectsPart: string;
  limit: number;
  /** Shared counters: see COUNTER below. */
  counters: SharedArrayBuffer;
}

/**
 * Slots of the shared Float64Array each worker updates (read by the main thread for progress;
 * `stop` is written by the main thread; `partsOpen` is 1 once the worker created its output parts,
 * before that the joiner must not read a part file).
 */
export const COUNTER = { rows: 0, rejected: 1, delivered: 2, failed: 3, bytesRead: 4, stop: 5, partsOpen: 6, SIZE: 7 } as const;

export interface WorkerStats {
  index: number;
  rows: number;
  accepted: number;
  rejected: number;
  skipped: number;
  enqueued: number;
  delivered: number;
  failed: number;
  /** Of the failed: sent, but no ack came; the broker may hold them. */
  possiblyPersisted: number;
  failures: Record<string, number>;
  firstFailure?: string;
  valueBytes: number;
  jsonRecords: number;
  avroRecords: number;
  readSendMs: number;
  deliveryWaitMs: number;
  stopped: boolean;
  /** Transactions this worker committed (with transactions). */
  txnCommitted: number;
  /** Its last transaction: open (ready, waiting for the decision), committed, or aborted with why. */
  txnState?: "open" | "committed" | "aborted";
  txnError?: string;
  /** librdkafka's last statistics: bytes sent to brokers (after compression, with protocol framing). */
  txBytes?: number;
  error?: string;
}
