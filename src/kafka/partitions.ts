import { read, toArrayBuffer, CString, type Pointer } from "bun:ffi";
import { rdk, cstr, TPAR, TPLIST } from "./ffi.ts";
import { readI64 } from "./client.ts";

export interface TopicPartition {
  topic: string;
  partition: number;
  /** Offset, or a logical one (-1 end, -2 beginning, -1001 invalid/none). */
  offset?: number;
  /** Per-partition error code from librdkafka (0 = none). */
  err?: number;
}

/** Build an rd_kafka_topic_partition_list_t; the caller destroys it. */
export function toList(parts: TopicPartition[]): Pointer {
  const f = rdk();
  const list = f.rd_kafka_topic_partition_list_new(Math.max(1, parts.length)) as Pointer;
  for (const p of parts) {
    const el = f.rd_kafka_topic_partition_list_add(list, cstr(p.topic), p.partition) as Pointer;
    if (p.offset !== undefined) writeI64(el, TPAR.offset, p.offset);
  }
  return list;
}

/** Read an rd_kafka_topic_partition_list_t into JS objects (does not free it). */
export function fromList(list: Pointer | null): TopicPartition[] {
  if (!list) return [];
  const cnt = read.i32(list, TPLIST.cnt);
  const elems = read.ptr(list, TPLIST.elems) as Pointer;
  const out: TopicPartition[] = [];
  for (let i = 0; i < cnt; i++) {
    const el = (elems + i * TPAR.SIZE) as Pointer;
    out.push({
      topic: new CString(read.ptr(el, TPAR.topic) as Pointer).toString(),
      partition: read.i32(el, TPAR.partition),
      offset: readI64(el, TPAR.offset),
      err: read.i32(el, TPAR.err),
    });
  }
  return out;
}

/** Run `fn` with a temporary native list built from `parts`, then free it. */
export function withList<T>(parts: TopicPartition[], fn: (list: Pointer) => T): T {
  const list = toList(parts);
  try {
    return fn(list);
  } finally {
    rdk().rd_kafka_topic_partition_list_destroy(list);
  }
}

/** Write a 64-bit integer into native memory through a typed-array view of it. */
function writeI64(p: Pointer, off: number, v: number): void {
  const view = new DataView(toArrayBuffer(p, off, 8));
  view.setBigInt64(0, BigInt(v), true);
}
