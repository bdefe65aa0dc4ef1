import avro from "avsc";
import { Encoder, decode as msgpackDecode } from "@msgpack/msgpack";
import { UsageError } from "../core/errors.ts";

export const FORMATS = ["json", "avro", "msgpack"] as const;
export type Format = (typeof FORMATS)[number];

/**
 * A value codec. `encodeInto` writes one record at `out[off..]` and returns the bytes written,
 * or -1 when it does not fit (the caller grows the buffer and retries): the producer's hot loop
 * encodes straight into its batch buffer, with no per-record allocation of output bytes.
 */
export interface Codec {
  readonly format: Format;
  encodeInto(rec: unknown, out: Uint8Array, off: number): number;
  encode(rec: unknown): Uint8Array;
  decode(bytes: Uint8Array): Record<string, unknown>;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** JSON text, UTF-8. Avro `long` values are plain JSON numbers (ids fit in 2^53). */
export class JsonCodec implements Codec {
  readonly format = "json" as const;
  encodeInto(rec: unknown, out: Uint8Array, off: number): number {
    const s = JSON.stringify(rec);
    // Worst case 3 bytes per UTF-16 unit; skip the attempt when it surely cannot fit.
    if (out.length - off < s.length) return -1;
    const r = textEncoder.encodeInto(s, out.subarray(off));
    return r.read === s.length ? r.written : -1;
  }
  encode(rec: unknown): Uint8Array {
    return textEncoder.encode(JSON.stringify(rec));
  }
  decode(bytes: Uint8Array): Record<string, unknown> {
    const v = JSON.parse(textDecoder.decode(bytes));
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("expected a JSON object");
    return v as Record<string, unknown>;
  }
}

/** Avro binary datum encoding (no container, no schema id): producer and consumer share the schema. */
export class AvroCodec implements Codec {
  readonly format = "avro" as const;
  readonly type: avro.Type;
  constructor(schema: object) {
    this.type = avro.Type.forSchema(schema as avro.Schema);
  }
  private lastOut: Uint8Array | undefined;
  private lastBuf: Buffer | undefined;
  encodeInto(rec: unknown, out: Uint8Array, off: number): number {
    // avsc writes through Buffer methods; view the caller's bytes as a Buffer once per buffer.
    if (out !== this.lastOut) {
      this.lastOut = out;
      this.lastBuf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    const end = this.type.encode(rec, this.lastBuf!, off);
    return end < 0 ? -1 : end - off;
  }
  encode(rec: unknown): Uint8Array {
    return this.type.toBuffer(rec);
  }
  decode(bytes: Uint8Array): Record<string, unknown> {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.type.fromBuffer(buf) as Record<string, unknown>;
  }
}

/** MessagePack via @msgpack/msgpack; one reusable encoder per codec. */
export class MsgpackCodec implements Codec {
  readonly format = "msgpack" as const;
  private readonly enc = new Encoder();
  encodeInto(rec: unknown, out: Uint8Array, off: number): number {
    const b = this.enc.encode(rec);
    if (out.length - off < b.length) return -1;
    out.set(b, off);
    return b.length;
  }
  encode(rec: unknown): Uint8Array {
    return this.enc.encode(rec).slice();
  }
  decode(bytes: Uint8Array): Record<string, unknown> {
    const v = msgpackDecode(bytes);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("expected a MessagePack map");
    return v as Record<string, unknown>;
  }
}

export function makeCodec(format: string, schema: object): Codec {
  switch (format) {
    case "json":
      return new JsonCodec();
    case "avro":
      return new AvroCodec(schema);
    case "msgpack":
      return new MsgpackCodec();
  }
  throw new UsageError(`--format: '${format}' is not one of ${FORMATS.join("|")}`);
}
