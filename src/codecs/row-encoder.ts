import avro from "avsc";
import { LONG_RANGE, validationCode, type AvroRecordSchema, type RowConverter } from "../csv/schema-rows.ts";

/**
 * Where a row encoder writes bytes: at `buf[pos..]`, advancing `pos`; `reserve(n)` makes room
 * for `n` more bytes (it may replace `buf`, keeping what was written before `pos`).
 */
export interface ByteSink {
  buf: Uint8Array;
  pos: number;
  reserve(n: number): void;
}

/** A growable byte sink over its own buffer. */
export class BufferSink implements ByteSink {
  buf: Uint8Array;
  pos = 0;
  constructor(bytes = 64 << 10) {
    this.buf = new Uint8Array(bytes);
  }
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

/**
 * Encodes the fields of one CSV record: returns the reject reason (nothing written), or null
 * when the row was written: its key (UTF-8 of `String(value)` of the key field) to `keySink`
 * with its length in `out.keyLen` (-1: null key), its JSON text to `jsonSink`, its Avro binary
 * encoding to `avroSink` (each only when the encoder was compiled for it).
 */
export type RowEncodeFn = (
  fields: string[],
  out: { keyLen: number },
  keySink: ByteSink | null,
  jsonSink: ByteSink | null,
  avroSink: ByteSink | null,
) => string | null;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const utf8 = new TextEncoder();

/**
 * A string as JSON text in UTF-8: quoted, and byte-identical to JSON.stringify's (a string with
 * a character to escape, or any surrogate, is left to JSON.stringify). Needs 2 + 6 * s.length bytes.
 */
function writeJsonString(b: Uint8Array, p: number, s: string): number {
  const start = p;
  b[p++] = 34;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c < 32 || c === 34 || c === 92) return start + utf8.encodeInto(JSON.stringify(s), b.subarray(start)).written;
      b[p++] = c;
    } else if (c < 0x800) {
      b[p++] = (c >> 6) | 0xc0;
      b[p++] = (c & 0x3f) | 0x80;
    } else if ((c & 0xf800) === 0xd800) return start + utf8.encodeInto(JSON.stringify(s), b.subarray(start)).written;
    else {
      b[p++] = (c >> 12) | 0xe0;
      b[p++] = ((c >> 6) & 0x3f) | 0x80;
      b[p++] = (c & 0x3f) | 0x80;
    }
  }
  b[p++] = 34;
  return p;
}

/** ASCII text (number digits) as bytes. */
function writeAscii(b: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
}

function writeBytes(b: Uint8Array, p: number, x: Uint8Array): number {
  for (let i = 0; i < x.length; i++) b[p++] = x[i]!;
  return p;
}

/**
 * Whether `s` (already accepted as an integer) is written exactly as JS writes the number:
 * digits only, no sign but a minus, no leading zero. Then it is the number's text as it is.
 */
export function canonicalInteger(s: string): boolean {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  if (c === 45) {
    if (n === 1) return false;
    c = s.charCodeAt(++i);
  }
  if (!(c >= 49 && c <= 57)) return n === 1 && c === 48;
  for (i++; i < n; i++) {
    c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Whether the decimal text `s` is exactly what JS's Number-to-string gives for Number(s):
 * plain notation, at most 15 significant digits (so the double round-trips to the same digits),
 * no leading zeros, no trailing zeros after the point, not -0, and not below 1e-6 (where JS
 * switches to exponent notation). False is always safe: the caller then formats the number.
 */
export function canonicalDecimal(s: string): boolean {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  if (c === 45) {
    if (n === 1) return false;
    c = s.charCodeAt(++i);
  }
  let digits = 0;
  if (c === 48) {
    if (++i === n) return n === 1; // "0", not "-0"
    if (s.charCodeAt(i) !== 46) return false;
    let zeros = 0;
    for (i++; i < n && s.charCodeAt(i) === 48; i++) zeros++;
    if (zeros > 5) return false;
  } else if (!(c >= 49 && c <= 57)) return false;
  else {
    for (; i < n; i++) {
      c = s.charCodeAt(i);
      if (c === 46) break;
      if (c < 48 || c > 57) return false;
      digits++;
    }
    if (i === n) return digits <= 15;
    i++; // the point
  }
  const fracStart = i;
  for (; i < n; i++) {
    c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    digits++;
  }
  return i > fracStart && digits <= 15 && s.charCodeAt(n - 1) !== 48;
}

/**
 * Avro string: zig-zag length then UTF-8, as avsc writes it (for well-formed text; a lone
 * surrogate, which decoded UTF-8 input never holds, becomes U+FFFD as in TextEncoder).
 * Needs 5 + 3 * s.length bytes of room.
 */
function writeString(b: Uint8Array, p: number, s: string): number {
  if (s.length >= 64) return writeLongString(b, p, s);
  // Write after a 1-byte length; move it if the UTF-8 turned out to need a 2-byte one.
  const q = writeUtf8(b, p + 1, s);
  const len = q - p - 1;
  if (len < 64) {
    b[p] = len << 1;
    return q;
  }
  b.copyWithin(p + 2, p + 1, q); // len < 192: a 2-byte varint
  b[p] = ((len << 1) & 0x7f) | 0x80;
  b[p + 1] = len >> 6;
  return q + 1;
}

/** UTF-8 of `s` at b[p..] (a lone surrogate becomes U+FFFD, as in TextEncoder); needs 3 * s.length bytes. */
function writeUtf8(b: Uint8Array, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) b[p++] = c;
    else if (c < 0x800) {
      b[p++] = (c >> 6) | 0xc0;
      b[p++] = (c & 0x3f) | 0x80;
    } else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c & 0x03ff) << 10) + (s.charCodeAt(++i) & 0x03ff);
      b[p++] = (c >> 18) | 0xf0;
      b[p++] = ((c >> 12) & 0x3f) | 0x80;
      b[p++] = ((c >> 6) & 0x3f) | 0x80;
      b[p++] = (c & 0x3f) | 0x80;
    } else {
      if ((c & 0xf800) === 0xd800) c = 0xfffd;
      b[p++] = (c >> 12) | 0xe0;
      b[p++] = ((c >> 6) & 0x3f) | 0x80;
      b[p++] = (c & 0x3f) | 0x80;
    }
  }
  return p;
}

function writeLongString(b: Uint8Array, p: number, s: string): number {
  // Encode after the longest length prefix it can need, then move it behind the real one.
  const room = varintSize(3 * s.length * 2);
  const len = utf8.encodeInto(s, b.subarray(p + room)).written;
  const start = p + room;
  p = writeLong(b, p, len);
  if (p !== start) b.copyWithin(p, start, start + len);
  return p + len;
}

function varintSize(z: number): number {
  let k = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    k++;
  }
  return k;
}

/** Avro long/int (zig-zag varint), the same arithmetic as avsc's Tap.writeLong. */
function writeLong(b: Uint8Array, p: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    do {
      b[p] = m & 0x7f;
      m >>= 7;
    } while (m && (b[p++] |= 0x80));
  } else {
    let f = n >= 0 ? n * 2 : -n * 2 - 1;
    do {
      b[p] = f & 0x7f;
      f /= 128;
    } while (f >= 1 && (b[p++] |= 0x80));
  }
  return p + 1;
}

function writeDouble(b: Uint8Array, p: number, d: number): number {
  f64[0] = d;
  b[p] = f64b[0]!;
  b[p + 1] = f64b[1]!;
  b[p + 2] = f64b[2]!;
  b[p + 3] = f64b[3]!;
  b[p + 4] = f64b[4]!;
  b[p + 5] = f64b[5]!;
  b[p + 6] = f64b[6]!;
  b[p + 7] = f64b[7]!;
  return p + 8;
}

function writeFloat(b: Uint8Array, p: number, d: number): number {
  f32[0] = d;
  b[p] = f32b[0]!;
  b[p + 1] = f32b[1]!;
  b[p + 2] = f32b[2]!;
  b[p + 3] = f32b[3]!;
  return p + 4;
}

export interface RowEncoderOptions {
  /** Write the Kafka key (the value of this field) to keySink; null: no key. */
  key: string | null;
  json: boolean;
  avro: boolean;
  /**
   * Bytes written before each row's Avro datum, in the Avro sink: the schema registry's wire
   * header when that sink is the Kafka batch itself (no copy of the datum afterwards).
   */
  avroPrefix?: Uint8Array | null;
}

/** Generated code that writes constant bytes at b[p..] (unrolled: no loop, no lookups). */
function literal(bytes: Uint8Array): string {
  if (bytes.length === 0) return "";
  return `${Array.from(bytes, (x, k) => `b[p${k ? ` + ${k}` : ""}] = ${x};`).join(" ")} p += ${bytes.length};`;
}

/** The values generated code closes over (a0, a1, ...): arg(v) adds one and names it. */
function argList(): { args: unknown[]; arg: (v: unknown) => string } {
  const args: unknown[] = [];
  return {
    args,
    arg: (v) => {
      args.push(v);
      return `a${args.length - 1}`;
    },
  };
}

/** A field's type without its null branch: the type, the union index of the value (-1: no union), its base name. */
function fieldType(type: unknown): { t: unknown; valueIndex: number; base: string } {
  let t = type;
  let valueIndex = -1;
  if (Array.isArray(t)) {
    valueIndex = t.findIndex((x) => x !== "null");
    t = t[valueIndex];
  }
  return { t, valueIndex, base: typeof t === "string" ? t : (t as { type: string }).type };
}

/** One field's contribution to a generated row encoder (code strings, see OutputCode). */
interface FieldOutput {
  /** Key code when the field is --key: writes its text at `p` in `b` (ks reserved and loaded). */
  key?: string;
  /** JSON value code writing at `p` in `b`, and a bound on its bytes (an expression). */
  json?: { live: string; bound: string };
  /** Avro code for the value (after the union index), its fixed bytes and a variable bound ("" for none). */
  avro?: { w: string[]; fixed: number; bound: string };
}

/**
 * The key, JSON and Avro code of a generated row encoder, gathered field by field: what both
 * generators (string fields, byte ranges) share. A field's constant (its default, or null for
 * an empty optional field; flag variable d{i}) is written as precomputed bytes.
 */
class OutputCode {
  private readonly keyLines: string[] = [];
  private readonly jsonLines: string[] = [];
  private readonly jsonBound: string[] = [];
  private jsonFixed = 1; // the closing brace
  private readonly avroLines: string[] = [];
  private readonly avroBound: string[] = [];
  private avroFixed = 0;
  private readonly WB: string;

  constructor(
    private readonly o: RowEncoderOptions,
    private readonly recordType: avro.types.RecordType | null,
    private readonly arg: (v: unknown) => string,
  ) {
    this.WB = arg(writeBytes);
  }

  /** Add field i; false when its constant cannot be Avro-encoded (do not specialise then). */
  field(i: number, name: string, valueIndex: number, constValue: unknown, out: FieldOutput): boolean {
    const d = `d${i}`;
    const hasConst = constValue !== undefined;
    const ifConst = (a: string, b: string) => (hasConst ? `if (${d}) { ${a} } else { ${b} }` : b);
    const { WB, arg } = this;
    if (out.key !== undefined) {
      const constKey = constValue === null || constValue === undefined ? null : utf8.encode(String(constValue));
      const constCase =
        constKey === null
          ? "out.keyLen = -1;"
          : `ks.reserve(${constKey.length}); b = ks.buf; p = ks.pos; p = ${WB}(b, p, ${arg(constKey)}); out.keyLen = p - ks.pos; ks.pos = p;`;
      this.keyLines.push(ifConst(constCase, `${out.key} out.keyLen = p - ks.pos; ks.pos = p;`));
    }
    if (out.json) {
      this.jsonLines.push(literal(utf8.encode(`${i === 0 ? "{" : ","}"${name}":`)));
      this.jsonFixed += utf8.encode(`,"${name}":`).length;
      if (hasConst) {
        const cj = utf8.encode(JSON.stringify(constValue));
        this.jsonLines.push(ifConst(literal(cj), out.json.live));
        this.jsonBound.push(`(${d} ? ${cj.length} : ${out.json.bound})`);
      } else {
        this.jsonLines.push(out.json.live);
        this.jsonBound.push(out.json.bound);
      }
    }
    if (this.recordType && out.avro) {
      const w = valueIndex >= 0 ? [`b[p++] = ${valueIndex * 2};`, ...out.avro.w] : out.avro.w;
      const fixed = out.avro.fixed + (valueIndex >= 0 ? 1 : 0);
      const bound = out.avro.bound;
      if (hasConst) {
        let ca: Uint8Array;
        try {
          ca = new Uint8Array(this.recordType.fields[i]!.type.toBuffer(constValue));
        } catch {
          return false; // avsc refuses the default on every such row: keep the old path and its error
        }
        this.avroLines.push(ifConst(literal(ca), w.join(" ")));
        this.avroFixed += Math.max(fixed, ca.length);
        if (bound) this.avroBound.push(`(${d} ? 0 : ${bound})`);
      } else {
        this.avroLines.push(...w);
        this.avroFixed += fixed;
        if (bound) this.avroBound.push(bound);
      }
    }
    return true;
  }

  /** Append the writing code to `body` (which declared b and p): key, then JSON, then Avro. */
  finish(body: string[], names: string[]): void {
    const o = this.o;
    if (o.key === null || !names.includes(o.key)) body.push("out.keyLen = -1;");
    else body.push(...this.keyLines);
    if (o.json)
      body.push(
        `js.reserve(${[this.jsonFixed, ...this.jsonBound].join(" + ")});`,
        "b = js.buf; p = js.pos;",
        ...this.jsonLines,
        "b[p++] = 125;",
        "js.pos = p;",
      );
    const prefix = o.avroPrefix ?? new Uint8Array(0);
    if (this.recordType)
      body.push(
        `as.reserve(${[this.avroFixed + prefix.length, ...this.avroBound].join(" + ")});`,
        "b = as.buf; p = as.pos;",
        literal(prefix),
        ...this.avroLines,
        "as.pos = p;",
      );
  }
}

/**
 * A row encoder specialised to the schema (generated code, fields unrolled). It checks and
 * types the CSV fields with the same generated checking code as `RowConverter.convert` (same
 * rejects, same reasons), then writes, with no record object in between: the key; the JSON
 * text as UTF-8, byte-identical to `JSON.stringify(convert(fields))` (number fields whose CSV
 * text is already the number's JS text are copied as they are); the Avro binary encoding,
 * byte-identical to avsc's. Returns null when the schema has something it does not specialise
 * (the caller then converts to objects and uses JSON.stringify and avsc as before).
 */
export function compileRowEncoder(schema: AvroRecordSchema, conv: RowConverter, o: RowEncoderOptions): RowEncodeFn | null {
  if (!LITTLE_ENDIAN) return null;
  const plans = conv.plans;
  const names = plans.map((p) => p.name);
  // The JSON text must have the keys, in the order, that the converter's object literal gets.
  if (new Set(names).size !== names.length || names.some((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) || n === "__proto__")) return null;
  let recordType: avro.types.RecordType | null = null;
  if (o.avro) {
    try {
      recordType = avro.Type.forSchema(schema as avro.Schema) as avro.types.RecordType;
    } catch {
      return null;
    }
  }
  const { args, arg } = argList();
  const body = validationCode(plans, conv.columns, arg, true);
  const [WS, WL, WD, WF, WJ, WA, WB, WU, CI, CD] = [
    writeString,
    writeLong,
    writeDouble,
    writeFloat,
    writeJsonString,
    writeAscii,
    writeBytes,
    writeUtf8,
    canonicalInteger,
    canonicalDecimal,
  ].map(arg);
  const code = new OutputCode(o, recordType, arg);
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!;
    const { t, valueIndex, base } = fieldType(schema.fields[i]!.type);
    const v = `v${i}`;
    const d = `d${i}`;
    // The field's constant (its default, or null for an empty optional field).
    const constValue = p.column < 0 ? p.fallback : p.nullable ? null : p.fallback;
    const hasConst = constValue !== undefined;
    // Number fields: their JSON/key text t{i}, the CSV text itself when it is canonical.
    const isNumber = p.kind === "number";
    if (isNumber && (o.json || o.key === p.name)) {
      const canon = base === "double" || base === "float" ? CD : CI;
      body.push(`let t${i} = "";`);
      const src = `f[${p.column}]`;
      body.push(hasConst ? `if (!${d}) t${i} = ${canon}(${src}) ? ${src} : "" + ${v};` : `t${i} = ${canon}(${src}) ? ${src} : "" + ${v};`);
    }
    const out: FieldOutput = {};
    if (o.key === p.name) {
      out.key =
        p.kind === "string" || p.kind === "enum"
          ? `ks.reserve(3 * ${v}.length); b = ks.buf; p = ks.pos; p = ${WU}(b, p, ${v});`
          : isNumber
            ? `ks.reserve(t${i}.length); b = ks.buf; p = ks.pos; p = ${WA}(b, p, t${i});`
            : `ks.reserve(5); b = ks.buf; p = ks.pos; p = ${WB}(b, p, ${v} ? ${arg(utf8.encode("true"))} : ${arg(utf8.encode("false"))});`;
    }
    if (o.json) {
      if (p.kind === "string") out.json = { live: `p = ${WJ}(b, p, ${v});`, bound: `6 * ${v}.length + 2` };
      else if (p.kind === "enum") {
        const symbols = (t as { symbols: string[] }).symbols;
        out.json = { live: `p = ${WJ}(b, p, ${v});`, bound: `${6 * Math.max(...symbols.map((x) => x.length)) + 2}` };
      } else if (p.kind === "boolean")
        out.json = { live: `if (${v}) { ${literal(utf8.encode("true"))} } else { ${literal(utf8.encode("false"))} }`, bound: "5" };
      else out.json = { live: `p = ${WA}(b, p, t${i});`, bound: `t${i}.length` };
    }
    if (recordType) {
      if (p.kind === "string") out.avro = { w: [`p = ${WS}(b, p, ${v});`], fixed: 5, bound: `3 * ${v}.length` };
      else if (p.kind === "enum") {
        const symbols = (t as { symbols: string[] }).symbols;
        out.avro = { w: [`p = ${WL}(b, p, ${arg(new Map(symbols.map((x, k) => [x, k])))}.get(${v}));`], fixed: 10, bound: "" };
      } else if (p.kind === "boolean") out.avro = { w: [`b[p++] = ${v} ? 1 : 0;`], fixed: 1, bound: "" };
      else if (base === "double") out.avro = { w: [`p = ${WD}(b, p, ${v});`], fixed: 8, bound: "" };
      else if (base === "float") out.avro = { w: [`p = ${WF}(b, p, ${v});`], fixed: 4, bound: "" };
      else if (base === "int" || base === "long") {
        // Outside avsc's range (int: 32 bits; long: |n| <= 2^53 - 2) avsc throws: let it, with its own error.
        const ok = base === "int" ? `${v} === (${v} | 0)` : `${v} >= -9007199254740990 && ${v} <= 9007199254740990`;
        out.avro = { w: [`if (!(${ok})) ${arg(recordType.fields[i]!.type)}.toBuffer(${v});`, `p = ${WL}(b, p, ${v});`], fixed: 10, bound: "" };
      } else return null;
    }
    if (!code.field(i, p.name, valueIndex, constValue, out)) return null;
  }
  body.push("let b, p;");
  code.finish(body, names);
  body.push("return null;");
  const fn = new Function(...args.map((_, i) => `a${i}`), `return function encodeRow(f, out, ks, js, as) {\n${body.join("\n")}\n};`);
  return fn(...args) as RowEncodeFn;
}

// ---------------------------------------------------------------------------------------------
// The byte-level fast path: the same key, JSON and Avro bytes as `compileRowEncoder`, written
// from the byte ranges of the CSV fields (src/csv/fast-reader.ts) without making strings.

/**
 * Encodes one CSV line whose fields are byte ranges of `src` (field k: src[fs[k]..fe[k]), valid
 * UTF-8; esc[k] 1 when it holds a control character or a backslash). Returns true when the row
 * was accepted and written exactly as `RowEncodeFn` writes it for the decoded fields; false,
 * with nothing written, when it is not sure (every rejected row among them): the caller then
 * sends the line through the reference path.
 */
export type FastRowEncodeFn = (
  src: Uint8Array,
  fs: Int32Array,
  fe: Int32Array,
  esc: Uint8Array,
  out: { keyLen: number },
  keySink: ByteSink | null,
  jsonSink: ByteSink | null,
  avroSink: ByteSink | null,
) => boolean;

/** The schema's field bound, as validationCode checks it (UTF-16 units; a byte count bounds them). */
const FAST_MAX_FIELD_BYTES = 1 << 20;

/** Strict decimal integer of src[s..e) as parseInteger in schema-rows.ts; NaN where it gives BAD_VALUE. */
function parseIntBytes(src: Uint8Array, s: number, e: number, min: number, max: number): number {
  let i = s;
  let neg = false;
  const c0 = src[s]!;
  if (c0 === 45 || c0 === 43) {
    neg = c0 === 45;
    i++;
    if (e - s === 1) return NaN;
  }
  if (e - i > 16) return NaN;
  let n = 0;
  for (; i < e; i++) {
    const d = src[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  if (neg) n = -n;
  return n < min || n > max ? NaN : n;
}

/** `canonicalInteger` over bytes. */
function canonicalIntBytes(src: Uint8Array, s: number, e: number): boolean {
  let i = s;
  let c = src[i]!;
  if (c === 45) {
    if (e - s === 1) return false;
    c = src[++i]!;
  }
  if (!(c >= 49 && c <= 57)) return e - s === 1 && c === 48;
  for (i++; i < e; i++) {
    c = src[i]!;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The number of src[s..e) when `canonicalDecimal` holds for its text (which then is the number's
 * JS text as it is), else NaN. Such text has at most 15 significant digits and at most 20
 * fraction digits, so digits / 10^fraction (both exact doubles) is one correctly rounded
 * division: exactly Number(text).
 */
export function canonicalDecimalBytes(src: Uint8Array, s: number, e: number): number {
  let i = s;
  let c = src[i]!;
  let neg = false;
  if (c === 45) {
    if (e - s === 1) return NaN;
    neg = true;
    c = src[++i]!;
  }
  let digits = 0;
  let m = 0;
  let frac = 0;
  if (c === 48) {
    if (++i === e) return neg ? NaN : 0; // "0", not "-0"
    if (src[i] !== 46) return NaN;
    let zeros = 0;
    for (i++; i < e && src[i] === 48; i++) zeros++;
    if (zeros > 5) return NaN;
    frac = zeros;
  } else if (!(c >= 49 && c <= 57)) return NaN;
  else {
    for (; i < e; i++) {
      c = src[i]!;
      if (c === 46) break;
      if (c < 48 || c > 57) return NaN;
      m = m * 10 + (c - 48);
      digits++;
    }
    if (i === e) return digits <= 15 ? (neg ? -m : m) : NaN;
    i++; // the point
  }
  const fracStart = i;
  for (; i < e; i++) {
    c = src[i]!;
    if (c < 48 || c > 57) return NaN;
    m = m * 10 + (c - 48);
    digits++;
    frac++;
  }
  if (!(i > fracStart && digits <= 15 && src[e - 1] !== 48)) return NaN;
  const v = m / POW10[frac]!;
  return neg ? -v : v;
}

/** src[s..e) as a string when it is all ASCII without a quote (doubled quotes: not sure), else null. */
function asciiString(src: Uint8Array, s: number, e: number): string | null {
  let out = "";
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (c >= 0x80 || c === 34) return null;
    out += String.fromCharCode(c);
  }
  return out;
}

/** The boolean converter over bytes: 1 true, 0 false, -1 anything else (or not ASCII: not sure). */
function boolBytes(src: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n === 1) {
    const c = src[s];
    return c === 49 ? 1 : c === 48 ? 0 : -1;
  }
  if (n === 4) return (src[s]! | 32) === 116 && (src[s + 1]! | 32) === 114 && (src[s + 2]! | 32) === 117 && (src[s + 3]! | 32) === 101 ? 1 : -1;
  if (n === 5)
    return (src[s]! | 32) === 102 && (src[s + 1]! | 32) === 97 && (src[s + 2]! | 32) === 108 && (src[s + 3]! | 32) === 115 && (src[s + 4]! | 32) === 101
      ? 0
      : -1;
  return -1;
}

function copyBytes(b: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number {
  if (e - s > 64) {
    b.set(src.subarray(s, e), p);
    return p + e - s;
  }
  for (let i = s; i < e; i++) b[p++] = src[i]!;
  return p;
}

const HEX = "0123456789abcdef";

/**
 * src[s..e) (valid UTF-8; with `esc` 2, its quotes doubled) as a JSON string, escaped as
 * JSON.stringify escapes; needs 6 * (e - s) + 2 bytes.
 */
function writeJsonBytes(b: Uint8Array, p: number, src: Uint8Array, s: number, e: number, esc: number): number {
  b[p++] = 34;
  if (esc === 0) p = copyBytes(b, p, src, s, e);
  else {
    for (let i = s; i < e; i++) {
      const c = src[i]!;
      if (c >= 32 && c !== 34 && c !== 92) b[p++] = c;
      else {
        b[p++] = 92;
        switch (c) {
          case 34:
            b[p++] = c;
            i++; // the pair's second quote
            break;
          case 92:
            b[p++] = c;
            break;
          case 8:
            b[p++] = 98;
            break;
          case 9:
            b[p++] = 116;
            break;
          case 10:
            b[p++] = 110;
            break;
          case 12:
            b[p++] = 102;
            break;
          case 13:
            b[p++] = 114;
            break;
          default:
            b[p++] = 117;
            b[p++] = 48;
            b[p++] = 48;
            b[p++] = HEX.charCodeAt(c >> 4);
            b[p++] = HEX.charCodeAt(c & 15);
        }
      }
    }
  }
  b[p++] = 34;
  return p;
}

/** Avro string from UTF-8 bytes (with `esc` 2, quotes doubled): zig-zag length, then the bytes. Needs 5 + (e - s) bytes. */
function writeAvroBytes(b: Uint8Array, p: number, src: Uint8Array, s: number, e: number, esc: number): number {
  if (esc & 2) {
    let len = e - s;
    for (let i = s; i < e; i++) if (src[i] === 34) len--, i++;
    p = writeLong(b, p, len);
    return copyUnquoted(b, p, src, s, e);
  }
  const len = e - s;
  if (len < 64) b[p++] = len << 1;
  else p = writeLong(b, p, len);
  return copyBytes(b, p, src, s, e);
}

/** src[s..e) with each doubled quote written once. */
function copyUnquoted(b: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number {
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    b[p++] = c;
    if (c === 34) i++;
  }
  return p;
}

/** The key bytes of a string field. */
function writeKeyBytes(b: Uint8Array, p: number, src: Uint8Array, s: number, e: number, esc: number): number {
  return esc & 2 ? copyUnquoted(b, p, src, s, e) : copyBytes(b, p, src, s, e);
}

/**
 * The fast-path twin of `compileRowEncoder` for the same schema, converter and options (null
 * where that one is null, or for something this one does not specialise). Values are checked
 * and converted as `validationCode` does; any row it would reject, and any value this code is
 * not sure of (a number or boolean with non-ASCII text, a field over 1 MiB, a long avsc would
 * refuse), makes it return false.
 */
export function compileFastRowEncoder(schema: AvroRecordSchema, conv: RowConverter, o: RowEncoderOptions): FastRowEncodeFn | null {
  if (!LITTLE_ENDIAN) return null;
  if (!compileRowEncoder(schema, conv, o)) return null;
  const plans = conv.plans;
  const names = plans.map((p) => p.name);
  let recordType: avro.types.RecordType | null = null;
  if (o.avro) recordType = avro.Type.forSchema(schema as avro.Schema) as avro.types.RecordType;
  const { args, arg } = argList();
  const [PI, CIB, ASC, BOOL, CB, WJB, WAB, WL, WD, WF, WA, WB, WK] = [
    parseIntBytes,
    canonicalIntBytes,
    asciiString,
    boolBytes,
    copyBytes,
    writeJsonBytes,
    writeAvroBytes,
    writeLong,
    writeDouble,
    writeFloat,
    writeAscii,
    writeBytes,
    writeKeyBytes,
  ].map(arg);
  const body: string[] = ["let b, p;"];
  const code = new OutputCode(o, recordType, arg);
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i]!;
    const { t, valueIndex, base } = fieldType(schema.fields[i]!.type);
    const logical = typeof t === "object" && t !== null ? (t as { logicalType?: string }).logicalType : undefined;
    const v = `v${i}`;
    const d = `d${i}`;
    const S = `S${i}`;
    const E = `E${i}`;
    const constValue = p.column < 0 ? p.fallback : p.nullable ? null : p.fallback;
    const hasConst = constValue !== undefined;
    const isNumber = p.kind === "number";
    const isDecimal = base === "double" || base === "float";
    // Number text for JSON and key: the CSV bytes when canonical (c{i}), else the string t{i}.
    const needText = isNumber && (o.json || o.key === p.name);
    body.push(`let ${v}, ${d} = false, ${S} = 0, ${E} = 0;`);
    if (needText) body.push(`let c${i} = false, t${i} = "";`);
    if (p.column < 0) {
      body.push(`${d} = true;`);
    } else {
      body.push(`${S} = fs[${p.column}]; ${E} = fe[${p.column}];`);
      body.push(`if (${S} === ${E}) ${hasConst ? `${d} = true;` : "return false;"}`);
      body.push(`else if (${E} - ${S} > ${FAST_MAX_FIELD_BYTES}) return false;`);
      if (p.kind === "string") {
        // The bytes themselves.
      } else if (p.kind === "enum") {
        const symbols = (t as { symbols: string[] }).symbols;
        const maxLen = Math.max(...symbols.map((x) => utf8.encode(x).length));
        body.push(
          `else { if (${E} - ${S} > ${maxLen}) return false; const s = ${ASC}(src, ${S}, ${E}); ${v} = s === null ? undefined : ${arg(new Map(symbols.map((x, k) => [x, k])))}.get(s); if (${v} === undefined) return false; }`,
        );
      } else if (p.kind === "boolean") {
        body.push(`else { ${v} = ${BOOL}(src, ${S}, ${E}); if (${v} < 0) return false; }`);
      } else if (base === "int" || base === "long") {
        const [min, max] = base === "int" ? [-2147483648, 2147483647] : LONG_RANGE;
        const ts = logical === "timestamp-millis" || logical === "timestamp-micros";
        const strPath = ts
          ? `{ const s = ${ASC}(src, ${S}, ${E}); if (s === null) return false; ${v} = ${arg(p.conv)}(s); if (typeof ${v} !== "number") return false;${needText ? ` t${i} = "" + ${v};` : ""} }`
          : "return false;";
        body.push(
          `else { ${v} = ${PI}(src, ${S}, ${E}, ${min}, ${max}); if (${v} !== ${v}) ${strPath}${needText ? ` else if (${CIB}(src, ${S}, ${E})) c${i} = true; else t${i} = "" + ${v};` : ""} }`,
        );
        if (recordType) {
          const ok = base === "int" ? `${v} === (${v} | 0)` : `${v} >= -9007199254740990 && ${v} <= 9007199254740990`;
          body.push(`if (!${d} && !(${ok})) return false;`);
        }
      } else if (isDecimal) {
        // Canonical text (the common case) is converted from the bytes, else through the string.
        body.push(
          `else { ${v} = ${arg(canonicalDecimalBytes)}(src, ${S}, ${E}); if (${v} === ${v}) ${needText ? `c${i} = true;` : "{}"} else { const s = ${ASC}(src, ${S}, ${E}); if (s === null) return false; ${v} = ${arg(p.conv)}(s); if (typeof ${v} !== "number") return false;${needText ? ` t${i} = ${arg(canonicalDecimal)}(s) ? s : "" + ${v};` : ""} } }`,
        );
      } else return null;
    }
    // The field's text as a key or JSON value, when it is not a constant.
    const numText = (sink: string) =>
      `if (c${i}) { ${sink}.reserve(${E} - ${S}); b = ${sink}.buf; p = ${sink}.pos; p = ${CB}(b, p, src, ${S}, ${E}); } else { ${sink}.reserve(t${i}.length); b = ${sink}.buf; p = ${sink}.pos; p = ${WA}(b, p, t${i}); }`;
    const out: FieldOutput = {};
    if (o.key === p.name) {
      if (p.kind === "string") out.key = `ks.reserve(${E} - ${S}); b = ks.buf; p = ks.pos; p = ${WK}(b, p, src, ${S}, ${E}, esc[${p.column}]);`;
      else if (p.kind === "enum") out.key = `ks.reserve(${E} - ${S}); b = ks.buf; p = ks.pos; p = ${CB}(b, p, src, ${S}, ${E});`;
      else if (isNumber) out.key = numText("ks");
      else out.key = `ks.reserve(5); b = ks.buf; p = ks.pos; p = ${WB}(b, p, ${v} ? ${arg(utf8.encode("true"))} : ${arg(utf8.encode("false"))});`;
    }
    if (o.json) {
      if (p.kind === "string") out.json = { live: `p = ${WJB}(b, p, src, ${S}, ${E}, esc[${p.column}]);`, bound: `6 * (${E} - ${S}) + 2` };
      else if (p.kind === "enum") out.json = { live: `b[p++] = 34; p = ${CB}(b, p, src, ${S}, ${E}); b[p++] = 34;`, bound: `(${E} - ${S}) + 2` };
      else if (p.kind === "boolean") out.json = { live: `if (${v}) { ${literal(utf8.encode("true"))} } else { ${literal(utf8.encode("false"))} }`, bound: "5" };
      else out.json = { live: `if (c${i}) p = ${CB}(b, p, src, ${S}, ${E}); else p = ${WA}(b, p, t${i});`, bound: `(c${i} ? ${E} - ${S} : t${i}.length)` };
    }
    if (recordType) {
      if (p.kind === "string") out.avro = { w: [`p = ${WAB}(b, p, src, ${S}, ${E}, esc[${p.column}]);`], fixed: 5, bound: `(${E} - ${S})` };
      else if (p.kind === "enum") out.avro = { w: [`p = ${WL}(b, p, ${v});`], fixed: 10, bound: "" };
      else if (p.kind === "boolean") out.avro = { w: [`b[p++] = ${v} ? 1 : 0;`], fixed: 1, bound: "" };
      else if (base === "double") out.avro = { w: [`p = ${WD}(b, p, ${v});`], fixed: 8, bound: "" };
      else if (base === "float") out.avro = { w: [`p = ${WF}(b, p, ${v});`], fixed: 4, bound: "" };
      else if (base === "int" || base === "long") out.avro = { w: [`p = ${WL}(b, p, ${v});`], fixed: 10, bound: "" };
      else return null;
    }
    if (!code.field(i, p.name, valueIndex, constValue, out)) return null;
  }
  code.finish(body, names);
  body.push("return true;");
  const fn = new Function(...args.map((_, i) => `a${i}`), `return function encodeFastRow(src, fs, fe, esc, out, ks, js, as) {\n${body.join("\n")}\n};`);
  return fn(...args) as FastRowEncodeFn;
}
