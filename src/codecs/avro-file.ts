import avro from "avsc";
import { randomBytes } from "node:crypto";
import { avroSnappy, type AvroSnappy } from "./snappy.ts";
import { writeAll } from "../core/write-all.ts";
import type { ByteSink } from "./row-encoder.ts";
import { rawDeflater, type RawDeflater } from "./deflate.ts";

export const AVRO_CODECS = ["null", "deflate", "snappy"] as const;
export type AvroFileCodec = (typeof AVRO_CODECS)[number];

/** Avro's zig-zag varint encoding of a long (as a JS number, |n| < 2^53). */
function zigzagLong(n: number, out: number[]): void {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
}

function bytesField(b: Uint8Array, out: number[]): void {
  zigzagLong(b.length, out);
  for (const x of b) out.push(x);
}

export function newSyncMarker(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

/** The container header: magic, metadata map (schema, codec), sync marker. */
export function avroHeader(schema: object, codec: AvroFileCodec, sync: Uint8Array): Uint8Array {
  const out: number[] = [0x4f, 0x62, 0x6a, 0x01];
  const enc = new TextEncoder();
  const meta: [string, string][] = [
    ["avro.schema", JSON.stringify(schema)],
    ["avro.codec", codec],
  ];
  zigzagLong(meta.length, out);
  for (const [k, v] of meta) {
    bytesField(enc.encode(k), out);
    bytesField(enc.encode(v), out);
  }
  zigzagLong(0, out);
  for (const x of sync) out.push(x);
  return Uint8Array.from(out);
}

/**
 * Writes data blocks of an Avro object container to a file descriptor: records are encoded
 * into a block buffer and flushed as (count, size, compressed data, sync) once the block passes
 * `blockBytes`. Several writers with the same sync marker can each write a part, and the parts
 * concatenated after one header make one valid file (that is how workers share the output).
 */
export class AvroBlockWriter implements ByteSink {
  private readonly type: avro.Type;
  /** The block being filled: buf[0..pos) (a ByteSink: row encoders write here, then call appended()). */
  buf: Buffer;
  pos = 0;
  private count = 0;
  private deflater: RawDeflater | null = null;
  private snappy: AvroSnappy | null = null;
  records = 0;
  bytesWritten = 0;

  constructor(
    schema: object,
    private readonly fd: number,
    private readonly codec: AvroFileCodec,
    private readonly sync: Uint8Array,
    private readonly blockBytes = 256 << 10,
  ) {
    this.type = avro.Type.forSchema(schema as avro.Schema);
    this.buf = Buffer.alloc(blockBytes * 2);
  }

  /** Encode one record with avsc. */
  append(rec: unknown): void {
    for (;;) {
      const end = this.type.encode(rec, this.buf, this.pos);
      if (end >= 0) {
        this.pos = end;
        break;
      }
      this.reserve(this.buf.length - end - this.pos); // -end: the bytes missing past buf's end
    }
    this.appended();
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** One record was written at buf[..pos) (by a row encoder): count it, flush a full block. */
  appended(): void {
    this.count++;
    this.records++;
    if (this.pos >= this.blockBytes) this.flush();
  }

  flush(): void {
    if (this.count === 0) return;
    const raw = this.buf.subarray(0, this.pos);
    let data: Uint8Array;
    // Raw DEFLATE (what Avro's deflate codec is): ISA-L or zlib, see deflate.ts.
    if (this.codec === "deflate") data = (this.deflater ??= rawDeflater()).deflate(raw);
    else if (this.codec === "snappy") data = (this.snappy ??= avroSnappy()).block(raw);
    else data = raw;
    const head: number[] = [];
    zigzagLong(this.count, head);
    zigzagLong(data.length, head);
    writeAll(this.fd, Uint8Array.from(head));
    writeAll(this.fd, data);
    writeAll(this.fd, this.sync);
    this.bytesWritten += head.length + data.length + 16;
    this.pos = 0;
    this.count = 0;
  }
}
