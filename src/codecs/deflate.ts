import { dlopen, FFIType, ptr } from "bun:ffi";
import { log } from "../observability/log.ts";

/**
 * Raw DEFLATE for the Avro file's `deflate` codec: Intel's ISA-L (libisal.so.2, dlopened) when
 * present, else Bun.deflateSync (zlib level 1). The output is standard raw DEFLATE either way:
 * any inflater reads it (the tests read it with zlib, avsc, python3-avro and avrocat).
 *
 * Why: deflate was a fifth of a produce worker's time in the CSV-to-three-outputs job, and
 * ISA-L is both faster and smaller (docs/design.md, "Avro block compression"). INGEST_ISAL=0
 * turns it off.
 */
export interface RawDeflater {
  /** Which implementation: "isa-l" or "zlib". */
  readonly library: string;
  /** Compress `src`; the result may be a view of a buffer reused by the next call. */
  deflate(src: Uint8Array): Uint8Array;
}

/**
 * struct isal_zstream (igzip_lib.h, ISA-L 2.x): the public fields' offsets on LP64 (checked
 * against the header by test/unit/block-compression.test.ts when libisal-dev is installed). The struct is
 * 82,384 bytes in 2.30 (most of it internal state); STREAM_BYTES leaves room for other 2.x.
 */
export const ISAL_ZSTREAM = {
  next_in: 0,
  avail_in: 8,
  total_in: 12,
  next_out: 16,
  avail_out: 24,
  total_out: 28,
  level: 40,
  level_buf_size: 44,
  level_buf: 48,
  end_of_stream: 56,
  flush: 58,
  gzip_flag: 60,
  hist_bits: 62,
} as const;
export const STREAM_BYTES = 256 << 10;
/** ISAL_DEF_LVL1_DEFAULT: the level buffer level 1 wants. */
export const LEVEL1_BUF_BYTES = 282_624;

class ZlibDeflater implements RawDeflater {
  readonly library = "zlib";
  deflate(src: Uint8Array): Uint8Array {
    // memLevel 9: the same bytes as the default 8, ~10% faster on these blocks.
    return Bun.deflateSync(src as Uint8Array<ArrayBuffer>, { level: 1, memLevel: 9 });
  }
}

class IsalDeflater implements RawDeflater {
  readonly library = "isa-l";
  private readonly stream = new Uint8Array(STREAM_BYTES);
  private readonly view = new DataView(this.stream.buffer);
  private readonly levelBuf = new Uint8Array(LEVEL1_BUF_BYTES);
  private out = new Uint8Array(0);
  private readonly fallback = new ZlibDeflater();

  constructor(private readonly fns: { init: (s: Uint8Array) => void; stateless: (s: Uint8Array) => number }) {}

  deflate(src: Uint8Array): Uint8Array {
    // Room for stored blocks when nothing compresses (5 bytes per 64 KiB) and the header.
    const need = src.length + (src.length >> 4) + 1024;
    if (this.out.length < need) this.out = new Uint8Array(need);
    const s = this.stream;
    const v = this.view;
    const z = ISAL_ZSTREAM;
    this.fns.init(s);
    v.setBigUint64(z.next_in, BigInt(src.length ? ptr(src) : 0), true);
    v.setUint32(z.avail_in, src.length, true);
    v.setBigUint64(z.next_out, BigInt(ptr(this.out)), true);
    v.setUint32(z.avail_out, this.out.length, true);
    v.setUint32(z.level, 1, true);
    v.setUint32(z.level_buf_size, this.levelBuf.length, true);
    v.setBigUint64(z.level_buf, BigInt(ptr(this.levelBuf)), true);
    v.setUint16(z.end_of_stream, 1, true);
    v.setUint16(z.flush, 0, true); // NO_FLUSH
    v.setUint16(z.gzip_flag, 0, true); // IGZIP_DEFLATE: raw, no header or trailer
    v.setUint16(z.hist_bits, 0, true); // the default window (32 KiB)
    const rc = this.fns.stateless(s);
    // Anything but COMP_OK (e.g. STATELESS_OVERFLOW): this block through zlib instead.
    if (rc !== 0 || v.getUint32(z.total_in, true) !== src.length) return this.fallback.deflate(src);
    return this.out.subarray(0, v.getUint32(z.total_out, true));
  }
}

/** A deflater for this thread: ISA-L when it loads (and INGEST_ISAL is not 0), else zlib. */
export function rawDeflater(): RawDeflater {
  if (process.env.INGEST_ISAL === "0") return new ZlibDeflater();
  try {
    const lib = dlopen("libisal.so.2", {
      isal_deflate_stateless_init: { args: [FFIType.ptr], returns: FFIType.void },
      isal_deflate_stateless: { args: [FFIType.ptr], returns: FFIType.i32 },
    });
    return new IsalDeflater({ init: lib.symbols.isal_deflate_stateless_init, stateless: lib.symbols.isal_deflate_stateless });
  } catch (e) {
    log.debug({ err: (e as Error).message }, "ISA-L (libisal.so.2) not loadable: Avro deflate through zlib");
    return new ZlibDeflater();
  }
}
