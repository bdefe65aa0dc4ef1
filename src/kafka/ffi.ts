/**
 * The raw librdkafka C API through bun:ffi. Nothing outside src/kafka/ imports this file.
 *
 * Rules this binding keeps (see docs/design.md, "Why librdkafka through bun:ffi"): no JS callback ever runs on a librdkafka
 * thread (delivery reports, logs and errors come through the event API and are polled from JS);
 * work crosses the boundary in batches; pointers to JS memory are passed as call arguments and
 * never stored in native memory beyond the call (RD_KAFKA_MSG_F_COPY).
 */
import { dlopen, FFIType, suffix, CString, type Pointer } from "bun:ffi";
import { existsSync } from "node:fs";
import { IngestError } from "../core/errors.ts";
import { cstr } from "../core/libc.ts";

export { cstr };

const { ptr, i32, i64, u64, cstring, void: v } = FFIType;
// size_t on LP64 (FFIType.usize exists at run time but not in bun-types).
const usize = (FFIType as unknown as { usize: FFIType }).usize ?? u64;
const isize = FFIType.i64;

const symbols = {
  rd_kafka_version_str: { args: [], returns: cstring },
  rd_kafka_err2str: { args: [i32], returns: cstring },
  rd_kafka_err2name: { args: [i32], returns: cstring },
  rd_kafka_last_error: { args: [], returns: i32 },
  rd_kafka_fatal_error: { args: [ptr, ptr, usize], returns: i32 },

  rd_kafka_conf_new: { args: [], returns: ptr },
  rd_kafka_conf_destroy: { args: [ptr], returns: v },
  rd_kafka_conf_set: { args: [ptr, ptr, ptr, ptr, usize], returns: i32 },
  rd_kafka_conf_set_events: { args: [ptr, i32], returns: v },
  rd_kafka_conf_interceptor_add_on_new: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  // Called from batch.c's on_new interceptor only (its address is passed to C).
  rd_kafka_interceptor_add_on_request_sent: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  rd_kafka_conf_set_rebalance_cb: { args: [ptr, FFIType.function], returns: v },
  rd_kafka_conf_set_opaque: { args: [ptr, ptr], returns: v },

  rd_kafka_new: { args: [i32, ptr, ptr, usize], returns: ptr },
  rd_kafka_destroy: { args: [ptr], returns: v },
  rd_kafka_name: { args: [ptr], returns: cstring },
  rd_kafka_poll: { args: [ptr, i32], returns: i32 },
  rd_kafka_flush: { args: [ptr, i32], returns: i32 },
  rd_kafka_outq_len: { args: [ptr], returns: i32 },
  rd_kafka_purge: { args: [ptr, i32], returns: i32 },

  rd_kafka_topic_new: { args: [ptr, ptr, ptr], returns: ptr },
  rd_kafka_topic_destroy: { args: [ptr], returns: v },
  rd_kafka_topic_name: { args: [ptr], returns: cstring },
  rd_kafka_produce_batch: { args: [ptr, i32, i32, ptr, i32], returns: i32 },
  rd_kafka_produceva: { args: [ptr, ptr, usize], returns: ptr },

  rd_kafka_queue_get_main: { args: [ptr], returns: ptr },
  rd_kafka_queue_io_event_enable: { args: [ptr, i32, ptr, usize], returns: v },
  rd_kafka_queue_get_consumer: { args: [ptr], returns: ptr },
  rd_kafka_queue_new: { args: [ptr], returns: ptr },
  rd_kafka_queue_destroy: { args: [ptr], returns: v },
  rd_kafka_queue_poll: { args: [ptr, i32], returns: ptr },
  rd_kafka_queue_length: { args: [ptr], returns: usize },
  rd_kafka_set_log_queue: { args: [ptr, ptr], returns: i32 },
  rd_kafka_consume_batch_queue: { args: [ptr, i32, ptr, usize], returns: isize },
  rd_kafka_message_destroy: { args: [ptr], returns: v },
  rd_kafka_message_status: { args: [ptr], returns: i32 },
  rd_kafka_message_timestamp: { args: [ptr, ptr], returns: i64 },
  rd_kafka_message_headers: { args: [ptr, ptr], returns: i32 },
  rd_kafka_header_get_all: { args: [ptr, usize, ptr, ptr, ptr], returns: i32 },
  rd_kafka_headers_new: { args: [usize], returns: ptr },
  rd_kafka_headers_destroy: { args: [ptr], returns: v },
  rd_kafka_header_add: { args: [ptr, ptr, isize, ptr, isize], returns: i32 },
  // The header interceptor and content-type reader (batch.c, or producer.ts/consumer.ts without it).
  rd_kafka_headers_copy: { args: [ptr], returns: ptr },
  rd_kafka_message_set_headers: { args: [ptr, ptr], returns: v },
  rd_kafka_header_get_last: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  rd_kafka_interceptor_add_on_send: { args: [ptr, ptr, ptr, ptr], returns: i32 },

  rd_kafka_event_type: { args: [ptr], returns: i32 },
  rd_kafka_event_destroy: { args: [ptr], returns: v },
  rd_kafka_event_message_array: { args: [ptr, ptr, usize], returns: usize },
  rd_kafka_event_message_count: { args: [ptr], returns: usize },
  rd_kafka_event_error: { args: [ptr], returns: i32 },
  rd_kafka_event_error_string: { args: [ptr], returns: cstring },
  rd_kafka_event_error_is_fatal: { args: [ptr], returns: i32 },
  rd_kafka_event_log: { args: [ptr, ptr, ptr, ptr], returns: i32 },
  rd_kafka_event_stats: { args: [ptr], returns: cstring },
  rd_kafka_event_topic_partition_list: { args: [ptr], returns: ptr },
  rd_kafka_event_CreateTopics_result: { args: [ptr], returns: ptr },
  rd_kafka_CreateTopics_result_topics: { args: [ptr, ptr], returns: ptr },
  rd_kafka_topic_result_error: { args: [ptr], returns: i32 },
  rd_kafka_topic_result_error_string: { args: [ptr], returns: cstring },
  rd_kafka_topic_result_name: { args: [ptr], returns: cstring },
  rd_kafka_NewTopic_new: { args: [ptr, i32, i32, ptr, usize], returns: ptr },
  rd_kafka_NewTopic_set_config: { args: [ptr, ptr, ptr], returns: i32 },
  rd_kafka_NewTopic_destroy: { args: [ptr], returns: v },
  rd_kafka_CreateTopics: { args: [ptr, ptr, usize, ptr, ptr], returns: v },
  rd_kafka_AdminOptions_new: { args: [ptr, i32], returns: ptr },
  rd_kafka_AdminOptions_destroy: { args: [ptr], returns: v },
  rd_kafka_AdminOptions_set_operation_timeout: { args: [ptr, i32, ptr, usize], returns: i32 },
  rd_kafka_AdminOptions_set_request_timeout: { args: [ptr, i32, ptr, usize], returns: i32 },
  rd_kafka_AdminOptions_set_opaque: { args: [ptr, ptr], returns: v },
  rd_kafka_event_opaque: { args: [ptr], returns: ptr },
  rd_kafka_offsets_for_times: { args: [ptr, ptr, i32], returns: i32 },
  // Consumer groups (admin API, librdkafka >= 2.0): list, describe, committed offsets.
  rd_kafka_ListConsumerGroups: { args: [ptr, ptr, ptr], returns: v },
  rd_kafka_event_ListConsumerGroups_result: { args: [ptr], returns: ptr },
  rd_kafka_ListConsumerGroups_result_valid: { args: [ptr, ptr], returns: ptr },
  rd_kafka_ListConsumerGroups_result_errors: { args: [ptr, ptr], returns: ptr },
  rd_kafka_ConsumerGroupListing_group_id: { args: [ptr], returns: cstring },
  rd_kafka_ConsumerGroupListing_is_simple_consumer_group: { args: [ptr], returns: i32 },
  rd_kafka_ConsumerGroupListing_state: { args: [ptr], returns: i32 },
  rd_kafka_consumer_group_state_name: { args: [i32], returns: cstring },
  rd_kafka_DescribeConsumerGroups: { args: [ptr, ptr, usize, ptr, ptr], returns: v },
  rd_kafka_event_DescribeConsumerGroups_result: { args: [ptr], returns: ptr },
  rd_kafka_DescribeConsumerGroups_result_groups: { args: [ptr, ptr], returns: ptr },
  rd_kafka_ConsumerGroupDescription_group_id: { args: [ptr], returns: cstring },
  rd_kafka_ConsumerGroupDescription_error: { args: [ptr], returns: ptr },
  rd_kafka_ConsumerGroupDescription_partition_assignor: { args: [ptr], returns: cstring },
  rd_kafka_ConsumerGroupDescription_state: { args: [ptr], returns: i32 },
  rd_kafka_ConsumerGroupDescription_coordinator: { args: [ptr], returns: ptr },
  rd_kafka_ConsumerGroupDescription_member_count: { args: [ptr], returns: usize },
  rd_kafka_ConsumerGroupDescription_member: { args: [ptr, usize], returns: ptr },
  rd_kafka_MemberDescription_client_id: { args: [ptr], returns: cstring },
  rd_kafka_MemberDescription_consumer_id: { args: [ptr], returns: cstring },
  rd_kafka_MemberDescription_host: { args: [ptr], returns: cstring },
  rd_kafka_MemberDescription_assignment: { args: [ptr], returns: ptr },
  rd_kafka_MemberAssignment_partitions: { args: [ptr], returns: ptr },
  rd_kafka_Node_id: { args: [ptr], returns: i32 },
  rd_kafka_ListConsumerGroupOffsets_new: { args: [ptr, ptr], returns: ptr },
  rd_kafka_ListConsumerGroupOffsets_destroy: { args: [ptr], returns: v },
  rd_kafka_ListConsumerGroupOffsets: { args: [ptr, ptr, usize, ptr, ptr], returns: v },
  rd_kafka_event_ListConsumerGroupOffsets_result: { args: [ptr], returns: ptr },
  rd_kafka_ListConsumerGroupOffsets_result_groups: { args: [ptr, ptr], returns: ptr },
  rd_kafka_group_result_error: { args: [ptr], returns: ptr },
  rd_kafka_group_result_name: { args: [ptr], returns: cstring },
  rd_kafka_group_result_partitions: { args: [ptr], returns: ptr },

  rd_kafka_subscribe: { args: [ptr, ptr], returns: i32 },
  rd_kafka_unsubscribe: { args: [ptr], returns: i32 },
  rd_kafka_poll_set_consumer: { args: [ptr], returns: i32 },
  rd_kafka_assign: { args: [ptr, ptr], returns: i32 },
  rd_kafka_incremental_assign: { args: [ptr, ptr], returns: ptr },
  rd_kafka_incremental_unassign: { args: [ptr, ptr], returns: ptr },
  rd_kafka_rebalance_protocol: { args: [ptr], returns: cstring },
  rd_kafka_assignment: { args: [ptr, ptr], returns: i32 },
  rd_kafka_commit: { args: [ptr, ptr, i32], returns: i32 },
  rd_kafka_committed: { args: [ptr, ptr, i32], returns: i32 },
  rd_kafka_position: { args: [ptr, ptr], returns: i32 },
  rd_kafka_pause_partitions: { args: [ptr, ptr], returns: i32 },
  rd_kafka_resume_partitions: { args: [ptr, ptr], returns: i32 },
  rd_kafka_seek_partitions: { args: [ptr, ptr, i32], returns: ptr },
  rd_kafka_consumer_close: { args: [ptr], returns: i32 },
  rd_kafka_query_watermark_offsets: { args: [ptr, ptr, i32, ptr, ptr, i32], returns: i32 },
  rd_kafka_get_watermark_offsets: { args: [ptr, ptr, i32, ptr, ptr], returns: i32 },
  rd_kafka_metadata: { args: [ptr, i32, ptr, ptr, i32], returns: i32 },
  // librdkafka's partitioners: called from batch.c's ingest_partition only (their addresses are passed to C).
  rd_kafka_msg_partitioner_consistent: { args: [ptr, ptr, usize, i32, ptr, ptr], returns: i32 },
  rd_kafka_msg_partitioner_consistent_random: { args: [ptr, ptr, usize, i32, ptr, ptr], returns: i32 },
  rd_kafka_msg_partitioner_murmur2: { args: [ptr, ptr, usize, i32, ptr, ptr], returns: i32 },
  rd_kafka_msg_partitioner_murmur2_random: { args: [ptr, ptr, usize, i32, ptr, ptr], returns: i32 },
  rd_kafka_msg_partitioner_fnv1a: { args: [ptr, ptr, usize, i32, ptr, ptr], returns: i32 },
  rd_kafka_msg_partitioner_fnv1a_random: { args: [ptr, ptr, usize, i32, ptr, ptr], returns: i32 },
  rd_kafka_metadata_destroy: { args: [ptr], returns: v },
  rd_kafka_clusterid: { args: [ptr, i32], returns: ptr },
  rd_kafka_mem_free: { args: [ptr, ptr], returns: v },

  rd_kafka_topic_partition_list_new: { args: [i32], returns: ptr },
  rd_kafka_topic_partition_list_add: { args: [ptr, ptr, i32], returns: ptr },
  rd_kafka_topic_partition_list_destroy: { args: [ptr], returns: v },
  rd_kafka_topic_partition_list_copy: { args: [ptr], returns: ptr },

  rd_kafka_error_code: { args: [ptr], returns: i32 },
  rd_kafka_error_string: { args: [ptr], returns: cstring },
  rd_kafka_error_destroy: { args: [ptr], returns: v },
  rd_kafka_error_is_fatal: { args: [ptr], returns: i32 },
  rd_kafka_error_is_retriable: { args: [ptr], returns: i32 },
  rd_kafka_error_txn_requires_abort: { args: [ptr], returns: i32 },

  rd_kafka_init_transactions: { args: [ptr, i32], returns: ptr },
  rd_kafka_begin_transaction: { args: [ptr], returns: ptr },
  rd_kafka_commit_transaction: { args: [ptr, i32], returns: ptr },
  rd_kafka_abort_transaction: { args: [ptr, i32], returns: ptr },

  rd_kafka_mock_cluster_new: { args: [ptr, i32], returns: ptr },
  rd_kafka_mock_cluster_destroy: { args: [ptr], returns: v },
  rd_kafka_mock_cluster_bootstraps: { args: [ptr], returns: cstring },
  rd_kafka_mock_topic_create: { args: [ptr, ptr, i32, i32], returns: i32 },
  rd_kafka_mock_broker_set_down: { args: [ptr, i32], returns: i32 },
  rd_kafka_mock_broker_set_up: { args: [ptr, i32], returns: i32 },
  rd_kafka_mock_broker_set_rtt: { args: [ptr, i32, i32], returns: i32 },
  rd_kafka_mock_push_request_errors_array: { args: [ptr, i32, usize, ptr], returns: v },
} as const;

/** Where librdkafka is looked for when LIBRDKAFKA_PATH is not set. */
const CANDIDATES = [
  `librdkafka.${suffix === "dylib" ? "1.dylib" : "so.1"}`,
  "/usr/lib/x86_64-linux-gnu/librdkafka.so.1",
  "/usr/lib/aarch64-linux-gnu/librdkafka.so.1",
  "/usr/local/lib/librdkafka.so.1",
  "/usr/lib/librdkafka.so.1",
  "/usr/lib64/librdkafka.so.1",
  "/opt/homebrew/lib/librdkafka.dylib",
  "/usr/local/lib/librdkafka.dylib",
];

function open() {
  const explicit = process.env.LIBRDKAFKA_PATH;
  if (explicit && !existsSync(explicit)) {
    throw new IngestError(`LIBRDKAFKA_PATH=${explicit}: no such file`);
  }
  const tried: string[] = [];
  for (const path of explicit ? [explicit] : CANDIDATES) {
    try {
      return dlopen(path, symbols).symbols;
    } catch (e) {
      tried.push(`${path} (${(e as Error).message.split("\n")[0]})`);
    }
  }
  throw new IngestError(
    `librdkafka not found. Install it (Debian/Ubuntu: apt-get install librdkafka1; macOS: brew install librdkafka) ` +
      `or set LIBRDKAFKA_PATH to librdkafka.so.1. Tried: ${tried.join("; ")}`,
  );
}

let lib: ReturnType<typeof open> | undefined;
/** The symbol table, opened on first use so `ingest --help` works without librdkafka. */
export function rdk(): ReturnType<typeof open> {
  return (lib ??= open());
}

export function librdkafkaVersion(): string {
  return String(rdk().rd_kafka_version_str());
}

// ---- constants from rdkafka.h (checked against 2.0.2's header by test/unit/kafka-layout.test.ts) ----
export const RD_KAFKA_PRODUCER = 0;
export const RD_KAFKA_CONSUMER = 1;
export const RD_KAFKA_PARTITION_UA = -1;
export const RD_KAFKA_MSG_F_COPY = 0x2;
export const RD_KAFKA_MSG_F_PARTITION = 0x8;
export const RD_KAFKA_CONF_OK = 0;
export const EVENT = {
  DR: 1,
  FETCH: 2,
  LOG: 4,
  ERROR: 8,
  REBALANCE: 16,
  OFFSET_COMMIT: 32,
  STATS: 64,
  CREATETOPICS_RESULT: 100,
  LISTCONSUMERGROUPS_RESULT: 0x2000,
  DESCRIBECONSUMERGROUPS_RESULT: 0x4000,
  LISTCONSUMERGROUPOFFSETS_RESULT: 0x8000,
} as const;
/** rd_kafka_admin_op_t: what rd_kafka_AdminOptions_new is told the options are for. */
export const ADMIN_OP = { CREATETOPICS: 1, LISTCONSUMERGROUPS: 12, DESCRIBECONSUMERGROUPS: 13, LISTCONSUMERGROUPOFFSETS: 14 } as const;
export const VTYPE = { END: 0, TOPIC: 1, RKT: 2, PARTITION: 3, VALUE: 4, KEY: 5, OPAQUE: 6, MSGFLAGS: 7, TIMESTAMP: 8, HEADER: 9, HEADERS: 10 } as const;
export const ERR = {
  NO_ERROR: 0,
  _MSG_TIMED_OUT: -192,
  _PARTITION_EOF: -191,
  _UNKNOWN_PARTITION: -190,
  _UNKNOWN_TOPIC: -188,
  _ALL_BROKERS_DOWN: -187,
  _TIMED_OUT: -185,
  _QUEUE_FULL: -184,
  _REVOKE_PARTITIONS: -174,
  _ASSIGN_PARTITIONS: -175,
  _NO_OFFSET: -168,
  _TRANSPORT: -195,
  _PURGE_QUEUE: -152,
  _PURGE_INFLIGHT: -151,
  _FATAL: -150,
  _UNSUPPORTED_FEATURE: -165,
  UNKNOWN_TOPIC_OR_PART: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_FOR_PARTITION: 6,
  REQUEST_TIMED_OUT: 7,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  MSG_SIZE_TOO_LARGE: 10,
  TOPIC_ALREADY_EXISTS: 36,
} as const;

/** Struct layouts (x86-64 and arm64 LP64), verified against the header by a test. */
export const MSG = { SIZE: 72, err: 0, rkt: 8, partition: 16, payload: 24, len: 32, key: 40, key_len: 48, offset: 56, _private: 64 } as const;
export const TPAR = { SIZE: 64, topic: 0, partition: 8, offset: 16, metadata: 24, metadata_size: 32, opaque: 40, err: 48 } as const;
export const TPLIST = { cnt: 0, size: 4, elems: 8 } as const;
export const VU_SIZE = 72;

/** A CString return value (or null pointer) as a JS string. */
export function str(c: CString | null | unknown): string {
  return c == null ? "" : String(c);
}

export type { Pointer };
export { CString };
