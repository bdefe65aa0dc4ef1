import avro from "avsc";
import { IngestError } from "../core/errors.ts";

/** The subset of an Avro record schema that CSV rows are converted by. */
export interface AvroField {
  name: string;
  type: unknown;
  default?: unknown;
}
export interface AvroRecordSchema {
  type: "record";
  name: string;
  fields: AvroField[];
}

type Conv = (s: string) => unknown;

const MAX_FIELD_CHARS = 1 << 20;
const INT32 = [-2147483648, 2147483647] as const;
// The longs avsc (and the row encoders, same arithmetic) write exactly: up to 2^53 - 2 (avsc
// throws past it, which ended the run), down to -2^52 (below, the zig-zag value -2n - 1 needs
// 54 bits and a double rounds it: -2^53 + 2 was written as +2^53 - 2). Outside: a reject.
export const LONG_RANGE = [-4503599627370496, 9007199254740990] as const;

function intConv(bits: 32 | 64, logical?: string): { conv: Conv; expected: string } {
  const [min, max] = bits === 32 ? INT32 : LONG_RANGE;
  const what = bits === 32 ? "expected an integer in the int range" : "expected an integer (long, -2^52 <= n <= 2^53 - 2)";
  if (logical === "timestamp-millis" || logical === "timestamp-micros") {
    const scale = logical === "timestamp-micros" ? 1000 : 1;
    return {
      expected: "expected epoch milliseconds or an ISO-8601 timestamp",
      conv: (s) => {
        const n = parseInteger(s, min, max);
        if (n !== BAD_VALUE) return n;
        const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
        if (!ymd) return BAD_VALUE;
        let t = Date.parse(s);
        // Date.parse rolls a day past the month's end over (2023-02-29 is March 1st): refuse it.
        if (Number.isNaN(t) || +ymd[3]! > daysInMonth(+ymd[1]!, +ymd[2]!)) return BAD_VALUE;
        t *= scale;
        // Date.parse keeps milliseconds only: add the fraction's microsecond digits.
        const us = scale === 1000 ? /^[^.]*\d:\d\d\.\d{3}(\d{1,3})/.exec(s) : null;
        if (us) t += Number(us[1]!.padEnd(3, "0"));
        return t < min || t > max ? BAD_VALUE : t;
      },
    };
  }
  return { expected: what, conv: (s) => parseInteger(s, min, max) };
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// Number() also accepts whitespace (Unicode's too), 0x/0b/0o prefixes and "Infinity"; a CSV number does not.
const NOT_DECIMAL = /[^0-9.eE+-]/;

function numberConv(s: string): unknown {
  if (NOT_DECIMAL.test(s)) return BAD_VALUE;
  const n = Number(s);
  return Number.isFinite(n) ? n : BAD_VALUE;
}

/** A float must also fit in 32 bits: past ±3.4e38 Avro would store Infinity. */
function floatConv(s: string): unknown {
  const n = numberConv(s);
  return n === BAD_VALUE || Number.isFinite(Math.fround(n as number)) ? n : BAD_VALUE;
}

const convByType: Record<string, { conv: Conv; expected: string }> = {
  double: { conv: numberConv, expected: "expected a number (double)" },
  float: { conv: floatConv, expected: "expected a number (float)" },
  boolean: {
    expected: "expected a boolean (true/false/1/0)",
    conv: (s) => {
      switch (s.length < 6 ? s.toLowerCase() : "") {
        case "true":
        case "1":
          return true;
        case "false":
        case "0":
          return false;
      }
      return BAD_VALUE;
    },
  },
};

export interface FieldPlan {
  name: string;
  column: number; // -1: not in the CSV, use the default
  nullable: boolean;
  required: boolean;
  fallback: unknown;
  kind: "string" | "enum" | "boolean" | "number";
  conv: Conv;
  expected: string;
}

/** Converts the string fields of a CSV record into a typed record following an Avro schema. */
export class RowConverter {
  readonly plans: FieldPlan[];
  readonly columns: number;
  /** Header columns that no schema field takes (ignored, reported once). */
  readonly ignoredColumns: string[];

  constructor(schema: AvroRecordSchema, header: string[]) {
    if (header.length === 0 || (header.length === 1 && header[0] === "")) throw new IngestError("the CSV has no header row");
    const seen = new Map<string, number>();
    header.forEach((h, i) => {
      const name = h.trim();
      if (seen.has(name)) throw new IngestError(`the CSV header names column '${name}' twice (columns ${seen.get(name)! + 1} and ${i + 1})`);
      seen.set(name, i);
    });
    this.columns = header.length;
    this.plans = schema.fields.map((f) => plan(f, seen.get(f.name) ?? -1));
    const missing = this.plans.filter((p) => p.column < 0 && p.required).map((p) => p.name);
    if (missing.length)
      throw new IngestError(`the CSV header lacks required field(s) ${missing.join(", ")} of schema ${schema.name} (header: ${header.join(",")})`);
    const used = new Set(this.plans.map((p) => p.column));
    this.ignoredColumns = header.filter((_, i) => !used.has(i));
    this.convert = compileConvert(this.plans, this.columns);
  }

  /** The typed record, or (a string) the reason it is rejected. */
  readonly convert: (fields: string[]) => Record<string, unknown> | string;
}

/**
 * Code generation for the per-row hot path: one function per schema with the fields unrolled,
 * so every record gets the same object shape (fast to build, fast to serialize) and no
 * per-field closure or regex runs.
 */
function compileConvert(plans: FieldPlan[], columns: number): RowConverter["convert"] {
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `a${args.length - 1}`;
  };
  const body = validationCode(plans, columns, arg, false);
  body.push(`return { ${plans.map((p, i) => `${JSON.stringify(p.name)}: v${i}`).join(", ")} };`);
  const fn = new Function(...args.map((_, i) => `a${i}`), `return function convert(f) {\n${body.join("\n")}\n};`);
  return fn(...args);
}

/**
 * The checking and typing part of a generated row function (shared by `RowConverter.convert`
 * and the row encoders in src/codecs/row-encoder.ts, so both accept and reject exactly the same
 * rows with the same reasons): for a fields array `f`, it returns the reason string of a bad
 * row, else leaves field i's typed value in local `v{i}`. With `flags`, local `d{i}` is also
 * true when the value is the field's constant (its default, or null for an empty optional
 * field) rather than read from the CSV. `arg(value)` names a constant passed into the function.
 */
export function validationCode(plans: FieldPlan[], columns: number, arg: (v: unknown) => string, flags: boolean): string[] {
  const BAD = arg(BAD_VALUE);
  const body: string[] = [`if (f.length !== ${columns}) return "expected ${columns} columns, found " + f.length;`, "let s;"];
  plans.forEach((p, i) => {
    const name = JSON.stringify(p.name);
    if (p.column < 0) {
      body.push(`const v${i} = ${arg(p.fallback)};`);
      if (flags) body.push(`const d${i} = true;`);
      return;
    }
    body.push(`s = f[${p.column}];`);
    const empty = p.nullable ? "null" : p.fallback !== undefined ? arg(p.fallback) : undefined;
    body.push(`let v${i};`);
    if (flags) body.push(`let d${i} = false;`);
    body.push(
      `if (s === "") ${empty !== undefined ? `{ v${i} = ${empty};${flags ? ` d${i} = true;` : ""} }` : `return "field '" + ${name} + "': missing required value";`}`,
    );
    body.push(
      `else if (s.length > ${MAX_FIELD_CHARS}) return "field '" + ${name} + "': value too large (" + s.length + " characters, at most ${MAX_FIELD_CHARS})";`,
    );
    if (p.kind === "string") body.push(`else v${i} = s;`);
    else {
      body.push(
        `else { v${i} = ${arg(p.conv)}(s); if (v${i} === ${BAD}) return "field '" + ${name} + "': " + ${arg(p.expected)} + ", got '" + (s.length > 40 ? s.slice(0, 40) + "..." : s) + "'"; }`,
      );
    }
  });
  return body;
}

/** Returned by converters for a value that does not convert (never a valid value itself). */
const BAD_VALUE = Symbol("bad");

/** Strict decimal integer: optional sign, digits only; BAD_VALUE otherwise or out of range. */
function parseInteger(s: string, min: number, max: number): number | typeof BAD_VALUE {
  const len = s.length;
  let i = 0;
  let neg = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 45 || c0 === 43) {
    neg = c0 === 45;
    i = 1;
    if (len === 1) return BAD_VALUE;
  }
  if (len - i > 16) return BAD_VALUE;
  let n = 0;
  for (; i < len; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return BAD_VALUE;
    n = n * 10 + d;
  }
  if (neg) n = -n;
  return n < min || n > max ? BAD_VALUE : n;
}

function plan(f: AvroField, column: number): FieldPlan {
  let t = f.type;
  let nullable = false;
  if (Array.isArray(t)) {
    const nonNull = t.filter((x) => x !== "null");
    nullable = nonNull.length < t.length;
    if (nonNull.length !== 1) throw new IngestError(`schema field '${f.name}': only unions of null and one type can be read from CSV`);
    t = nonNull[0];
  }
  const o = (typeof t === "string" ? { type: t } : t) as { type?: string; logicalType?: string; symbols?: string[] } | null;
  let kind: FieldPlan["kind"] = "number";
  let c: { conv: Conv; expected: string };
  if (!o || typeof o.type !== "string") throw new IngestError(`schema field '${f.name}': has no usable type`);
  if (o.type === "string") {
    kind = "string";
    c = { conv: (s) => s, expected: "" };
  } else if (o.type === "int" || o.type === "long") c = intConv(o.type === "int" ? 32 : 64, o.logicalType);
  else if (o.type === "enum" && Array.isArray(o.symbols)) {
    kind = "enum";
    const symbols = new Set(o.symbols);
    c = { expected: `expected one of ${o.symbols.join("|")}`, conv: (s) => (symbols.has(s) ? s : BAD_VALUE) };
  } else if (convByType[o.type]) {
    c = convByType[o.type]!;
    if (o.type === "boolean") kind = "boolean";
  } else throw new IngestError(`schema field '${f.name}': type '${JSON.stringify(f.type)}' cannot be read from CSV`);
  const hasDefault = "default" in f;
  if (o.type === "long" && typeof f.default === "number" && (f.default < LONG_RANGE[0] || f.default > LONG_RANGE[1])) {
    throw new IngestError(`schema field '${f.name}': default ${f.default} is outside the longs written exactly (${LONG_RANGE[0]}..${LONG_RANGE[1]})`);
  }
  return { name: f.name, column, nullable, required: !nullable && !hasDefault, fallback: hasDefault ? f.default : nullable ? null : undefined, kind, ...c };
}

/** Parse and sanity-check an Avro record schema from its JSON text. */
export function parseSchema(text: string, source: string): AvroRecordSchema {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new IngestError(`schema ${source} does not parse: ${(e as Error).message}`);
  }
  const r = s as AvroRecordSchema;
  if (r?.type !== "record" || !Array.isArray(r.fields) || !r.name)
    throw new IngestError(`schema ${source} is not an Avro record schema (needs type "record", name and fields)`);
  // Checked here, before anything is sent: the JSON path alone never asks avsc, and wrote a
  // default of the wrong type ("abc" for an int) as it is.
  try {
    avro.Type.forSchema(r as avro.Schema);
  } catch (e) {
    // Name the field: the first one whose prefix of the fields avsc refuses.
    const k = r.fields.findIndex((_, i) => {
      try {
        avro.Type.forSchema({ ...r, fields: r.fields.slice(0, i + 1) } as avro.Schema);
        return false;
      } catch {
        return true;
      }
    });
    throw new IngestError(`schema ${source} is not valid Avro${k >= 0 ? ` (field '${r.fields[k]!.name}')` : ""}: ${(e as Error).message}`);
  }
  return r;
}
