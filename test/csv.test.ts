import { test, expect, describe } from "bun:test";
import Papa from "papaparse";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CsvParser } from "../src/csv/parser.ts";
import { readRecords } from "../src/csv/reader.ts";
import { splitRanges, readHeader } from "../src/csv/split.ts";
import { RowConverter, parseSchema } from "../src/csv/schema-rows.ts";
import { rng } from "../src/gen/random.ts";
import usersSchema from "../data/users.avsc" with { type: "text" };

const dir = mkdtempSync(join(tmpdir(), "ingest-csv-"));

function parseAll(text: string, chunk: number) {
  const p = new CsvParser(1, 1 << 20);
  const out: { line: number; fields: string[]; error?: string }[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...p.push(text.slice(i, i + chunk), false).records.map((r) => ({ line: r.line, fields: r.fields, error: r.error })));
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
    for (const c of readRecords(path, { start: h.dataStart, end: Bun.file(path).size, firstLine: 2 }, 1 << 16)) out.push(...c.records.map((x) => ({ line: x.line, fields: x.fields })));
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
      for (const range of ranges) for (const c of readRecords(path, range, 1 << 15)) all.push(...c.records.map((x) => ({ line: x.line, fields: x.fields })));
      expect(all).toEqual(single);
    });
  }
});

describe("splitRanges on a file without quotes, and with one quoted field near the end", () => {
  // Quote-free files took a path that rescanned the chunk for a quote on every line; these pin
  // that the cached quote position still gives exact record boundaries and line numbers.
  for (const [name, lastRow] of [["no quotes", "39999,x,y"], ["one late quoted field", '39999,"a\nb",y']] as const) {
    test(`${name}: 4 ranges read back every record once, in order, with line numbers`, () => {
      const dir = mkdtempSync(join(tmpdir(), "split-"));
      const p = join(dir, "plain.csv");
      const rows = Array.from({ length: 39_999 }, (_, i) => `${i},first${i},last${i}`);
      writeFileSync(p, `id,a,b\n${rows.join("\n")}\n${lastRow}\n`);
      const h = readHeader(p)!;
      const ranges = splitRanges(p, 4, h.dataStart, h.dataFirstLine, 1 << 16);
      expect(ranges.length).toBe(4);
      const got: { line: number; f0: string }[] = [];
      for (const r of ranges) for (const c of readRecords(p, r, 1 << 15)) got.push(...c.records.map((x) => ({ line: x.line, f0: x.fields[0]! })));
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
    expect(conv.convert(good)).toEqual({ id: 7, first_name: "Ann", last_name: "Lee", email: "a@x.test", age: 30, country: "FR", city: "Paris", signup_ts: 1700000000000, is_active: true, score: 12.5, phone: null });
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

  test("header problems are fatal: duplicate column, missing required field, no header", () => {
    expect(() => new RowConverter(schema, [...header, "id"])).toThrow(/names column 'id' twice/);
    expect(() => new RowConverter(schema, header.filter((h) => h !== "email"))).toThrow(/lacks required field\(s\) email/);
    expect(() => new RowConverter(schema, [""])).toThrow(/no header row/);
    // An optional field may be absent from the header: it takes its default.
    const noPhone = new RowConverter(schema, header.slice(0, 10));
    expect((noPhone.convert(good.slice(0, 10)) as Record<string, unknown>).phone).toBeNull();
  });
});
