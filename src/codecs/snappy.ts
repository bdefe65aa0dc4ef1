import { dlopen, FFIType, ptr } from "bun:ffi";
import { log } from "../observability/log.ts";

/**
 * Snappy block compression (the raw format, as Avro's "snappy" codec uses it), written here
 * because neither Bun nor the project's dependencies ship one; the Avro writer uses the system's
 * libsnappy instead where it loads (avroSnappy below). A greedy hash-table matcher over
 * 4-byte sequences: output is valid Snappy that any decoder reads; the ratio is close to the
 * reference for JSON-like data. Also a decoder, used by the tests.
 */
const MAX_BLOCK = 1 << 16;
const HASH_BITS = 14;

function varint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
}

export function snappyCompress(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  varint(out, input.length);
  const table = new Int32Array(1 << HASH_BITS);
  for (let base = 0; base < input.length; base += MAX_BLOCK) {
    compressBlock(input, base, Math.min(input.length, base + MAX_BLOCK), out, table);
  }
  return Uint8Array.from(out);
}

function load32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function hash(x: number): number {
  return Math.imul(x, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function emitLiteral(out: number[], b: Uint8Array, from: number, to: number): void {
  const n = to - from;
  if (n <= 0) return;
  const len = n - 1;
  if (len < 60) out.push(len << 2);
  else if (len < 1 << 8) out.push(60 << 2, len);
  else if (len < 1 << 16) out.push(61 << 2, len & 0xff, len >>> 8);
  else out.push(62 << 2, len & 0xff, (len >>> 8) & 0xff, len >>> 16);
  for (let i = from; i < to; i++) out.push(b[i]!);
}

function emitCopy(out: number[], offset: number, len: number): void {
  while (len > 0) {
    // Copies with 2-byte offsets, at most 64 bytes each (keep at least 4 for the last piece).
    let n = Math.min(len, 64);
    if (len - n > 0 && len - n < 4) n = len - 4;
    out.push(((n - 1) << 2) | 2, offset & 0xff, offset >>> 8);
    len -= n;
  }
}

function compressBlock(b: Uint8Array, start: number, end: number, out: number[], table: Int32Array): void {
  table.fill(-1);
  let lit = start;
  let i = start;
  while (i + 4 <= end) {
    const h = hash(load32(b, i));
    const cand = table[h]!;
    table[h] = i;
    if (cand >= start && i - cand < 65536 && load32(b, cand) === load32(b, i)) {
      emitLiteral(out, b, lit, i);
      let len = 4;
      while (i + len < end && b[cand + len] === b[i + len]) len++;
      emitCopy(out, i - cand, len);
      i += len;
      lit = i;
    } else i++;
  }
  emitLiteral(out, b, lit, end);
}

export function snappyUncompress(input: Uint8Array): Uint8Array {
  let pos = 0;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    const c = input[pos++]!;
    len |= (c & 0x7f) << shift;
    if (c < 0x80) break;
  }
  const out = new Uint8Array(len);
  let o = 0;
  while (pos < input.length) {
    const tag = input[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        n = 0;
        for (let k = 0; k < bytes; k++) n |= input[pos++]! << (8 * k);
      }
      n += 1;
      out.set(input.subarray(pos, pos + n), o);
      pos += n;
      o += n;
      continue;
    }
    let n: number;
    let off: number;
    if (kind === 1) {
      n = ((tag >>> 2) & 7) + 4;
      off = ((tag >>> 5) << 8) | input[pos++]!;
    } else if (kind === 2) {
      n = (tag >>> 2) + 1;
      off = input[pos]! | (input[pos + 1]! << 8);
      pos += 2;
    } else {
      n = (tag >>> 2) + 1;
      off = (input[pos]! | (input[pos + 1]! << 8) | (input[pos + 2]! << 16) | (input[pos + 3]! << 24)) >>> 0;
      pos += 4;
    }
    if (off === 0 || off > o) throw new Error("snappy: invalid copy offset");
    for (let k = 0; k < n; k++, o++) out[o] = out[o - off]!;
  }
  if (o !== len) throw new Error("snappy: length mismatch");
  return out;
}

/**
 * Avro's snappy block: the raw Snappy compression of a block, then the CRC-32 of the
 * uncompressed bytes (big-endian). Through libsnappy (libsnappy.so.1's C API, dlopened) when it
 * loads and INGEST_NATIVE_SNAPPY is not 0, else snappyCompress above (slower: docs/design.md,
 * "Avro block compression"). The result may be a view
 * of a buffer reused by the next call.
 */
export interface AvroSnappy {
  readonly library: "libsnappy" | "js";
  block(raw: Uint8Array): Uint8Array;
}

export function avroSnappy(): AvroSnappy {
  if (process.env.INGEST_NATIVE_SNAPPY !== "0") {
    try {
      const { symbols: f } = dlopen("libsnappy.so.1", {
        snappy_compress: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        snappy_max_compressed_length: { args: [FFIType.u64], returns: FFIType.u64 },
      });
      let out = new Uint8Array(0);
      const outLen = new BigUint64Array(1);
      return {
        library: "libsnappy",
        block(raw) {
          const max = Number(f.snappy_max_compressed_length(raw.length)) + 4;
          if (out.length < max) out = new Uint8Array(max);
          outLen[0] = BigInt(out.length - 4);
          // A zero-length input has no address for ptr(): one byte of `out` stands in (length 0).
          const rc = f.snappy_compress(raw.length ? ptr(raw) : ptr(out), raw.length, out, outLen);
          if (rc !== 0) throw new Error(`snappy_compress failed (status ${rc})`);
          const n = Number(outLen[0]);
          new DataView(out.buffer, out.byteOffset).setUint32(n, Bun.hash.crc32(raw), false);
          return out.subarray(0, n + 4);
        },
      };
    } catch (e) {
      log.debug({ err: (e as Error).message }, "libsnappy.so.1 not loadable: Avro snappy blocks through the JS compressor");
    }
  }
  return {
    library: "js",
    block(raw) {
      const c = snappyCompress(raw);
      const data = new Uint8Array(c.length + 4);
      data.set(c);
      new DataView(data.buffer).setUint32(c.length, Bun.hash.crc32(raw), false);
      return data;
    },
  };
}
