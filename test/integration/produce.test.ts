import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import Papa from "papaparse";
import avro from "avsc";
import { inflateRawSync } from "node:zlib";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, symlinkSync, lstatSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Consumer, canCountWireBytes } from "../../src/kafka/index.ts";
import { makeCodec } from "../../src/codecs/index.ts";
import { startBroker, uniqueName, type TestBroker } from "../helpers/broker.ts";
import { runIngest, spawnIngest, ingestArgv, ROOT } from "../helpers/cli.ts";
import usersSchemaText from "../../data/users.avsc" with { type: "text" };

const schema = JSON.parse(usersSchemaText);
const dir = mkdtempSync(join(tmpdir(), "ingest-produce-"));
const ROWS = 3000;
const csvPath = join(dir, "users.csv");
let broker: TestBroker;

/** The oracle: papaparse plus the schema's types written out by hand, independent of RowConverter. */
function expectedRows(path: string): Record<string, unknown>[] {
  const rows = Papa.parse<Record<string, string>>(readFileSync(path, "utf8"), { header: true, skipEmptyLines: true }).data;
  return rows.map((r) => ({
    id: Number(r.id),
    first_name: r.first_name,
    last_name: r.last_name,
    email: r.email,
    age: Number(r.age),
    country: r.country,
    city: r.city,
    signup_ts: Number(r.signup_ts),
    is_active: r.is_active === "true",
    score: Number(r.score),
    phone: r.phone === "" ? null : r.phone,
  }));
}

beforeAll(async () => {
  broker = startBroker({ brokers: 3 });
  const g = await runIngest(["gen", "users", "--rows", String(ROWS), "--out", csvPath, "--seed", "5"]);
  expect(g.code).toBe(0);
});
afterAll(() => broker.stop());

async function readTopic(topic: string, partitions: number, want: number) {
  const c = new Consumer({ "bootstrap.servers": broker.bootstrap, "group.id": uniqueName("g"), log_level: "3" });
  c.assign(Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, offset: -2 })));
  const out: { key: string | null; value: Uint8Array; partition?: number }[] = [];
  const deadline = Date.now() + 20_000;
  while (out.length < want && Date.now() < deadline) {
    const b = c.consume(5000);
    for (let i = 0; i < b.count; i++) {
      out.push({
        key: b.keyLen[i]! < 0 ? null : new TextDecoder().decode(b.data.subarray(b.keyStart[i]!, b.keyStart[i]! + b.keyLen[i]!)),
        value: b.data.slice(b.valStart[i]!, b.valStart[i]! + b.valLen[i]!),
        partition: b.partition[i]!,
      });
    }
    if (b.count === 0) await Bun.sleep(10);
  }
  // Nothing more than expected arrives.
  await Bun.sleep(200);
  out.push(...Array.from({ length: c.consume(5000).count }, () => ({ key: "EXTRA", value: new Uint8Array() })));
  c.close();
  return out;
}

describe("produce round trips through the embedded broker", () => {
  const cases: [string, string][] = [
    ["json", "none"],
    ["json", "gzip"],
    ["json", "snappy"],
    ["json", "lz4"],
    ["json", "zstd"],
    ["avro", "lz4"],
    ["msgpack", "zstd"],
  ];
  for (const [format, compression] of cases) {
    test(`${format} values, ${compression} compression: every row once, keyed by id, decoding to the row`, async () => {
      const topic = uniqueName(`u-${format}-${compression}`);
      broker.createTopic(topic, 4);
      const summaryPath = join(dir, `${topic}.summary.json`);
      const r = await runIngest([
        "produce",
        "--file",
        csvPath,
        "--topic",
        topic,
        "--format",
        format,
        "--compression",
        compression,
        "-b",
        broker.bootstrap,
        "--workers",
        "2",
        "--summary-json",
        summaryPath,
      ]);
      expect(r.stderr).toContain("produce OK");
      expect(r.code).toBe(0);
      const summary = JSON.parse(readFileSync(summaryPath, "utf8"));
      expect(summary).toMatchObject({ rows_read: ROWS, rows_accepted: ROWS, rows_rejected: 0, messages_delivered: ROWS, messages_failed: 0, ok: true });
      expect(broker.retained(topic)).toBe(ROWS);

      const got = await readTopic(topic, 4, ROWS);
      expect(got.length).toBe(ROWS);
      const codec = makeCodec(format, schema);
      const byId = new Map<number, Record<string, unknown>>();
      // Batches go out ordered by partition: each key where librdkafka's default partitioner
      // puts it (CRC-32 of the key modulo the partition count).
      expect(got.filter((m) => m.partition !== Bun.hash.crc32(m.key!) % 4).length).toBe(0);
      for (const m of got) {
        const v = codec.decode(m.value);
        expect(m.key).toBe(String(v.id));
        expect(byId.has(v.id as number)).toBe(false);
        byId.set(v.id as number, v);
      }
      for (const row of expectedRows(csvPath)) expect(byId.get(row.id as number)).toEqual(row);
    }, 60_000);
  }
});

describe("file outputs decode back to the same rows", () => {
  test("JSON array and NDJSON", async () => {
    const arr = join(dir, "out.json");
    const nd = join(dir, "out.ndjson");
    expect((await runIngest(["produce", "--file", csvPath, "--no-kafka", "--json-out", arr, "--workers", "3"])).code).toBe(0);
    expect((await runIngest(["produce", "--file", csvPath, "--no-kafka", "--json-out", nd, "--workers", "2"])).code).toBe(0);
    const expected = expectedRows(csvPath);
    expect(JSON.parse(readFileSync(arr, "utf8"))).toEqual(expected);
    const lines = readFileSync(nd, "utf8").trimEnd().split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual(expected);
  }, 30_000);

  test("JSON array and NDJSON written next to JSON for Kafka (copied from the sent batches, in C and in JS): every accepted row, in order, rejects left out", async () => {
    // Rejected rows between good ones: the file must not take a separator or bytes for them.
    const lines = readFileSync(csvPath, "utf8").trimEnd().split("\n");
    const withBad = join(dir, "json-kafka.csv");
    writeFileSync(withBad, [lines[0], ...lines.slice(1).flatMap((l, i) => (i % 500 === 1 ? ["x,y", l] : [l]))].join("\n") + "\n");
    const expected = expectedRows(csvPath);
    for (const env of [{}, { INGEST_NATIVE_BATCH: "0" }] as Record<string, string>[]) {
      const topic = uniqueName("json-kafka");
      broker.createTopic(topic, 4);
      const arr = join(dir, "kafka-out.json");
      const nd = join(dir, "kafka-out.ndjson");
      for (const out of [arr, nd]) {
        const r = await runIngest(
          [
            "produce",
            "--file",
            withBad,
            "--topic",
            topic,
            "-b",
            broker.bootstrap,
            "--json-out",
            out,
            "--workers",
            "2",
            "--rejects",
            join(dir, "json-kafka.rejects.csv"),
          ],
          { env },
        );
        expect(r.stderr).toContain(`rejected ${Math.ceil((ROWS - 1) / 500)}`);
      }
      expect(JSON.parse(readFileSync(arr, "utf8"))).toEqual(expected);
      expect(
        readFileSync(nd, "utf8")
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l)),
      ).toEqual(expected);
    }
  }, 60_000);

  for (const codec of ["deflate", "snappy", "null"]) {
    test(`Avro container (${codec}): avsc, Debian's python3-avro and avrocat read every row`, async () => {
      const out = join(dir, `out-${codec}.avro`);
      const r = await runIngest(["produce", "--file", csvPath, "--no-kafka", "--avro-out", out, "--avro-codec", codec, "--workers", "3"]);
      expect(r.code).toBe(0);
      const expected = expectedRows(csvPath);
      // avsc
      const viaAvsc: unknown[] = [];
      await new Promise<void>((res, rej) => {
        avro
          .createFileDecoder(out, {
            codecs: {
              null: (b: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, b),
              deflate: (b: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, inflateRawSync(b)),
              snappy: (buf: Buffer, cb: (e: Error | null, b?: Buffer) => void) =>
                import("../../src/codecs/snappy.ts").then((m) => cb(null, Buffer.from(m.snappyUncompress(buf.subarray(0, buf.length - 4))))),
            },
          } as never)
          .on("data", (d: unknown) => viaAvsc.push(d))
          .on("end", () => res())
          .on("error", rej);
      });
      expect(JSON.parse(JSON.stringify(viaAvsc))).toEqual(expected);
      // The reference Python implementation (Debian python3-avro; snappy needs python3-snappy).
      const py = Bun.spawnSync([
        "/usr/bin/python3",
        "-c",
        "import sys, json, avro.datafile, avro.io\nr = avro.datafile.DataFileReader(open(sys.argv[1], 'rb'), avro.io.DatumReader())\nprint(json.dumps([x for x in r], default=lambda d: round(d.timestamp() * 1000)))",
        out,
      ]);
      expect(py.stderr.toString()).toBe("");
      expect(JSON.parse(py.stdout.toString())).toEqual(expected);
      // The reference C implementation's reader (Debian avro-bin).
      const cat = Bun.spawnSync(["avrocat", out]);
      expect(cat.exitCode).toBe(0);
      const catRows = cat.stdout.toString().trim().split("\n");
      expect(catRows.length).toBe(ROWS);
      const first = JSON.parse(catRows[0]!);
      expect(first.id).toBe(expected[0]!.id);
      expect(first.email).toBe(expected[0]!.email);
    }, 30_000);
  }
});

test("an output that is not a regular file (a FIFO, a symlink) is written through, not replaced by the result", async () => {
  const sub = mkdtempSync(join(dir, "special-"));
  const fifo = join(sub, "out.json");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const target = join(sub, "target.avro");
  const link = join(sub, "link.avro");
  symlinkSync(target, link);
  // The reader of the FIFO, as a shell pipeline would have one.
  const reader = Bun.spawn(["cat", fifo], { stdout: "pipe" });
  const r = await runIngest(["produce", "--file", csvPath, "--no-kafka", "--json-out", fifo, "--avro-out", link, "--workers", "3"]);
  // Replaced by a regular file, the FIFO would never be written: end the reader then.
  const killer = setTimeout(() => reader.kill(), 5000);
  const viaFifo = await new Response(reader.stdout).text();
  clearTimeout(killer);
  expect(r.code).toBe(0);
  expect(JSON.parse(viaFifo)).toEqual(expectedRows(csvPath));
  expect(lstatSync(fifo).isFIFO()).toBe(true);
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  const cat = Bun.spawnSync(["avrocat", target]);
  expect(cat.exitCode).toBe(0);
  expect(cat.stdout.toString().trim().split("\n").length).toBe(ROWS);
  // No parts left next to them.
  expect(readdirSync(sub).sort()).toEqual(["link.avro", "out.json", "target.avro"]);
}, 30_000);

test("an existing output file is replaced by the new one", async () => {
  const out = join(dir, "again.ndjson");
  writeFileSync(out, "stale\n".repeat(100_000));
  expect((await runIngest(["produce", "--file", csvPath, "--no-kafka", "--json-out", out, "--workers", "2"])).code).toBe(0);
  expect(
    readFileSync(out, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l)),
  ).toEqual(expectedRows(csvPath));
}, 30_000);

test("parts left by a run that died are not taken into the next run's outputs", async () => {
  const out = join(dir, "leftover.ndjson");
  const avroOut = join(dir, "leftover.avro");
  for (let i = 0; i < 4; i++) {
    writeFileSync(`${out}.part${i}`, "stale\n".repeat(50_000));
    writeFileSync(`${avroOut}.part${i}`, "stale".repeat(50_000));
  }
  const r = await runIngest(["produce", "--file", csvPath, "--no-kafka", "--json-out", out, "--avro-out", avroOut, "--workers", "4"]);
  expect(r.code).toBe(0);
  expect(
    readFileSync(out, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l)),
  ).toEqual(expectedRows(csvPath));
  const got: unknown[] = [];
  await new Promise<void>((res, rej) =>
    avro
      .createFileDecoder(avroOut)
      .on("data", (x: unknown) => got.push(x))
      .on("end", res)
      .on("error", rej),
  );
  expect(got.length).toBe(ROWS);
  expect(readdirSync(dir).filter((f) => f.startsWith("leftover.") && f.includes(".part"))).toEqual([]);
}, 30_000);

// Rejected rows never stop a run and are not failures (exit 0 means every ACCEPTED row was
// delivered and written); the summary and the rejects file carry them.
describe("malformed input: every row accepted or rejected with its line and reason", () => {
  const H = "id,first_name,last_name,email,age,country,city,signup_ts,is_active,score,phone";
  const ok = (id: number) => `${id},Ann,Lee,a${id}@x.test,30,FR,Paris,1700000000000,true,1.5,`;
  const cases: { name: string; text: string | Uint8Array; code: number; accepted?: number; rejected?: number; reasons?: RegExp[]; stderr?: RegExp }[] = [
    {
      name: "unterminated quote",
      text: `${H}\n${ok(1)}\n2,"Ann,Lee,a@x,30,FR,P,1,true,1,\n${ok(3)}\n`,
      code: 0,
      accepted: 2,
      rejected: 1,
      reasons: [/unterminated quoted field/],
    },
    { name: "extra column", text: `${H}\n${ok(1)},extra\n${ok(2)}\n`, code: 0, accepted: 1, rejected: 1, reasons: [/expected 11 columns, found 12/] },
    { name: "missing column", text: `${H}\n1,Ann,Lee\n${ok(2)}\n`, code: 0, accepted: 1, rejected: 1, reasons: [/expected 11 columns, found 3/] },
    {
      name: "bad integer",
      text: `${H}\n${ok(1).replace(",30,", ",thirty,")}\n${ok(2)}\n`,
      code: 0,
      accepted: 1,
      rejected: 1,
      reasons: [/field 'age': expected an integer.*got 'thirty'/],
    },
    { name: "empty lines are skipped, not rejected", text: `${H}\n\n${ok(1)}\n\n\n${ok(2)}\n`, code: 0, accepted: 2, rejected: 0 },
    { name: "UTF-8 BOM", text: `\uFEFF${H}\n${ok(1)}\n`, code: 0, accepted: 1, rejected: 0 },
    { name: "CRLF line endings", text: `${H}\r\n${ok(1)}\r\n${ok(2)}\r\n`, code: 0, accepted: 2, rejected: 0 },
    {
      name: "huge field",
      text: `${H}\n${ok(1).replace("Ann", "A".repeat((1 << 20) + 5))}\n${ok(2)}\n`,
      code: 0,
      accepted: 1,
      rejected: 1,
      reasons: [/field 'first_name': value too large/],
    },
    {
      name: "non-UTF-8 bytes",
      text: Buffer.concat([Buffer.from(`${H}\n${ok(1)}\n1,`), Buffer.from([0xff, 0xfe]), Buffer.from(`,Lee,a@x.test,30,FR,P,1,true,1,\n`)]),
      code: 0,
      accepted: 1,
      rejected: 1,
      reasons: [/invalid UTF-8/],
    },
    { name: "duplicate header", text: `${H},id\n${ok(1)},1\n`, code: 1, stderr: /names column 'id' twice/ },
    { name: "empty file", text: "", code: 1, stderr: /is empty: expected a header row/ },
    { name: "header only", text: `${H}\n`, code: 0, accepted: 0, rejected: 0 },
    { name: "header missing a required field", text: "id,first_name\n1,Ann\n", code: 1, stderr: /lacks required field\(s\) last_name, email/ },
    {
      name: "garbage after a closing quote",
      text: `${H}\n1,"Ann"x,Lee,a@x,30,FR,P,1,true,1,\n${ok(2)}\n`,
      code: 0,
      accepted: 1,
      rejected: 1,
      reasons: [/after a closing quote/],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const sub = mkdtempSync(join(dir, "bad-"));
      const file = join(sub, "in.csv");
      writeFileSync(file, c.text);
      const rejects = join(sub, "rejects.csv");
      const summaryPath = join(sub, "s.json");
      const r = await runIngest([
        "produce",
        "--file",
        file,
        "--no-kafka",
        "--json-out",
        join(sub, "o.ndjson"),
        "--rejects",
        rejects,
        "--summary-json",
        summaryPath,
      ]);
      expect(r.code).toBe(c.code);
      if (c.stderr) {
        expect(r.stderr).toMatch(c.stderr);
        expect(existsSync(summaryPath)).toBe(false); // nothing ran
        return;
      }
      const s = JSON.parse(readFileSync(summaryPath, "utf8"));
      expect(s.rows_accepted).toBe(c.accepted!);
      expect(s.rows_rejected).toBe(c.rejected!);
      expect(s.rows_read).toBe(c.accepted! + c.rejected!);
      const written = readFileSync(join(sub, "o.ndjson"), "utf8").split("\n").filter(Boolean).length;
      expect(written).toBe(c.accepted!);
      if (c.rejected) {
        const rej = Papa.parse<string[]>(readFileSync(rejects, "utf8").trim(), { skipEmptyLines: true }).data;
        expect(rej[0]).toEqual(["line", "reason", "raw"]);
        expect(rej.length - 1).toBe(c.rejected);
        c.reasons!.forEach((re, i) => expect(rej[i + 1]![1]!).toMatch(re));
        expect(Number(rej[1]![0])).toBeGreaterThan(1);
      } else {
        expect(existsSync(rejects)).toBe(false);
      }
    }, 30_000);
  }

  // Empty lines before a rejected row: the fast path (taken with an output to encode, --json-out
  // here) counts them itself; after the field over two lines the reference parser reads on.
  for (const fast of ["1", "0"]) {
    test(`line numbers in the rejects file are the input's, past empty lines and a field over two lines (${fast === "1" ? "fast path" : "reference path"}; breaks if empty lines are not counted)`, async () => {
      const sub = mkdtempSync(join(dir, "lines-"));
      const file = join(sub, "in.csv");
      const bad = (id: number) => `${id},Ann,Lee,a@x,notanumber,FR,P,1,true,1,`;
      writeFileSync(file, `${H}\n${ok(1)}\n\n\r\n${bad(2)}\n${ok(3)}\n4,"multi\nline",Lee,a@x,30,FR,P,1,true,1,\n\n${bad(5)}\n`);
      const r = await runIngest(["produce", "--file", file, "--no-kafka", "--json-out", join(sub, "o.ndjson"), "--rejects", join(sub, "r.csv")], {
        env: { INGEST_CSV_FAST: fast },
      });
      expect(r.code).toBe(0);
      const rej = Papa.parse<string[]>(readFileSync(join(sub, "r.csv"), "utf8").trim()).data;
      expect(rej.slice(1).map((x) => [x[0], x[2]!.slice(0, 2)])).toEqual([
        ["5", "2,"],
        ["10", "5,"],
      ]);
      expect(
        readFileSync(join(sub, "o.ndjson"), "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l).id),
      ).toEqual([1, 3, 4]);
    });
  }
});

test("--schema edge values: what is accepted reads back exactly in python3-avro and JSON, the rest are rejects and the run goes on", async () => {
  const sub = mkdtempSync(join(dir, "edge-"));
  const schemaPath = join(sub, "e.avsc");
  const fields = [
    { name: "id", type: "long" },
    { name: "l", type: ["null", "long"], default: null },
    { name: "f", type: ["null", "float"], default: null },
    { name: "d", type: ["null", "double"], default: null },
    { name: "us", type: ["null", { type: "long", logicalType: "timestamp-micros" }], default: null },
  ];
  writeFileSync(schemaPath, JSON.stringify({ type: "record", name: "E", fields }));
  const file = join(sub, "in.csv");
  // Before: line 3 ended the run (avsc throws on 2^53 - 1), line 4 was written as +2^53 - 2,
  // lines 5-7 were accepted (Infinity in Avro, Number("0b101") = 5, Feb 29 2023 = Mar 1) and
  // line 8 lost its microseconds.
  writeFileSync(
    file,
    "id,l,f,d,us\n1,-4503599627370496,,1E-7,\n2,9007199254740991,,,\n3,-9007199254740990,,,\n4,,1e39,,\n5,,,0b101,\n6,,,,2023-02-29\n7,,,,2024-01-01T00:00:00.123456Z\n",
  );
  const avroOut = join(sub, "o.avro");
  const rejects = join(sub, "r.csv");
  for (const fast of ["1", "0"]) {
    const r = await runIngest(
      ["produce", "--file", file, "--schema", schemaPath, "--no-kafka", "--avro-out", avroOut, "--json-out", join(sub, "o.ndjson"), "--rejects", rejects],
      { env: { INGEST_CSV_FAST: fast } },
    );
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const want = [
      { id: 1, l: -4503599627370496, f: null, d: 1e-7, us: null },
      { id: 7, l: null, f: null, d: null, us: 1704067200123456 },
    ];
    const py = Bun.spawnSync([
      "/usr/bin/python3",
      "-c",
      "import sys, json, avro.datafile, avro.io\nr = avro.datafile.DataFileReader(open(sys.argv[1], 'rb'), avro.io.DatumReader())\nprint(json.dumps([x for x in r], default=lambda d: (d - d.replace(year=1970, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)) // __import__('datetime').timedelta(microseconds=1)))",
      avroOut,
    ]);
    expect(py.stderr.toString()).toBe("");
    expect(JSON.parse(py.stdout.toString())).toEqual(want);
    expect(
      readFileSync(join(sub, "o.ndjson"), "utf8")
        .trimEnd()
        .split("\n")
        .map((x) => JSON.parse(x)),
    ).toEqual(want);
    const rej = Papa.parse<string[]>(readFileSync(rejects, "utf8").trim()).data.slice(1);
    expect(rej.map((x) => [x[0], x[1]!.replace(/:.*/, "")])).toEqual([
      ["3", "field 'l'"],
      ["4", "field 'l'"],
      ["5", "field 'f'"],
      ["6", "field 'd'"],
      ["7", "field 'us'"],
    ]);
  }
  // A default avsc refuses is refused before anything runs, even for JSON output alone (it was written as it was).
  writeFileSync(schemaPath, JSON.stringify({ type: "record", name: "E", fields: [...fields, { name: "n", type: "int", default: "abc" }] }));
  const json = join(sub, "bad.json");
  const r = await runIngest(["produce", "--file", file, "--schema", schemaPath, "--no-kafka", "--json-out", json]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is not valid Avro \(field 'n'\): incompatible field default "abc"/);
  expect(existsSync(json)).toBe(false);
}, 30_000);

test("--input ndjson sends each line byte for byte, keyed by the scanned field; a line without it is rejected", async () => {
  const nd = join(dir, "pre.ndjson");
  expect((await runIngest(["produce", "--file", csvPath, "--no-kafka", "--json-out", nd, "--workers", "3"])).code).toBe(0);
  const lines = readFileSync(nd, "utf8").trimEnd().split("\n");
  expect(lines.length).toBe(ROWS);
  const withBad = join(dir, "pre-bad.ndjson");
  writeFileSync(withBad, `${lines.join("\n")}\n{"no_id":1}\n`);
  const topic = uniqueName("nd");
  broker.createTopic(topic, 3);
  const summaryPath = join(dir, "nd.json");
  const r = await runIngest([
    "produce",
    "--file",
    withBad,
    "--topic",
    topic,
    "-b",
    broker.bootstrap,
    "--workers",
    "2",
    "--rejects",
    join(dir, "nd-rejects.csv"),
    "--summary-json",
    summaryPath,
  ]);
  expect(r.code).toBe(0);
  expect(JSON.parse(readFileSync(summaryPath, "utf8"))).toMatchObject({ rows_read: ROWS + 1, rows_accepted: ROWS, rows_rejected: 1, messages_delivered: ROWS });
  const rej = Papa.parse<string[]>(readFileSync(join(dir, "nd-rejects.csv"), "utf8").trim()).data;
  expect(rej[1]).toEqual([String(ROWS + 1), "key field 'id' not found", '{"no_id":1}']);
  const got = await readTopic(topic, 3, ROWS);
  expect(got.length).toBe(ROWS);
  const sent = new Set(lines);
  for (const m of got) {
    const v = new TextDecoder().decode(m.value);
    expect(sent.delete(v)).toBe(true);
    expect(m.key).toBe(String(JSON.parse(v).id));
  }
  expect(sent.size).toBe(0);
}, 60_000);

test("SIGTERM mid-run: exit 143, a truthful summary, and every reported-delivered row is in the topic", async () => {
  // 1M rows (lz4 keeps them within the embedded broker's retention), and the signal as soon
  // as the first rows arrive: a fixed sleep is outrun (400k rows now take under 0.5 s).
  const ROWS_BIG = 1_000_000;
  const big = join(dir, "big.csv");
  expect((await runIngest(["gen", "users", "--rows", String(ROWS_BIG), "--out", big])).code).toBe(0);
  const topic = uniqueName("sigterm");
  broker.createTopic(topic, 24);
  const summaryPath = join(dir, "sigterm.json");
  const p = spawnIngest(["produce", "--file", big, "--topic", topic, "-b", broker.bootstrap, "--workers", "2", "--summary-json", summaryPath]);
  for (let i = 0; i < 2000 && broker.retained(topic) === 0; i++) await Bun.sleep(10);
  p.kill("SIGTERM");
  const code = await p.exited;
  const stderr = await new Response(p.stderr).text();
  expect(stderr).toMatch(/SIGTERM: stopping/);
  expect(code).toBe(143);
  const s = JSON.parse(readFileSync(summaryPath, "utf8"));
  expect(s.stopped_by_signal).toBe("SIGTERM");
  expect(s.rows_read).toBeLessThan(ROWS_BIG);
  expect(s.messages_failed).toBe(0);
  expect(s.messages_delivered).toBe(s.rows_accepted);
  expect(broker.retained(topic)).toBe(s.messages_delivered);
}, 60_000);

test("the summary's wire bytes: counted per Produce request (interceptor in C), near the statistics' count, above the values uncompressed, well below with lz4", async () => {
  const wire = async (compression: string, env: Record<string, string> = {}) => {
    const topic = uniqueName(`wire-${compression}`);
    broker.createTopic(topic, 2);
    const summaryPath = join(dir, `wire-${compression}-${env.INGEST_NATIVE_BATCH ?? "c"}.json`);
    const r = await runIngest(
      ["produce", "--file", csvPath, "--topic", topic, "--compression", compression, "-b", broker.bootstrap, "--workers", "2", "--summary-json", summaryPath],
      { env },
    );
    expect(r.code).toBe(0);
    const s = JSON.parse(readFileSync(summaryPath, "utf8")) as { value_bytes: number; wire_bytes?: number; messages_delivered: number };
    expect(s.messages_delivered).toBe(ROWS);
    return { values: s.value_bytes, wire: s.wire_bytes! };
  };
  if (process.arch === "x64") expect(canCountWireBytes()).toBe(true); // batch.c's interceptor compiles here
  const none = await wire("none");
  expect(none.wire).toBeGreaterThan(none.values); // keys and framing on top
  expect(none.wire).toBeLessThan(none.values * 1.5);
  const lz4 = await wire("lz4");
  expect(lz4.wire).toBeGreaterThan(0);
  expect(lz4.wire).toBeLessThan(lz4.values * 0.7);
  // Without TinyCC the count comes from statistics events (txbytes: every request, not only Produce).
  const stats = await wire("lz4", { INGEST_NATIVE_BATCH: "0" });
  expect(Math.abs(stats.wire - lz4.wire) / lz4.wire).toBeLessThan(0.05);
}, 60_000);

test("produce re-executes itself once, same pid, under its JIT and malloc options; values already set and INGEST_RUNTIME_TUNING=0 are left alone", async () => {
  const run = async (env: Record<string, string>) => {
    // --format with --no-kafka prints a note: once, not again after the re-exec.
    const p = spawnIngest(
      ["produce", "--file", csvPath, "--no-kafka", "--format", "json", "--no-progress", "--limit", "10", "--rejects", join(dir, "jit-rejects.csv")],
      { env: { LOG_LEVEL: "debug", ...env } },
    );
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(0);
    expect(stderr.match(/^note: --no-kafka/gm)?.length).toBe(1);
    const lines = stderr
      .split("\n")
      .filter((l) => l.includes("runtime options in effect"))
      .map((l) => JSON.parse(l) as { pid: number; options: Record<string, string> });
    return { pid: p.pid, lines };
  };
  const tuned = await run({});
  expect(tuned.lines.length).toBe(1);
  expect(tuned.lines[0]!.pid).toBe(tuned.pid); // execve, not a child process: signals and exit code stay the caller's
  expect(tuned.lines[0]!.options).toEqual({
    BUN_JSC_maximumInliningCallerBytecodeCost: "2000",
    GLIBC_TUNABLES: "glibc.malloc.trim_threshold=536870912:glibc.malloc.top_pad=67108864",
  });
  // Values the user set win.
  const own = await run({ BUN_JSC_maximumInliningCallerBytecodeCost: "3000", GLIBC_TUNABLES: "glibc.malloc.trim_threshold=1048576" });
  expect(own.lines.map((l) => l.options)).toEqual([
    { BUN_JSC_maximumInliningCallerBytecodeCost: "3000", GLIBC_TUNABLES: "glibc.malloc.trim_threshold=1048576" },
  ]);
  // One of the two set: only the other is added.
  const half = await run({ GLIBC_TUNABLES: "" });
  expect(half.lines.map((l) => l.options)).toEqual([{ BUN_JSC_maximumInliningCallerBytecodeCost: "2000", GLIBC_TUNABLES: "" }]);
  expect((await run({ INGEST_RUNTIME_TUNING: "0" })).lines).toEqual([]);
  expect((await run({ INGEST_JIT_TUNING: "0" })).lines).toEqual([]);
}, 60_000);

test("a live progress bar on a terminal (rows, rate, ETA), none when stderr is piped or with --no-progress", async () => {
  const big = join(dir, "progress.csv");
  // Big enough to outlast several 100 ms refreshes on a fast machine (300k rows took 0.25 s on CI: one 0% frame, no ETA).
  expect((await runIngest(["gen", "users", "--rows", "1500000", "--out", big])).code).toBe(0);
  const args = ["produce", "--file", big, "--no-kafka", "--json-out", join(dir, "progress.json")];
  // util-linux script(1) gives the run a pseudo-terminal; what it drew comes back on stdout.
  const onTty = (extra: string[]) => {
    const cmd = ingestArgv(...args, ...extra)
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: "warn" } });
    expect(r.exitCode).toBe(0);
    return r.stdout.toString();
  };
  const drawn = onTty([]);
  expect(drawn).toContain("produce OK");
  expect(drawn).toMatch(/\r\x1b\[2Kproduce \[[#-]{24}\] +\d+% [\d,]+ bytes, [\d,]+\/s ETA [\d.]+s \| [\d,]+ rows, 0 delivered/);
  expect(onTty(["--no-progress"])).not.toMatch(/ETA|\x1b\[2K/);
  const piped = await runIngest(args);
  expect(piped.code).toBe(0);
  expect(piped.stderr).not.toMatch(/ETA|\x1b\[2K/);
}, 60_000);

test("a topic that does not exist stops the run before anything is sent", async () => {
  const r = await runIngest(["produce", "--file", csvPath, "--topic", uniqueName("nope"), "-b", broker.bootstrap]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error: topic '.*' does not exist/m);
});

test("inputs and outputs that cannot work stop the run up front with a clear error, nothing written", async () => {
  const sub = mkdtempSync(join(dir, "bad-io-"));
  const fifo = join(sub, "in.csv");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  // Exit 1: the input cannot be read; exit 2: an output flag names a path that cannot be written.
  const cases: [string[], number, RegExp][] = [
    [["--file", sub], 1, /^error: cannot read .*: a directory$/m],
    [["--file", fifo], 1, /^error: cannot read .*: not a regular file/m], // would wait for a writer if opened
    [["--file", "-"], 1, /^error: cannot read standard input/m],
    [["--file", csvPath, "--json-out", join(sub, "no", "x.json")], 2, /^error: --json-out: cannot write .*x\.json: directory .* does not exist$/m],
    [["--file", csvPath, "--json-out", sub], 2, /^error: --json-out: cannot write .*: it is a directory$/m], // was found only after sending
    [["--file", csvPath, "--avro-out", join(sub, "no", "x.avro")], 2, /^error: --avro-out: cannot write .*: directory .* does not exist$/m],
    [
      ["--file", csvPath, "--json-out", join(sub, "ok.json"), "--rejects", join(sub, "no", "r.csv")],
      2,
      /^error: --rejects: cannot write .*: directory .* does not exist$/m,
    ],
    // --summary-json was written after the run (exit 70 there).
    [["--file", csvPath, "--json-out", join(sub, "x.json"), "--summary-json", sub], 2, /^error: --summary-json: cannot write .*: it is a directory$/m],
  ];
  for (const [args, code, want] of cases) {
    const r = await runIngest(["produce", ...args, "--no-kafka", "--no-progress"]);
    expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code, stderr: expect.stringMatching(want) });
  }
  expect(readdirSync(sub)).toEqual(["in.csv"]);
}, 30_000);

test("gen is deterministic: same seed, same bytes; another seed, other bytes", async () => {
  const a = await runIngest(["gen", "users", "--rows", "500", "--seed", "9"]);
  const b = await runIngest(["gen", "users", "--rows", "500", "--seed", "9"]);
  const c = await runIngest(["gen", "users", "--rows", "500", "--seed", "10"]);
  expect(a.stdout).toBe(b.stdout);
  expect(a.stdout).not.toBe(c.stdout);
  expect(a.stdout.trim().split("\n").length).toBe(501);
  const o = await runIngest(["gen", "orders", "--rows", "5", "--customers", "10"]);
  const rows = Papa.parse<Record<string, string>>(o.stdout, { header: true, skipEmptyLines: true }).data;
  expect(rows.length).toBe(5);
  for (const r of rows) {
    expect(Number(r.customer_id)).toBeGreaterThanOrEqual(1);
    expect(Number(r.customer_id)).toBeLessThanOrEqual(10);
    expect(r.product_id).toMatch(/^P\d{4}$/);
    expect(r.order_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

test("the CSV fast path and the reference path (INGEST_CSV_FAST=0) send the same messages, in order, and write the same files", async () => {
  // One worker and one partition each, so the topic holds the rows in input order.
  const file = join(dir, "fast-vs-ref.csv");
  const lines = readFileSync(csvPath, "utf8").split("\n");
  lines.splice(
    10,
    0,
    "x,bad,row",
    '9001,"multi',
    'line",L,e@x,30,US,City,1700000000000,true,1.5,',
    "",
    '9002,Ann,"O""Neil",a@x,31,US,"Zürich, CH",2023-11-14T22:13:20Z,TRUE,007.50,\\tab',
  );
  writeFileSync(file, lines.join("\r\n"));
  for (const format of ["json", "avro"]) {
    const got: { msgs: { key: string | null; value: string }[]; json: string; rejects: string }[] = [];
    for (const fast of ["1", "0"]) {
      const topic = uniqueName(`fast-${format}-${fast}`);
      broker.createTopic(topic, 1);
      const json = join(dir, `${topic}.json`);
      const rejects = join(dir, `${topic}.rejects`);
      const r = await runIngest(
        ["produce", "--file", file, "--topic", topic, "--format", format, "-b", broker.bootstrap, "--workers", "1", "--json-out", json, "--rejects", rejects],
        { env: { INGEST_CSV_FAST: fast } },
      );
      expect(r.stderr).toContain("produce OK");
      const msgs = (await readTopic(topic, 1, ROWS + 2)).map((m) => ({ key: m.key, value: Buffer.from(m.value).toString("hex") }));
      expect(msgs.length).toBe(ROWS + 2);
      got.push({ msgs, json: readFileSync(json, "utf8"), rejects: readFileSync(rejects, "utf8") });
    }
    expect(got[0]!.rejects.split("\n").length).toBe(3);
    expect(got[0]).toEqual(got[1]!);
  }
}, 60_000);

test("forEachLine (the NDJSON reader): every non-empty line once, in order, with its line number, at any chunk size", async () => {
  const { forEachLine } = await import("../../src/produce/lines.ts");
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const path = join(dir, "lines.ndjson");
  for (let f = 0; f < 200; f++) {
    const lines: string[] = [];
    for (let k = Math.floor(rnd() * 40); k > 0; k--)
      lines.push(rnd() < 0.15 ? "" : `{"id":${k},"s":"${"é✓x".repeat(Math.floor(rnd() * 30))}"}${rnd() < 0.2 ? "\r" : ""}`);
    const text = (rnd() < 0.2 ? "\uFEFF" : "") + lines.join("\n") + (rnd() < 0.5 ? "\n" : "");
    writeFileSync(path, text);
    const size = Buffer.byteLength(text);
    const got: [number, string][] = [];
    forEachLine(
      path,
      { start: 0, end: size, firstLine: 1 },
      (buf, from, to, line) => void got.push([line, new TextDecoder().decode(buf.subarray(from, to))]),
      undefined,
      1 + Math.floor(rnd() * 64),
    );
    const want = lines.map((l, i) => [i + 1, l.replace(/\r$/, "")] as [number, string]).filter(([, l]) => l.length > 0);
    expect(got).toEqual(want);
  }
});
