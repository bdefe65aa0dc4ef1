import { test, expect, describe, afterAll } from "bun:test";
import Papa from "papaparse";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CsvParser } from "../../src/csv/parser.ts";
import { forEachRecord } from "../../src/csv/reader.ts";
import { CsvParserV1 } from "../helpers/csv-parser-v1.ts";
import { fuzzCsv } from "../helpers/csv-fuzz.ts";
import { splitRanges, readHeader } from "../../src/csv/split.ts";
import { RowConverter, parseSchema } from "../../src/csv/schema-rows.ts";
import { rng } from "../../src/gen/random.ts";
import usersSchema from "../../data/users.avsc" with { type: "text" };

/** Every record of `range`, through the reader's hot path (fields copied out of the reused row). */
function readAll(
  path: string,
  range: { start: number; end: number; firstLine: number },
  chunk = 1 << 20,
): { line: number; fields: string[]; error: string | undefined }[] {
  const out: { line: number; fields: string[]; error: string | undefined }[] = [];
  forEachRecord(path, range, (x) => void out.push({ line: x.line, fields: [...x.fields], error: x.error }), undefined, chunk);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "ingest-csv-"));

function parseAll(text: string, chunk: number) {
  const p = new CsvParser(1, 1 << 20);
  const out: { line: number; fields: string[]; error?: string }[] = [];
  for (let i = 0; i < text.length; i += chunk)
    out.push(...p.push(text.slice(i, i + chunk), false).records.map((r) => ({ line: r.line, fields: r.fields, error: r.error })));
  out.push(...p.push("", true).records.map((r) => ({ line: r.line, fields: r.fields, error: r.error })));
  return out;
}

/** Random CSV text with quoting, embedded commas, quotes, newlines, multi-byte text. */
function randomCsv(r: () => number, rows: number, cols: number, crlf: boolean): string {
  const alphabet = ["a", "b", "Z", "0", "9", " ", "é", "ü", "中", "😀", ",", '"', "\n", "-", "."];
  const nl = crlf ? "\r\n" : "\n";
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const fields: string[] = [];
    for (let c = 0; c < cols; c++) {
      let s = "";
      const len = Math.floor(r() * 8);
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(r() * alphabet.length)];
      // A one-column row holding only an empty field is an "empty line" to papaparse, a record to RFC 4180.
      if (cols === 1 && s === "") s = "x";
      if (/[",\n\r]/.test(s) || r() < 0.1) s = `"${s.replace(/"/g, '""')}"`;
      fields.push(s);
    }
    lines.push(fields.join(","));
  }
  return lines.join(nl) + (r() < 0.5 ? nl : "");
}

describe("CsvParser", () => {
  test("agrees with papaparse on 300 random files, whatever the chunk size", () => {
    const r = rng(7);
    for (let f = 0; f < 300; f++) {
      const crlf = f % 3 === 0;
      const text = randomCsv(r, 1 + Math.floor(r() * 30), 1 + Math.floor(r() * 6), crlf);
      const papa = Papa.parse<string[]>(text, { newline: crlf ? "\r\n" : "\n", skipEmptyLines: true }).data;
      const whole = parseAll(text, text.length + 1);
      expect(whole.every((x) => x.error === undefined)).toBe(true);
      expect(whole.map((x) => x.fields)).toEqual(papa);
      for (const chunk of [1, 2, 7, 64]) expect(parseAll(text, chunk)).toEqual(whole);
    }
  });

  test("line numbers count newlines inside quoted fields and skipped empty lines", () => {
    const text = 'a,b\n"x\ny",1\n\n\r\nz,2\n"p""q",3';
    const recs = parseAll(text, 3);
    expect(recs.map((r) => [r.line, r.fields])).toEqual([
      [1, ["a", "b"]],
      [2, ["x\ny", "1"]],
      [6, ["z", "2"]],
      [7, ['p"q', "3"]],
    ]);
  });

  test("garbage after a closing quote is a malformed record; parsing continues on the next line", () => {
    const recs = parseAll('"a"b,c\nd,e\n', 4);
    expect(recs[0]!.error).toMatch(/after a closing quote/);
    expect(recs[1]).toEqual({ line: 2, fields: ["d", "e"], error: undefined });
  });

  test("an unterminated quote is reported and parsing resumes on the line after it", () => {
    const recs = parseAll('a,b\n1,"open\n2,x\n3,y\n', 5);
    expect(recs[0]!.fields).toEqual(["a", "b"]);
    expect(recs[1]!.line).toBe(2);
    expect(recs[1]!.error).toMatch(/unterminated quoted field; parsing resumes on line 3/);
    expect(recs.slice(2).map((r) => r.fields)).toEqual([
      ["2", "x"],
      ["3", "y"],
    ]);
  });
});

const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)]!;

// The fast path (whole lines without a quote, split on commas with cached positions), the
// general scanner (fastPath false), the callback API with its reused row, and stopping and
// resuming from the callback must all give exactly what the parser gave before the fast path
// (kept as test/helpers/csv-parser-v1.ts): fields, line numbers, errors, raw text, skipped lines.
describe("CsvParser fast path: property tests against the previous parser", () => {
  type Rec = { line: number; fields: string[]; error: string | undefined; raw: string };

  /**
   * Random CSV text mixing unquoted lines (the fast path) with lines holding quoted fields,
   * stray quotes, LF and CRLF, empty lines, ragged column counts, and with `malformed` also
   * garbage after a closing quote, unterminated quotes, lone CRs and a CR at the very end.
   */
  function mixedCsv(r: () => number, o: { malformed: boolean; newline?: string }): string {
    const plain = ["a", "b", "Z", "0", "9", " ", "é", "中", "😀", "-", "."];
    const quoted = [...plain, ",", '""', "\n", "\r\n", "\r"];
    const nl = () => o.newline ?? (r() < 0.3 ? "\r\n" : "\n");
    const rows = 1 + Math.floor(r() * 40);
    const cols = 1 + Math.floor(r() * 6);
    let out = "";
    for (let i = 0; i < rows; i++) {
      if (r() < 0.08) {
        out += nl();
        continue;
      }
      const quotes = r() < 0.3;
      const k = r() < 0.9 ? cols : 1 + Math.floor(r() * 8);
      const fields: string[] = [];
      for (let c = 0; c < k; c++) {
        let s = "";
        const len = Math.floor(r() * 7);
        if (quotes && r() < 0.5) {
          for (let j = 0; j < len; j++) s += pick(r, quoted);
          s = `"${s}"`;
          if (o.malformed && r() < 0.05) s += pick(r, ["x", " ", '"', "\r"]);
        } else {
          for (let j = 0; j < len; j++) s += pick(r, plain);
          if (quotes && r() < 0.2) s = `x"${s}`; // a stray quote inside an unquoted field is kept
          if (o.malformed && r() < 0.05) s += "\r";
        }
        fields.push(s);
      }
      // A one-column row holding only an empty field is an "empty line" to papaparse.
      if (k === 1 && (fields[0] === "" || fields[0] === '""')) fields[0] = "x";
      out += fields.join(",");
      if (o.malformed && r() < 0.02) out += ',"never closed';
      if (i < rows - 1 || r() < 0.5) out += nl();
    }
    if (o.malformed && r() < 0.1) out += "\r";
    return out;
  }

  /** `text` cut at random places: 1-4 or 1-64 characters, or whole; sometimes empty pieces. */
  function pieces(r: () => number, text: string): string[] {
    const out: string[] = [];
    const mode = r();
    for (let i = 0; i < text.length; ) {
      const n = mode < 0.3 ? 1 + Math.floor(r() * 4) : mode < 0.8 ? 1 + Math.floor(r() * 64) : text.length;
      out.push(text.slice(i, i + n));
      if (r() < 0.05) out.push("");
      i += n;
    }
    return out;
  }

  /** Records of a push()-style parser (the old one or the current one) fed `parts` in order. */
  type PushApi = { push(t: string, final: boolean): { skipped: number; records: { line: number; fields: string[]; error?: string; raw(): string }[] } };
  function viaPushApi(p: PushApi, parts: string[]) {
    const recs: Rec[] = [];
    let skipped = 0;
    parts.forEach((t, i) => {
      const res = p.push(t, i === parts.length - 1);
      skipped += res.skipped;
      for (const x of res.records) recs.push({ line: x.line, fields: x.fields, error: x.error, raw: x.raw() });
    });
    if (!parts.length) skipped += p.push("", true).skipped;
    return { recs, skipped };
  }
  const viaV1 = (parts: string[], max: number) => viaPushApi(new CsvParserV1(3, max), parts);
  const viaPush = (parts: string[], max: number, fast: boolean) => viaPushApi(new CsvParser(3, max, fast), parts);

  /** The callback API; with `stopEvery`, the callback stops the parser at random records and parsing resumes. */
  function viaParse(parts: string[], max: number, fast: boolean, r?: () => number) {
    const p = new CsvParser(3, max, fast);
    const recs: Rec[] = [];
    let skipped = 0;
    const all = parts.length ? parts : [""];
    all.forEach((t, i) => {
      let text = t;
      do {
        skipped += p.parse(text, i === all.length - 1, (x) => {
          recs.push({ line: x.line, fields: x.fields.slice(), error: x.error, raw: x.raw() });
          if (r && r() < 0.3) return false;
        });
        text = "";
      } while (p.stopped);
    });
    return { recs, skipped };
  }

  function check(r: () => number, text: string) {
    const parts = pieces(r, text);
    // A small bound makes long quoted records spanning pieces, and unterminated quotes, oversized.
    const max = r() < 0.3 ? 8 + Math.floor(r() * 120) : 1 << 20;
    const want = viaV1(parts, max);
    expect(viaPush(parts, max, true)).toEqual(want);
    expect(viaPush(parts, max, false)).toEqual(want);
    expect(viaParse(parts, max, true)).toEqual(want);
    expect(viaParse(parts, max, true, r)).toEqual(want);
    return want;
  }

  test("mixed quoted and unquoted lines, malformed ones too, cut anywhere: same records as before (3000 files)", () => {
    const r = rng(101);
    let recs = 0;
    let errors = 0;
    for (let f = 0; f < 3000; f++) {
      const want = check(r, mixedCsv(r, { malformed: f % 2 === 1 }));
      recs += want.recs.length;
      errors += want.recs.filter((x) => x.error).length;
    }
    // The corpus does exercise both good and malformed records.
    expect(recs).toBeGreaterThan(30_000);
    expect(errors).toBeGreaterThan(300);
  });

  test("damaged users files (the reliability fuzz corpus), cut anywhere: same records as before (400 files)", () => {
    const r = rng(202);
    for (let f = 0; f < 400; f++) check(r, fuzzCsv(r));
  });

  test("well-formed mixed files: the fast path agrees with papaparse", () => {
    const r = rng(303);
    for (let f = 0; f < 500; f++) {
      const newline = f % 2 ? "\r\n" : "\n";
      const text = mixedCsv(r, { malformed: false, newline });
      const papa = Papa.parse<string[]>(text, { newline: newline as "\n", skipEmptyLines: true }).data;
      const got = viaParse(pieces(r, text), 1 << 20, true);
      expect(got.recs.every((x) => x.error === undefined)).toBe(true);
      expect(got.recs.map((x) => x.fields)).toEqual(papa);
    }
  });

  test("a long line without LF or quote is neither split nor bounded (as before)", () => {
    const text = `${"a,".repeat(5000)}b\nc,d\n`;
    const parts = pieces(rng(5), text);
    expect(viaParse(parts, 100, true)).toEqual(viaV1(parts, 100));
    expect(viaParse([text], 100, true).recs[0]!.fields.length).toBe(5001);
  });
});

describe("forEachRecord: the reader's callback path", () => {
  const sub = mkdtempSync(join(tmpdir(), "ingest-csv-each-"));
  afterAll(() => rmSync(sub, { recursive: true, force: true }));
  const enc = new TextEncoder();

  /** Records of the file as the previous parser reads the whole decoded text, invalid UTF-8 marked per record. */
  function oracle(bytes: Uint8Array, firstLine: number) {
    const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
    const res = new CsvParserV1(firstLine).push(new TextDecoder("utf-8", { ignoreBOM: true }).decode(body), true);
    return {
      recs: res.records.map((x) => ({
        line: x.line,
        fields: x.fields,
        error: x.error ?? (x.fields.some((f) => f.includes("\uFFFD")) ? "invalid UTF-8 bytes" : undefined),
        raw: x.raw(),
      })),
      skipped: res.skipped,
    };
  }

  // U+FEFF inside the text (also at the start of a chunk) is data and must survive; only the
  // file's leading BOM is dropped.
  test("random files (BOM, invalid bytes, multi-byte text, quoted newlines), random chunk sizes: same records as the previous parser", () => {
    const r = rng(404);
    const path = join(sub, "each.csv");
    for (let f = 0; f < 300; f++) {
      let text = "";
      for (let k = 1 + Math.floor(r() * 5); k > 0; k--) text += f % 3 === 0 ? fuzzCsv(r) : `${mixedCsv2(r)}\n`;
      // Only invalid bytes may decode to U+FFFD here (not the fuzz corpus's own, nor its split surrogate pairs).
      text = text.toWellFormed().replace(/\uFFFD/g, "?");
      if (r() < 0.3) text = text.replace(/\n/g, () => (r() < 0.3 ? "\n\uFEFF" : "\n"));
      const parts: Uint8Array[] = [];
      if (r() < 0.3) parts.push(new Uint8Array([0xef, 0xbb, 0xbf]));
      // Invalid UTF-8 (a stray continuation byte, a truncated sequence, 0xff) at random places.
      let at = 0;
      while (at < text.length) {
        let next = r() < 0.2 ? at + Math.floor(r() * 200) : text.length;
        if (/[\ud800-\udbff]/.test(text[next - 1] ?? "")) next++; // not inside a surrogate pair
        parts.push(enc.encode(text.slice(at, next)));
        if (next < text.length) parts.push(pick(r, [new Uint8Array([0x80]), new Uint8Array([0xe4, 0xb8]), new Uint8Array([0xff, 0xfe])]));
        at = next;
      }
      const bytes = new Uint8Array(Buffer.concat(parts));
      writeFileSync(path, bytes);
      const want = oracle(bytes, 1);
      const chunk = pick(r, [16, 64, 256, 4096, 1 << 20]);
      const got: { line: number; fields: string[]; error: string | undefined; raw: string }[] = [];
      const progress: number[] = [];
      const skipped = forEachRecord(
        path,
        { start: 0, end: bytes.length, firstLine: 1 },
        (x) => {
          got.push({ line: x.line, fields: x.fields.slice(), error: x.error, raw: x.raw() });
        },
        (n) => {
          progress.push(n);
        },
        chunk,
      );
      expect({ recs: got, skipped }).toEqual(want);
      expect(progress.every((n, i) => n <= bytes.length && (i === 0 || n >= progress[i - 1]!))).toBe(true);
    }
  });

  /** Well-formed lines, quoted (with newlines) and not: the oracle's per-record UTF-8 check is then the reader's. */
  function mixedCsv2(r: () => number): string {
    const lines: string[] = [];
    for (let i = 1 + Math.floor(r() * 30); i > 0; i--) {
      if (r() < 0.05) lines.push("");
      else if (r() < 0.3) lines.push(`${i},"q, ""${i}""\nsecond line é",中${i}`);
      else lines.push(`${i},plain 😀 ${i},${r() < 0.5 ? "x" : ""}`);
    }
    return lines.join(r() < 0.5 ? "\n" : "\r\n");
  }

  test("a record with invalid UTF-8 cut by a chunk end is rejected (it was accepted before when its bad bytes came in the earlier chunk)", () => {
    const path = join(sub, "inv.csv");
    const bytes = Buffer.concat([Buffer.from('a,b\n1,"'), Buffer.from([0xff]), Buffer.from('x\ny",2\n3,4\n')]);
    writeFileSync(path, bytes);
    for (const chunk of [8, 16, 1 << 20]) {
      const got: [number, string | undefined][] = [];
      forEachRecord(
        path,
        { start: 0, end: bytes.length, firstLine: 1 },
        (x) => {
          got.push([x.line, x.error]);
        },
        undefined,
        chunk,
      );
      expect(got).toEqual([
        [1, undefined],
        [2, "invalid UTF-8 bytes"],
        [4, undefined],
      ]);
    }
  });

  test("returning false from the row callback stops reading right after that row", () => {
    const path = join(sub, "stop.csv");
    writeFileSync(path, Array.from({ length: 5000 }, (_, i) => (i % 10 === 9 ? "" : `${i},x`)).join("\n"));
    let rows = 0;
    const skipped = forEachRecord(path, { start: 0, end: Bun.file(path).size, firstLine: 1 }, () => ++rows < 100, undefined, 256);
    expect(rows).toBe(100);
    // Only the empty lines before the 100th row are counted.
    expect(skipped).toBe(11);
  });
});

describe("reading files by byte ranges", () => {
  const r = rng(11);
  const header = "c1,c2,c3\n";
  let body = "";
  for (let i = 0; i < 60_000; i++) body += i % 17 === 0 ? `${i},"multi\nline, ""quoted""\n",é${i}\n` : `${i},plain ${i},中${i}\n`;
  void r;
  const path = join(dir, "ranges.csv");
  writeFileSync(path, "\uFEFF" + header + body);

  test("readHeader strips the BOM and finds where data starts", () => {
    const h = readHeader(path)!;
    expect(h.fields).toEqual(["c1", "c2", "c3"]);
    expect(h.dataFirstLine).toBe(2);
  });

  const single = (() => {
    const h = readHeader(path)!;
    const out: { line: number; fields: string[] }[] = [];
    for (const x of readAll(path, { start: h.dataStart, end: Bun.file(path).size, firstLine: 2 }, 1 << 16)) out.push({ line: x.line, fields: x.fields });
    return out;
  })();

  test("a single pass reads every record with the right line numbers", () => {
    expect(single.length).toBe(60_000);
    expect(single[17]).toEqual({ line: 21, fields: ["17", 'multi\nline, "quoted"\n', "é17"] });
    expect(single[18]!.line).toBe(24);
  });

  for (const n of [2, 3, 5, 8]) {
    test(`splitting into ${n} ranges at record boundaries loses, splits and doubles nothing`, () => {
      const h = readHeader(path)!;
      const ranges = splitRanges(path, n, h.dataStart, h.dataFirstLine, 1 << 16);
      expect(ranges.length).toBe(n);
      const all: { line: number; fields: string[] }[] = [];
      for (const range of ranges) for (const x of readAll(path, range, 1 << 15)) all.push({ line: x.line, fields: x.fields });
      expect(all).toEqual(single);
    });
  }
});

describe("splitRanges on a file without quotes, and with one quoted field near the end", () => {
  // Quote-free files took a path that rescanned the chunk for a quote on every line; these pin
  // that the cached quote position still gives exact record boundaries and line numbers.
  for (const [name, lastRow] of [
    ["no quotes", "39999,x,y"],
    ["one late quoted field", '39999,"a\nb",y'],
  ] as const) {
    test(`${name}: 4 ranges read back every record once, in order, with line numbers`, () => {
      const dir = mkdtempSync(join(tmpdir(), "split-"));
      const p = join(dir, "plain.csv");
      const rows = Array.from({ length: 39_999 }, (_, i) => `${i},first${i},last${i}`);
      writeFileSync(p, `id,a,b\n${rows.join("\n")}\n${lastRow}\n`);
      const h = readHeader(p)!;
      const ranges = splitRanges(p, 4, h.dataStart, h.dataFirstLine, 1 << 16);
      expect(ranges.length).toBe(4);
      const got: { line: number; f0: string }[] = [];
      for (const r of ranges) for (const x of readAll(p, r, 1 << 15)) got.push({ line: x.line, f0: x.fields[0]! });
      expect(got.length).toBe(40_000);
      expect(got.every((g, i) => g.f0 === String(i) && g.line === i + 2)).toBe(true);
      rmSync(dir, { recursive: true, force: true });
    });
  }
});

describe("RowConverter (types from the Avro schema)", () => {
  const schema = parseSchema(usersSchema, "users.avsc");
  const header = "id,first_name,last_name,email,age,country,city,signup_ts,is_active,score,phone".split(",");
  const conv = new RowConverter(schema, header);
  const good = ["7", "Ann", "Lee", "a@x.test", "30", "FR", "Paris", "1700000000000", "true", "12.5", ""];

  test("a good row converts to typed values; an empty optional field is null", () => {
    expect(conv.convert(good)).toEqual({
      id: 7,
      first_name: "Ann",
      last_name: "Lee",
      email: "a@x.test",
      age: 30,
      country: "FR",
      city: "Paris",
      signup_ts: 1700000000000,
      is_active: true,
      score: 12.5,
      phone: null,
    });
  });

  test("ISO-8601 timestamps are accepted for timestamp-millis", () => {
    const rec = conv.convert(good.map((v, i) => (i === 7 ? "2023-11-14T22:13:20Z" : v))) as Record<string, unknown>;
    expect(rec.signup_ts).toBe(1700000000000);
  });

  const bad: [string, number, string, RegExp][] = [
    ["non-integer id", 0, "7x", /field 'id': expected an integer \(long.*got '7x'/],
    ["int out of range", 4, "3000000000", /field 'age': expected an integer in the int range/],
    ["decimal for int", 4, "30.5", /field 'age'/],
    ["hex is not a number", 9, "0x10", /field 'score': expected a number/],
    ["bad boolean", 8, "yes", /field 'is_active': expected a boolean/],
    ["missing required", 3, "", /field 'email': missing required value/],
    ["bad timestamp", 7, "yesterday", /field 'signup_ts': expected epoch milliseconds or an ISO-8601 timestamp/],
    ["unsafe long", 0, "9007199254740993", /field 'id'/],
  ];
  for (const [what, col, value, re] of bad) {
    test(`rejects: ${what}`, () => {
      const r = conv.convert(good.map((v, i) => (i === col ? value : v)));
      expect(typeof r).toBe("string");
      expect(r as string).toMatch(re);
    });
  }

  test("wrong column counts are rejected with both numbers", () => {
    expect(conv.convert(good.slice(0, 10))).toBe("expected 11 columns, found 10");
    expect(conv.convert([...good, "extra"])).toBe("expected 11 columns, found 12");
  });

  test("values no output holds exactly are rejects, whatever Number() and Date.parse accept", () => {
    const edge = parseSchema(
      JSON.stringify({
        type: "record",
        name: "E",
        fields: [
          { name: "l", type: ["null", "long"], default: null },
          { name: "d", type: ["null", "double"], default: null },
          { name: "f", type: ["null", "float"], default: null },
          { name: "ts", type: ["null", { type: "long", logicalType: "timestamp-millis" }], default: null },
          { name: "us", type: ["null", { type: "long", logicalType: "timestamp-micros" }], default: null },
        ],
      }),
      "edge.avsc",
    );
    const c = new RowConverter(edge, ["l", "d", "f", "ts", "us"]);
    const one = (col: number, v: string) => c.convert(["l", "d", "f", "ts", "us"].map((_, i) => (i === col ? v : "")));
    // avsc throws on 2^53 - 1 (that ended the whole run), and below -2^52 it wrote the wrong
    // number (-2^53 + 2 read back as +2^53 - 2): both are rejects now.
    for (const v of ["9007199254740991", "-9007199254740991", "-9007199254740990", "-4503599627370497"])
      expect(one(0, v)).toMatch(/field 'l': expected an integer \(long/);
    expect((one(0, "9007199254740990") as Record<string, unknown>).l).toBe(9007199254740990);
    expect((one(0, "-4503599627370496") as Record<string, unknown>).l).toBe(-4503599627370496);
    // Number() reads binary, octal and Unicode whitespace; a CSV number has none of them.
    for (const v of ["0b101", "0o17", "\u00a01", "1\u00a0", "\ufeff1", "1\u2028"]) expect(one(1, v)).toMatch(/field 'd': expected a number/);
    expect((one(1, "-1.5E-7") as Record<string, unknown>).d).toBe(-1.5e-7);
    // A float past ±3.4e38 was written to Avro as Infinity (and as the number to JSON).
    expect(one(2, "1e39")).toMatch(/field 'f': expected a number \(float\)/);
    expect((one(2, "3.4e38") as Record<string, unknown>).f).toBe(3.4e38);
    // Date.parse rolls February 29th of 2023 over to March 1st.
    for (const v of ["2023-02-29", "2024-04-31T10:00:00Z"]) expect(one(3, v)).toMatch(/field 'ts': expected epoch milliseconds or an ISO-8601/);
    expect((one(3, "2024-02-29") as Record<string, unknown>).ts).toBe(Date.UTC(2024, 1, 29));
    // timestamp-micros kept only the milliseconds of an ISO fraction; past 2255 it overflowed the long.
    expect((one(4, "2024-01-01T00:00:00.123456Z") as Record<string, unknown>).us).toBe(1704067200123456);
    expect((one(4, "1969-12-31T23:59:59.9999Z") as Record<string, unknown>).us).toBe(-100);
    expect((one(4, "2024-01-01T00:00:00.5Z") as Record<string, unknown>).us).toBe(1704067200500000);
    expect(one(4, "2300-01-01")).toMatch(/field 'us'/);
  });

  test("a schema avsc refuses is refused up front, naming the field (JSON output alone wrote such defaults as they were)", () => {
    const s = (fields: unknown[]) => JSON.stringify({ type: "record", name: "T", fields: [{ name: "id", type: "long" }, ...fields] });
    expect(() => parseSchema(s([{ name: "x", type: "int", default: "abc" }]), "t.avsc")).toThrow(
      /t.avsc is not valid Avro \(field 'x'\): incompatible field default "abc"/,
    );
    expect(() => parseSchema(s([{ name: "x", type: ["null", "int"], default: 5 }]), "t.avsc")).toThrow(/field 'x'.*union defaults must match the first branch/);
    expect(() => parseSchema(s([{ name: "id", type: "string" }]), "t.avsc")).toThrow(/field 'id'.*duplicate field name/);
    expect(() => parseSchema(s([{ name: "e", type: { type: "enum", name: "E", symbols: ["a-b"] } }]), "t.avsc")).toThrow(/field 'e'.*invalid "E" symbol/);
    // A long default avsc accepts but writes wrongly (see the reject test above).
    expect(() => new RowConverter(parseSchema(s([{ name: "x", type: "long", default: -9e15 }]), "t.avsc"), ["id"])).toThrow(
      /schema field 'x': default -9000000000000000 is outside/,
    );
  });

  test("header problems are fatal: duplicate column, missing required field, no header", () => {
    expect(() => new RowConverter(schema, [...header, "id"])).toThrow(/names column 'id' twice/);
    expect(
      () =>
        new RowConverter(
          schema,
          header.filter((h) => h !== "email"),
        ),
    ).toThrow(/lacks required field\(s\) email/);
    expect(() => new RowConverter(schema, [""])).toThrow(/no header row/);
    // An optional field may be absent from the header: it takes its default.
    const noPhone = new RowConverter(schema, header.slice(0, 10));
    expect((noPhone.convert(good.slice(0, 10)) as Record<string, unknown>).phone).toBeNull();
  });
});
