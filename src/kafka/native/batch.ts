import { cc, FFIType, type Pointer } from "bun:ffi";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rdk } from "../ffi.ts";
import { libc } from "../../core/libc.ts";
import { log } from "../../observability/log.ts";
import source from "./batch.c" with { type: "text" };

/**
 * The consumer's batch copy in C (batch.c), compiled once per process by Bun's built-in
 * TinyCC: about half the cost per message of the JS loop it replaces (per message, FFI reads,
 * memcpy of key and value, rd_kafka_message_destroy; docs/design.md, "Batch copies in C"). If TinyCC is unavailable or
 * fails, or INGEST_NATIVE_BATCH=0, the consumer keeps the JS loop (same batches, slower).
 * The producer uses it too, each with the same JS fallback: its delivery reports (ingest_dr:
 * err, partition, offset, opaque per message in one call), its batch's message structs
 * (ingest_fill_ptrs) and the batch's values for produce's JSON file (ingest_gather), one call
 * per batch each; it can order a batch by partition before the send (ingest_partition; without
 * it librdkafka partitions message by message) and count the bytes of its Produce requests (an
 * on_request_sent interceptor in C; without it the count comes from statistics).
 */
export interface NativeBatch {
  take(rkqu: Pointer, msgs: BigUint64Array, max: number, json: boolean, out: Float64Array): number;
  fill(
    msgs: BigUint64Array,
    n: number,
    data: Uint8Array,
    json: boolean,
    err: Int32Array,
    partition: Int32Array,
    keyStart: Int32Array,
    keyLen: Int32Array,
    valStart: Int32Array,
    valLen: Int32Array,
    offset: Float64Array,
    rkt: Float64Array,
  ): number;
  /** The producer's delivery reports: the next up to `max` messages of DR event `ev`, as columns (see ingest_dr). */
  dr(ev: Pointer, msgs: Uint32Array, max: number, err: Int32Array, partition: Int32Array, offset: Float64Array, opaque: Float64Array): number;
  /** Fill a produce batch's message structs from..to (see ingest_fill_ptrs). */
  fillPtrs(structs: Uint8Array, data: Uint8Array, spans: Int32Array, opaques: Float64Array, from: number, to: number): void;
  /**
   * Give the keyed, unassigned messages from..to their partition with librdkafka's partitioner
   * `fn` for `cnt` partitions, then order the messages by partition (see ingest_partition; a
   * batch holding a message without a key keeps its order).
   */
  partition(
    structs: Uint8Array,
    spans: Int32Array,
    opaques: Float64Array,
    data: Uint8Array,
    from: number,
    to: number,
    fn: Pointer,
    rkt: Pointer,
    cnt: number,
    scratch: PartitionScratch,
  ): void;
  /** The values of a produce batch into dst, sep between them and before the first unless `first` (see ingest_gather); returns the bytes written. */
  gather(data: Uint8Array, spans: Int32Array, n: number, dst: Uint8Array, sep: Uint8Array, first: boolean): number;
  /** The on_new interceptor that counts a producer's Produce request bytes into its slot (see batch.c); null where batch.c cannot count (not x86-64). */
  txOnNew: Pointer | null;
  /** The on_new interceptor that gives every message of a producer a copy of one header list (its opaque; see batch.c). */
  headersOnNew: Pointer;
  /** The content-type codes of n taken messages, before fill frees them (see ingest_content_type). */
  contentTypes(msgs: BigUint64Array, n: number, out: Uint8Array): void;
  /** A slot's count so far; reset sets it to 0 first (only before a producer takes it). */
  txBytes(slot: number, reset?: boolean): number;
}

/** Scratch for ingest_partition: room for a batch's messages, and counts for cnt + 2 buckets. */
export interface PartitionScratch {
  structs: Uint8Array;
  spans: Int32Array;
  opaques: Float64Array;
  counts: Int32Array;
}

let loaded: NativeBatch | null | undefined;

export function nativeBatch(): NativeBatch | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.INGEST_NATIVE_BATCH === "0") return loaded;
  const dir = mkdtempSync(join(tmpdir(), "ingest-cc-"));
  try {
    const path = join(dir, "batch.c");
    writeFileSync(path, source);
    const { symbols: s } = cc({
      source: path,
      symbols: {
        ingest_init: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.void },
        ingest_tx_on_new: { args: [], returns: FFIType.ptr },
        ingest_tx_bytes: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i64_fast },
        ingest_take: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
        ingest_fill: {
          args: [
            FFIType.ptr,
            FFIType.ptr,
            FFIType.i32,
            FFIType.ptr,
            FFIType.i32,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
          ],
          returns: FFIType.i32,
        },
        ingest_fill_ptrs: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.void },
        ingest_partition: {
          args: [
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.i32,
            FFIType.i32,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.i32,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
            FFIType.ptr,
          ],
          returns: FFIType.void,
        },
        ingest_gather: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        ingest_init_headers: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.void },
        ingest_headers_on_new: { args: [], returns: FFIType.ptr },
        ingest_content_types: { args: [FFIType.ptr, FFIType.i32, FFIType.ptr], returns: FFIType.void },
        ingest_dr: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
      },
    });
    const f = rdk() as unknown as Record<string, { ptr: number }>;
    s.ingest_init((libc().memcpy as unknown as { ptr: Pointer }).ptr, f.rd_kafka_interceptor_add_on_request_sent!.ptr as unknown as Pointer);
    s.ingest_init_headers(
      f.rd_kafka_headers_copy!.ptr as unknown as Pointer,
      f.rd_kafka_message_headers!.ptr as unknown as Pointer,
      f.rd_kafka_message_set_headers!.ptr as unknown as Pointer,
      f.rd_kafka_header_get_last!.ptr as unknown as Pointer,
      f.rd_kafka_interceptor_add_on_send!.ptr as unknown as Pointer,
    );
    const consumeBatch = f.rd_kafka_consume_batch_queue!.ptr as unknown as Pointer;
    const destroy = f.rd_kafka_message_destroy!.ptr as unknown as Pointer;
    const messageArray = f.rd_kafka_event_message_array!.ptr as unknown as Pointer;
    loaded = {
      take: (rkqu, msgs, max, json, out) => s.ingest_take(consumeBatch, rkqu, msgs, max, json ? 1 : 0, out),
      fill: (msgs, n, data, json, err, partition, keyStart, keyLen, valStart, valLen, offset, rkt) =>
        s.ingest_fill(destroy, msgs, n, data, json ? 1 : 0, err, partition, keyStart, keyLen, valStart, valLen, offset, rkt),
      fillPtrs: (structs, data, spans, opaques, from, to) => s.ingest_fill_ptrs(structs, data, spans, opaques, from, to),
      partition: (structs, spans, opaques, data, from, to, fn, rkt, cnt, scratch) =>
        s.ingest_partition(structs, spans, opaques, data, from, to, fn, rkt, cnt, scratch.structs, scratch.spans, scratch.opaques, scratch.counts),
      gather: (data, spans, n, dst, sep, first) => s.ingest_gather(data, spans, n, dst, sep, sep.length, first ? 1 : 0),
      dr: (ev, msgs, max, err, partition, offset, opaque) => s.ingest_dr(messageArray, ev, msgs, max | 0, err, partition, offset, opaque),
      txOnNew: (s.ingest_tx_on_new() as Pointer | null) || null,
      headersOnNew: s.ingest_headers_on_new() as Pointer,
      contentTypes: (msgs, n, out) => s.ingest_content_types(msgs, n, out),
      txBytes: (slot, reset = false) => Number(s.ingest_tx_bytes(slot, reset ? 1 : 0)),
    };
  } catch (e) {
    log.debug({ err: (e as Error).message }, "TinyCC could not compile batch.c: the JS loops instead (consumer copy, producer structs and reports)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return loaded;
}
