import { test, expect, describe, afterAll } from "bun:test";
import avro from "avsc";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { forEachRecord } from "../../src/csv/reader.ts";
import { forEachRecordFast, splitLine, FAST_DONE, FAST_SLOW, FAST_STOP } from "../../src/csv/fast-reader.ts";
import { readHeader } from "../../src/csv/split.ts";
import { RowConverter, parseSchema, type AvroRecordSchema } from "../../src/csv/schema-rows.ts";
import {
  compileRowEncoder,
  compileFastRowEncoder,
  BufferSink,
  canonicalDecimal,
  canonicalDecimalBytes,
  type RowEncoderOptions,
} from "../../src/codecs/row-encoder.ts";
import { runJob } from "../../src/produce/worker.ts";
import { COUNTER } from "../../src/produce/job.ts";
import { rng } from "../../src/gen/random.ts";
import { USERS_HEADER, userRow } from "../../src/gen/users.ts";
import { fuzzCsv } from "../helpers/csv-fuzz.ts";
import { runIngest } from "../helpers/cli.ts";
import usersSchemaText from "../../data/users.avsc" with { type: "text" };
import { WIDE_SCHEMA } from "../helpers/schemas.ts";

// The byte-level fast path of `ingest produce` (src/csv/fast-reader.ts and compileFastRowEncoder)
// must give exactly what the reference path (forEachRecord, CsvParser, compileRowEncoder) gives:
// the same accepted rows with the same key, JSON and Avro bytes, the same rejects (line, reason,
// raw text), the same skipped-line count, whatever the chunk size.

const dir = mkdtempSync(join(tmpdir(), "ingest-csv-fast-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const te = new TextEncoder();
const usersSchema = parseSchema(usersSchemaText, "users.avsc");

/** WIDE_SCHEMA (as in test/unit/row-encoder.test.ts) plus two nullable fields the byte-level code treats apart. */
const wide: AvroRecordSchema = {
  ...WIDE_SCHEMA,
  fields: [
    ...WIDE_SCHEMA.fields,
    { name: "us", type: ["null", { type: "long", logicalType: "timestamp-micros" }], default: null },
    { name: "bb", type: ["null", "boolean"], default: null },
  ],
};
const wideHeader = ["id", "name", "n", "x", "f", "ok", "color", "ts", "note", "maybe", "label", "ignored", "us", "bb"];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
// The value lists of test/unit/row-encoder.test.ts, and a few more for the byte-level code.
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
  "\uFFFD",
  "\uFEFF",
  "\u0000",
  "\u001f",
  "\b\f",
  "x".repeat(200),
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
  "9007199254740991",
  "123456789012345",
  "12345678901234567",
  "4294967296",
  "-",
  "+",
  "٣",
  " 1",
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
  "1\u00a0",
  "\u00a01",
  "3.4e39",
];
const BOOLS = ["true", "false", "TRUE", "True", "1", "0", "yes", "", "FALSE", "fals", "truee", "tru\u0130"];
const COLORS = ["RED", "GREEN", "BLUE", "red", "", "RÉD", "BLUEX"];
const TS = [
  "1700000000000",
  "2023-11-14T22:13:20Z",
  "2023-11-14",
  "0",
  "-1",
  "yesterday",
  "",
  "+5",
  "2023-11-14T22:13:20.123+02:00",
  "2023-13-45",
  "2023-11-14é",
];

/** A CSV field as text: quoted when it must be, sometimes when it need not be, now and then damaged. */
function csvField(r: () => number, s: string): string {
  if (/[",\r\n]/.test(s) || r() < 0.1) {
    const q = `"${s.replace(/"/g, '""')}"`;
    return r() < 0.01 ? q + "x" : q;
  }
  return r() < 0.005 ? `${s}"` : s;
}

function wideLine(r: () => number): string {
  const text = () => {
    let s = "";
    for (let k = Math.floor(r() * 3); k >= 0; k--) s += pick(r, TEXT);
    return s;
  };
  // Mostly values that convert, so that whole rows are accepted often enough.
  const v = (xs: readonly string[], good: number) => (r() < 0.85 ? xs[Math.floor(r() * good)]! : pick(r, xs));
  const row = [
    v(INTS, 7),
    text(),
    v(INTS, 8),
    v(NUMS, 15),
    v(NUMS, 15),
    v(BOOLS, 5),
    v(COLORS, 3),
    v(TS, 5),
    text(),
    v(INTS, 8),
    text(),
    text(),
    v(TS, 5),
    v(BOOLS, 5),
  ];
  if (r() < 0.02) row.pop();
  if (r() < 0.01) row.push("extra");
  if (r() < 0.002) row[1] = "y".repeat((1 << 20) + Math.floor(r() * 3) - 1); // around the 1 MiB field bound
  return row.map((s) => csvField(r, s)).join(",");
}

/** A file's bytes: header, lines joined by LF or CRLF, empty lines, sometimes a BOM, invalid bytes, no final newline. */
function wideFile(r: () => number): Uint8Array {
  const nl = r() < 0.3 ? "\r\n" : "\n";
  let text = wideHeader.join(",") + nl;
  for (let i = 1 + Math.floor(r() * 60); i > 0; i--) {
    text += r() < 0.05 ? "" : wideLine(r);
    text += r() < 0.1 ? (nl === "\n" ? "\r\n" : "\n") : nl;
  }
  if (r() < 0.3) text = text.slice(0, text.length - nl.length);
  return damage(r, text);
}

function damage(r: () => number, text: string): Uint8Array {
  const parts: Uint8Array[] = [];
  if (r() < 0.2) parts.push(new Uint8Array([0xef, 0xbb, 0xbf]));
  let at = 0;
  while (at < text.length) {
    let next = r() < 0.1 ? at + Math.floor(r() * 400) : text.length;
    if (/[\ud800-\udbff]/.test(text[next - 1] ?? "")) next++;
    parts.push(te.encode(text.slice(at, next)));
    if (next < text.length)
      parts.push(
        pick(r, [
          new Uint8Array([0x80]),
          new Uint8Array([0xe4, 0xb8]),
          new Uint8Array([0xff]),
          new Uint8Array([0xed, 0xa0, 0x80]),
          new Uint8Array([0xc0, 0xaf]),
        ]),
      );
    at = next;
  }
  return new Uint8Array(Buffer.concat(parts));
}

type Out = { rows: string[]; skipped: number; fast: number };

/**
 * What one worker's encoding gives for the file: per record, its line and either its key, JSON and
 * Avro bytes or its reject reason and raw text; the fast path (`fast`) or the reference path.
 */
function encodeFile(path: string, schema: AvroRecordSchema, o: RowEncoderOptions, fast: boolean, chunk: number, limit = Infinity): Out {
  const h = readHeader(path);
  if (!h) return { rows: [], skipped: 0, fast: 0 };
  let conv: RowConverter;
  try {
    conv = new RowConverter(schema, h.fields);
  } catch {
    return { rows: ["header refused"], skipped: 0, fast: 0 };
  }
  const enc = compileRowEncoder(schema, conv, o)!;
  const fenc = compileFastRowEncoder(schema, conv, o)!;
  expect(enc).not.toBeNull();
  expect(fenc).not.toBeNull();
  const range = { start: h.dataStart, end: statSync(path).size, firstLine: h.dataFirstLine };
  const ks = new BufferSink(16);
  const js = new BufferSink(16);
  const as = new BufferSink(16);
  const out = { keyLen: 0 };
  const rows: string[] = [];
  let nFast = 0;
  const hex = (s: BufferSink, from: number) => Buffer.from(s.buf.subarray(from, s.pos)).toString("hex");
  const written = (line: number | string) => {
    rows.push(`${line} key ${out.keyLen < 0 ? "null" : hex(ks, 1)} json ${o.json ? hex(js, 2) : "-"} avro ${o.avro ? hex(as, 3) : "-"}`);
  };
  const reset = () => {
    ks.pos = 1; // not at 0: encoders write at pos
    js.pos = 2;
    as.pos = 3;
  };
  const onRow = (x: { line: number; fields: string[]; error: string | undefined; raw(): string }) => {
    if (rows.length >= limit) return false;
    reset();
    let why: string | null;
    try {
      why = x.error ?? enc(x.fields, out, ks, js, as);
    } catch (e) {
      // avsc refusing a long out of its range: the worker fails with this error either way.
      rows.push(`${x.line} throws ${(e as Error).message}`);
      return;
    }
    if (why !== null) {
      rows.push(`${x.line} reject ${why} raw ${x.raw()}`);
      expect([ks.pos, js.pos, as.pos]).toEqual([1, 2, 3]);
    } else written(x.line);
  };
  let skipped: number;
  if (!fast) skipped = forEachRecord(path, range, onRow, undefined, chunk);
  else {
    let line = 0;
    skipped = forEachRecordFast(
      path,
      range,
      conv.columns,
      (b, fs, fe, esc, ln) => {
        if (rows.length >= limit) return FAST_STOP;
        reset();
        if (!fenc(b, fs, fe, esc, out, ks, js, as)) {
          expect([ks.pos, js.pos, as.pos]).toEqual([1, 2, 3]);
          return FAST_SLOW;
        }
        expect(ln).toBeGreaterThan(line);
        line = ln;
        nFast++;
        written(ln);
        return FAST_DONE;
      },
      onRow,
      undefined,
      chunk,
    );
  }
  return { rows, skipped, fast: nFast };
}

function compare(path: string, schema: AvroRecordSchema, o: RowEncoderOptions, chunk: number, limit = Infinity): Out {
  const want = encodeFile(path, schema, o, false, chunk, limit);
  const got = encodeFile(path, schema, o, true, chunk, limit);
  expect(got.rows).toEqual(want.rows);
  expect(got.skipped).toBe(want.skipped);
  return got;
}

const CHUNKS = [8, 16, 64, 256, 1000, 4096, 1 << 20];
const OPTIONS: RowEncoderOptions[] = [
  { key: "id", json: true, avro: true },
  { key: null, json: true, avro: true },
  { key: "name", json: true, avro: false },
  { key: "ts", json: false, avro: true },
  { key: "ok", json: true, avro: true },
  { key: "color", json: true, avro: true },
  { key: "note", json: true, avro: true },
  { key: "maybe", json: true, avro: false },
  { key: "absent", json: false, avro: true },
  { key: "x", json: true, avro: true },
];

describe("CSV fast path against the reference path", () => {
  test("every Avro type, quoting, CRLF, BOM, empty lines, invalid UTF-8, bad values, wrong column counts: 2,000 files, random chunk sizes and key/outputs", () => {
    const r = rng(9001);
    const path = join(dir, "wide.csv");
    let fast = 0;
    let rows = 0;
    let rejects = 0;
    for (let f = 0; f < 2000; f++) {
      writeFileSync(path, wideFile(r));
      const got = compare(path, wide, pick(r, OPTIONS), pick(r, CHUNKS), r() < 0.05 ? Math.floor(r() * 20) : Infinity);
      fast += got.fast;
      rows += got.rows.length;
      rejects += got.rows.filter((x) => x.includes(" reject ")).length;
    }
    // Both paths are exercised: most good rows go fast, the rest (and every reject) the reference way.
    expect(rows).toBeGreaterThan(40_000);
    expect(fast).toBeGreaterThan(8_000);
    expect(rejects).toBeGreaterThan(10_000);
  }, 120_000);

  test("damaged users files (the reliability fuzz corpus), random chunk sizes: 1,500 files", () => {
    const r = rng(9002);
    const path = join(dir, "fuzz.csv");
    let fast = 0;
    for (let f = 0; f < 1500; f++) {
      let text = "";
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) text += k === 1 ? fuzzCsv(r) : fuzzCsv(r).slice(USERS_HEADER.length + 1);
      writeFileSync(path, r() < 0.3 ? damage(r, text) : te.encode(text));
      fast += compare(
        path,
        usersSchema,
        pick(r, [
          { key: "id", json: true, avro: true },
          { key: null, json: true, avro: true },
          { key: "phone", json: true, avro: false },
          { key: "id", json: false, avro: true },
        ]),
        pick(r, CHUNKS),
      ).fast;
    }
    expect(fast).toBeGreaterThan(5_000);
  }, 120_000);

  test("generated users (quoted names, doubled quotes, multi-byte text, empty phones), many chunk sizes", () => {
    const r = rng(77);
    const path = join(dir, "users.csv");
    const lines = [USERS_HEADER];
    for (let i = 1; i <= 20_000; i++) lines.push(userRow(r, i));
    writeFileSync(path, lines.join("\n") + "\n");
    for (const chunk of [100, 4096, 65536, 1 << 20]) {
      const got = compare(path, usersSchema, { key: "id", json: true, avro: true }, chunk);
      expect(got.rows.length).toBe(20_000);
      expect(got.fast).toBeGreaterThan(15_000);
    }
  }, 120_000);

  test("records spanning chunks, quoted newlines, unterminated quotes and lines longer than a chunk", () => {
    const r = rng(31);
    const path = join(dir, "span.csv");
    for (let f = 0; f < 300; f++) {
      let text = "id,name\n";
      for (let i = 0; i < 50; i++) {
        const k = r();
        if (k < 0.1) text += `${i},"multi\nline ${"é".repeat(Math.floor(r() * 300))}"\n`;
        else if (k < 0.12) text += `${i},"never closed\n`;
        else if (k < 0.15) text += `${i},${"z".repeat(Math.floor(r() * 3000))}\n`;
        else if (k < 0.17) text += `${i},"a""b"\r\n`;
        else text += `${i},plain ${i}\n`;
      }
      writeFileSync(path, r() < 0.2 ? damage(r, text) : te.encode(text));
      const schema = {
        type: "record",
        name: "S",
        fields: [
          { name: "id", type: "long" },
          { name: "name", type: "string" },
        ],
      } as AvroRecordSchema;
      compare(path, schema, { key: "id", json: true, avro: true }, pick(r, CHUNKS));
    }
  }, 120_000);

  test("canonicalDecimalBytes is Number(s) exactly where canonicalDecimal holds, NaN elsewhere (300,000 strings)", () => {
    const r = rng(6);
    const chars = "0123456789.-e+";
    let yes = 0;
    for (let i = 0; i < 300_000; i++) {
      let s = r() < 0.5 ? "" : pick(r, ["0.", "-0.", "0.00000", "-", "9007199254740", "0.0000"]);
      const len = 1 + Math.floor(r() * 20);
      for (let k = 0; k < len; k++) s += r() < 0.9 ? chars[Math.floor(r() * 10)] : chars[10 + Math.floor(r() * 4)];
      const b = te.encode(`,${s},`);
      const got = canonicalDecimalBytes(b, 1, b.length - 1);
      if (canonicalDecimal(s)) {
        yes++;
        expect(Object.is(got, Number(s))).toBe(true);
      } else expect(got).toBeNaN();
    }
    expect(yes).toBeGreaterThan(50_000);
  }, 120_000);

  test("splitLine takes only lines it is sure of", () => {
    const fs = new Int32Array(4);
    const fe = new Int32Array(4);
    const esc = new Uint8Array(4);
    const split = (s: string, cols: number) => {
      const b = te.encode(s);
      const n = splitLine(b, 0, b.length, cols, fs, fe, esc);
      return n < 0 ? null : Array.from({ length: n }, (_, k) => [new TextDecoder().decode(b.subarray(fs[k]!, fe[k]!)), esc[k]]);
    };
    expect(split('a,"b,c",', 3)).toEqual([
      ["a", 0],
      ["b,c", 0],
      ["", 0],
    ]);
    expect(split('"",x\\y', 2)).toEqual([
      ["", 0],
      ["x\\y", 1],
    ]);
    expect(split("a,b", 3)).toBeNull();
    expect(split("a,b,c", 2)).toBeNull();
    expect(split('"a\tb""c""",""""', 2)).toEqual([
      ['a\tb""c""', 3],
      ['""', 2],
    ]);
    for (const s of ['a,"b"c', 'a,b"c', 'a,"b', 'a,"b" ', 'a,"b""', 'a,"b"""c']) expect(split(s, 2)).toBeNull();
  }, 120_000);
});

describe("the produce worker with and without the fast path (INGEST_CSV_FAST)", () => {
  /** One worker's outputs for the whole file: JSON and Avro file parts, rejects, stats. */
  function run(path: string, fast: boolean, limit = Infinity) {
    const h = readHeader(path)!;
    const prev = process.env.INGEST_CSV_FAST;
    process.env.INGEST_CSV_FAST = fast ? "1" : "0";
    try {
      const tag = fast ? "fast" : "ref";
      let stats;
      try {
        stats = runJob({
          index: 0,
          file: path,
          input: "csv",
          range: { start: h.dataStart, end: statSync(path).size, firstLine: h.dataFirstLine },
          header: h.fields,
          schema: usersSchema,
          key: "id",
          format: "json",
          topic: "t",
          kafka: null,
          partitions: 0,
          valuePrefix: null,
          headers: {},
          txn: null,
          jsonPart: { path: join(dir, `${tag}.json`), ndjson: false, prefix: null },
          avroPart: { path: join(dir, `${tag}.avro`), codec: "null", sync: new Uint8Array(16).fill(7), prefix: null },
          rejectsPart: join(dir, `${tag}.rejects`),
          limit,
          counters: new SharedArrayBuffer(8 * COUNTER.SIZE),
        });
      } catch (e) {
        return { error: (e as Error).message };
      }
      const { readSendMs: _a, deliveryWaitMs: _b, ...counts } = stats;
      return {
        counts,
        json: readFileSync(join(dir, `${tag}.json`)),
        avro: readFileSync(join(dir, `${tag}.avro`)),
        rejects: readFileSync(join(dir, `${tag}.rejects`), "utf8"),
      };
    } finally {
      if (prev === undefined) delete process.env.INGEST_CSV_FAST;
      else process.env.INGEST_CSV_FAST = prev;
    }
  }

  test("damaged users files: the same JSON and Avro bytes, rejects and counts (300 files)", () => {
    const r = rng(4242);
    const path = join(dir, "worker.csv");
    let rejects = 0;
    for (let f = 0; f < 300; f++) {
      let text = USERS_HEADER + "\n";
      for (let k = 1 + Math.floor(r() * 4); k > 0; k--) text += fuzzCsv(r).slice(USERS_HEADER.length + 1);
      for (let i = 0; i < 200; i++) text += userRow(r, i) + "\n";
      writeFileSync(path, r() < 0.3 ? damage(r, text) : te.encode(text));
      const limit = r() < 0.1 ? Math.floor(r() * 100) : Infinity;
      const want = run(path, false, limit);
      const got = run(path, true, limit);
      if ("error" in want || "error" in got) {
        expect(got).toEqual(want);
        continue;
      }
      expect(got.counts).toEqual(want.counts);
      expect(got.rejects).toBe(want.rejects);
      expect(Buffer.compare(got.json, want.json)).toBe(0);
      expect(Buffer.compare(got.avro, want.avro)).toBe(0);
      rejects += want.counts.rejected;
    }
    expect(rejects).toBeGreaterThan(100);
  }, 120_000);
});

describe("ingest produce end to end, fast path on and off", () => {
  test("`ingest gen users` output: the same JSON file, Avro records, rejects and summary", async () => {
    const csv = join(dir, "gen.csv");
    expect((await runIngest(["gen", "users", "--rows", "30000", "--out", csv, "--seed", "42"])).code).toBe(0);
    // A few damaged lines among them.
    writeFileSync(csv, readFileSync(csv, "utf8").replace(/\n(1234|2345|5000),/g, "\n$1,x,"));
    const outs: { json: string; avro: unknown[]; rejects: string; summary: Record<string, unknown> }[] = [];
    for (const fast of ["0", "1"]) {
      const p = (x: string) => join(dir, `e2e-${fast}.${x}`);
      const r = await runIngest(
        [
          "produce",
          "--file",
          csv,
          "--no-kafka",
          "--json-out",
          p("json"),
          "--avro-out",
          p("avro"),
          "--rejects",
          p("rejects"),
          "--summary-json",
          p("summary"),
          "--workers",
          "2",
        ],
        { env: { INGEST_CSV_FAST: fast } },
      );
      expect(r.stderr).not.toContain("rror");
      const records: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        avro
          .createFileDecoder(p("avro"))
          .on("data", (x: unknown) => records.push(x))
          .on("end", resolve)
          .on("error", reject);
      });
      const { seconds: _t, messages_per_second: _m, rejects_file: _f, ...summary } = JSON.parse(readFileSync(p("summary"), "utf8"));
      outs.push({ json: readFileSync(p("json"), "utf8"), avro: records, rejects: readFileSync(p("rejects"), "utf8"), summary });
    }
    expect(outs[1]!.rejects.split("\n").length).toBeGreaterThan(3);
    expect(outs[1]!.avro.length).toBe(30000 - 3);
    expect(outs[1]).toEqual(outs[0]!);
  }, 120_000);
});
