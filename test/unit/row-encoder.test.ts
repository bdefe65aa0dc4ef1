import { test, expect, describe } from "bun:test";
import avro from "avsc";
import { RowConverter, parseSchema, type AvroRecordSchema } from "../../src/csv/schema-rows.ts";
import { compileRowEncoder, BufferSink, canonicalDecimal, canonicalInteger, type RowEncodeFn } from "../../src/codecs/row-encoder.ts";
import { rng } from "../../src/gen/random.ts";
import usersSchema from "../../data/users.avsc" with { type: "text" };
import { WIDE_SCHEMA } from "../helpers/schemas.ts";

const te = new TextEncoder();

const wide: AvroRecordSchema = WIDE_SCHEMA;
const wideHeader = ["id", "name", "n", "x", "f", "ok", "color", "ts", "note", "maybe", "label"];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const TEXT = [
  "",
  "a",
  "Ann",
  "Tomás",
  "İstanbul",
  "中文",
  "😀",
  'q"uote',
  "back\\slash",
  "tab\t",
  "nl\n",
  "cr\r",
  "ctl\u0001",
  "del\u007f",
  "\u2028",
  "é".repeat(40),
  "x".repeat(70),
  "ü".repeat(70),
  "a,b",
  " sp ",
];
const INTS = [
  "0",
  "-0",
  "7",
  "+7",
  "007",
  "-1",
  "2147483647",
  "-2147483648",
  "2147483648",
  "1e3",
  "12x",
  "",
  "9007199254740990",
  "-9007199254740990",
  "123456789012345",
  "4294967296",
];
const NUMS = [
  "0",
  "-0",
  "0.0",
  "1.5",
  "1.50",
  "-2.25",
  "1e21",
  "1e-7",
  "0.000001",
  "0.0000001",
  "123456789012345678",
  "3.141592653589793",
  "0.1",
  "100",
  "5.",
  ".5",
  "NaN",
  "Infinity",
  "0x10",
  " 1",
  "",
  "-1.5e-300",
  "1.7976931348623157e308",
  "12345678901234.5",
];
const BOOLS = ["true", "false", "TRUE", "1", "0", "yes", ""];
const COLORS = ["RED", "GREEN", "BLUE", "red", ""];
const TS = ["1700000000000", "2023-11-14T22:13:20Z", "2023-11-14", "0", "-1", "yesterday", "", "+5"];

function randomWideRow(r: () => number): string[] {
  const text = () => {
    let s = "";
    for (let k = Math.floor(r() * 3); k >= 0; k--) s += pick(r, TEXT);
    return s;
  };
  const row = [pick(r, INTS), text(), pick(r, INTS), pick(r, NUMS), pick(r, NUMS), pick(r, BOOLS), pick(r, COLORS), pick(r, TS), text(), pick(r, INTS), text()];
  if (r() < 0.02) row.pop(); // a wrong column count now and then
  return row;
}

/** Every accepted row must come out as JSON.stringify / avsc / String(key) of the converted record; every reject with the same reason. */
function checkAgainstConverter(schema: AvroRecordSchema, header: string[], key: string | null, rows: string[][]) {
  const conv = new RowConverter(schema, header);
  const type = avro.Type.forSchema(schema as avro.Schema);
  const encoders = [
    compileRowEncoder(schema, conv, { key, json: true, avro: true }),
    compileRowEncoder(schema, conv, { key: null, json: true, avro: false }),
    compileRowEncoder(schema, conv, { key, json: false, avro: true }),
  ];
  expect(encoders.every((e) => e !== null)).toBe(true);
  const [both, jsonOnly, avroOnly] = encoders as RowEncodeFn[];
  const ks = new BufferSink(8); // small: growth is exercised
  const avs = new BufferSink(8);
  const out = { keyLen: 0 };
  let accepted = 0;
  for (const f of rows) {
    const rec = conv.convert(f);
    ks.pos = 3; // not at 0: encoders write at pos
    avs.pos = 5;
    const why = both(f, out, ks, ks, avs);
    if (typeof rec === "string") {
      expect(why).toBe(rec);
      expect(ks.pos).toBe(3);
      expect(avs.pos).toBe(5);
      expect(jsonOnly(f, out, null, ks, null)).toBe(rec);
      expect(avroOnly(f, out, ks, null, avs)).toBe(rec);
      continue;
    }
    accepted++;
    expect(why).toBeNull();
    const kv = key === null ? null : rec[key];
    const keyBytes = kv === null || kv === undefined ? null : te.encode(String(kv));
    expect(out.keyLen).toBe(keyBytes ? keyBytes.length : -1);
    const kl = Math.max(0, out.keyLen);
    if (keyBytes) expect(Buffer.from(ks.buf.subarray(3, 3 + kl))).toEqual(Buffer.from(keyBytes));
    expect(new TextDecoder().decode(ks.buf.subarray(3 + kl, ks.pos))).toBe(JSON.stringify(rec));
    expect(Buffer.from(ks.buf.subarray(3 + kl, ks.pos))).toEqual(Buffer.from(te.encode(JSON.stringify(rec))));
    expect(Buffer.from(avs.buf.subarray(5, avs.pos))).toEqual(Buffer.from(type.toBuffer(rec)));
    // The single-output variants write the same bytes.
    ks.pos = 0;
    jsonOnly(f, out, null, ks, null);
    expect(new TextDecoder().decode(ks.buf.subarray(0, ks.pos))).toBe(JSON.stringify(rec));
    avs.pos = 0;
    ks.pos = 0;
    avroOnly(f, out, ks, null, avs);
    expect(Buffer.from(avs.buf.subarray(0, avs.pos))).toEqual(Buffer.from(type.toBuffer(rec)));
    expect(ks.pos).toBe(kl);
  }
  return accepted;
}

describe("schema-specialised row encoder (JSON text, Avro bytes, key)", () => {
  test("users: 3,000 generated rows with unicode, quotes, control characters, empty phones, odd numbers", () => {
    const r = rng(11);
    const header = "id,first_name,last_name,email,age,country,city,signup_ts,is_active,score,phone".split(",");
    const rows: string[][] = [];
    for (let i = 0; i < 3000; i++) {
      const t = () => pick(r, TEXT) + pick(r, TEXT);
      rows.push([pick(r, INTS), t(), t(), t() || "e@x", pick(r, INTS), t(), t(), pick(r, TS), pick(r, BOOLS), pick(r, NUMS), r() < 0.3 ? "" : t()]);
    }
    const accepted = checkAgainstConverter(parseSchema(usersSchema, "users.avsc"), header, "id", rows);
    expect(accepted).toBeGreaterThan(100);
  });

  for (const key of ["id", "name", "ok", "note", "maybe", "absent", "nope", null]) {
    test(`every type, nullable and defaulted fields, 4,000 random rows, key ${key}`, () => {
      const r = rng((key ?? "").length * 31 + 7);
      const rows = Array.from({ length: 4000 }, () => randomWideRow(r));
      expect(checkAgainstConverter(wide, wideHeader, key, rows)).toBeGreaterThan(100);
    });
  }

  test("big longs: 2^53 - 2 and -2^52 encode as avsc does; 2^53 - 1 (avsc throws) and below -2^52 (avsc writes another number) are rejects", () => {
    const schema = { type: "record", name: "L", fields: [{ name: "id", type: "long" }] } as AvroRecordSchema;
    const conv = new RowConverter(schema, ["id"]);
    const enc = compileRowEncoder(schema, conv, { key: "id", json: true, avro: true })!;
    const type = avro.Type.forSchema(schema as avro.Schema);
    const sink = new BufferSink();
    for (const v of ["9007199254740990", "-4503599627370496", "1073741823", "1073741824", "-1073741824", "-1073741825"]) {
      sink.pos = 0;
      const a = new BufferSink();
      expect(enc([v], { keyLen: 0 }, sink, sink, a)).toBeNull();
      expect(Buffer.from(a.buf.subarray(0, a.pos))).toEqual(Buffer.from(type.toBuffer({ id: Number(v) })));
    }
    expect(() => type.toBuffer({ id: 9007199254740991 })).toThrow();
    expect(type.fromBuffer(type.toBuffer({ id: -9007199254740990 }))).toEqual({ id: 9007199254740990 });
    for (const v of ["9007199254740991", "-9007199254740990", "-4503599627370497"])
      expect(enc([v], { keyLen: 0 }, sink, sink, new BufferSink())).toMatch(/field 'id': expected an integer \(long/);
  });

  test("schemas it does not specialise fall back (null): duplicate or non-identifier field names", () => {
    const dup = {
      type: "record",
      name: "D",
      fields: [
        { name: "a", type: "string" },
        { name: "a", type: "string" },
      ],
    } as AvroRecordSchema;
    expect(
      compileRowEncoder(dup, { plans: [{ name: "a" }, { name: "a" }], columns: 1 } as unknown as RowConverter, { key: null, json: true, avro: false }),
    ).toBeNull();
    const num = { type: "record", name: "N", fields: [{ name: "1", type: "string" }] } as AvroRecordSchema;
    expect(compileRowEncoder(num, new RowConverter(num, ["1"]), { key: null, json: true, avro: false })).toBeNull();
  });
});

describe("number text reuse", () => {
  test("canonicalDecimal is true only where the CSV text is exactly JS's text for the number", () => {
    const r = rng(5);
    const chars = "0123456789.-e+";
    let yes = 0;
    for (let i = 0; i < 200_000; i++) {
      let s = "";
      const len = 1 + Math.floor(r() * 22);
      for (let k = 0; k < len; k++) s += r() < 0.85 ? chars[Math.floor(r() * 10)] : chars[10 + Math.floor(r() * 4)];
      if (canonicalDecimal(s)) {
        yes++;
        expect(String(Number(s))).toBe(s);
      }
    }
    expect(yes).toBeGreaterThan(10_000);
    for (const s of ["0", "1.5", "-2.25", "0.000001", "100", "123456789012345"]) expect(canonicalDecimal(s)).toBe(true);
    for (const s of ["-0", "0.0", "1.50", "5.", ".5", "1e21", "0.0000001", "1234567890123456", "007", "+1"]) expect(canonicalDecimal(s)).toBe(false);
  });

  test("canonicalInteger: digits as JS writes them", () => {
    for (const s of ["0", "7", "-1", "9007199254740990"]) expect(canonicalInteger(s)).toBe(true);
    for (const s of ["-0", "+7", "007", "2023-11-14", "", "-"]) expect(canonicalInteger(s)).toBe(false);
  });
});
