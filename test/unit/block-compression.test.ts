/**
 * The Avro file's block compression: raw DEFLATE (src/codecs/deflate.ts) through ISA-L where
 * libisal2 is installed (scripts/setup.sh installs it, and libisal-dev for the layout check),
 * zlib else; Snappy (src/codecs/snappy.ts) through libsnappy where installed, the JS one else.
 */
import { test, expect } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { rawDeflater, ISAL_ZSTREAM, STREAM_BYTES, LEVEL1_BUF_BYTES } from "../../src/codecs/deflate.ts";
import { avroSnappy, snappyUncompress } from "../../src/codecs/snappy.ts";

/** CRC-32 (IEEE) bit by bit: an independent reference for the blocks' Bun.hash.crc32. */
function crc32(b: Uint8Array): number {
  let c = -1;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ -1) >>> 0;
}

function samples(): [string, Uint8Array][] {
  const text = new TextEncoder().encode(
    Array.from({ length: 20_000 }, (_, i) => `{"id":${i},"email":"user${i}@example.org","score":${(i * 7.31) % 1000}}`).join("\n"),
  );
  return [
    ["text", text],
    ["random 1 MiB", crypto.getRandomValues(new Uint8Array(1 << 20))], // incompressible
    ["one byte", new Uint8Array([42])],
    ["zeros 3 MiB", new Uint8Array(3 << 20)],
    ["text again (state reset between calls)", text.subarray(100, 50_000)],
  ];
}

test("deflate.ts's view of struct isal_zstream matches the installed igzip_lib.h", () => {
  const dir = mkdtempSync(join(tmpdir(), "ingest-isal-"));
  const c = join(dir, "layout.c");
  const lines = [
    ...Object.keys(ISAL_ZSTREAM).map((f) => `  printf("${f} %ld\\n", (long)offsetof(struct isal_zstream, ${f}));`),
    `  printf("SIZE %ld\\n", (long)sizeof(struct isal_zstream));`,
    `  printf("LVL1 %ld\\n", (long)ISAL_DEF_LVL1_DEFAULT);`,
    `  printf("CONST %d %d %d\\n", COMP_OK, NO_FLUSH, IGZIP_DEFLATE);`,
  ];
  writeFileSync(c, `#include <stddef.h>\n#include <stdio.h>\n#include <isa-l/igzip_lib.h>\nint main(void) {\n${lines.join("\n")}\n  return 0;\n}\n`);
  const bin = join(dir, "layout");
  const cc = Bun.spawnSync(["cc", "-o", bin, c], { stderr: "pipe" });
  expect(cc.stderr.toString()).toBe("");
  const got = Object.fromEntries(
    Bun.spawnSync([bin])
      .stdout.toString()
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]),
  );
  for (const [f, off] of Object.entries(ISAL_ZSTREAM)) expect([f, Number(got[f])]).toEqual([f, off]);
  expect(Number(got.SIZE)).toBeLessThanOrEqual(STREAM_BYTES);
  expect(Number(got.LVL1)).toBe(LEVEL1_BUF_BYTES);
  expect(got.CONST).toBe("0 0 0"); // the values deflate.ts writes and expects
});

test("ISA-L is used where installed, and every kind of block inflates back to its bytes (zlib's inflater)", () => {
  const d = rawDeflater();
  expect(d.library).toBe("isa-l");
  for (const [name, src] of samples()) {
    const out = d.deflate(src);
    expect([name, Buffer.from(inflateRawSync(out)).equals(Buffer.from(src))]).toEqual([name, true]);
    if (name === "text") expect(out.length).toBeLessThan(src.length / 3);
  }
});

test("INGEST_ISAL=0 gives zlib, same bytes back", () => {
  const before = process.env.INGEST_ISAL;
  process.env.INGEST_ISAL = "0";
  try {
    const d = rawDeflater();
    expect(d.library).toBe("zlib");
    const src = new TextEncoder().encode("abc".repeat(10_000));
    expect(Buffer.from(inflateRawSync(d.deflate(src))).equals(Buffer.from(src))).toBe(true);
  } finally {
    if (before === undefined) delete process.env.INGEST_ISAL;
    else process.env.INGEST_ISAL = before;
  }
});

test("Avro snappy blocks through libsnappy where installed: Snappy that the JS decoder reads back, then the CRC-32 of the raw bytes", () => {
  for (const env of ["1", "0"]) {
    const before = process.env.INGEST_NATIVE_SNAPPY;
    process.env.INGEST_NATIVE_SNAPPY = env;
    try {
      const s = avroSnappy();
      expect(s.library).toBe(env === "1" ? "libsnappy" : "js");
      for (const [name, src] of [...samples(), ["empty", new Uint8Array(0)] as [string, Uint8Array]]) {
        const block = s.block(src).slice();
        const body = block.subarray(0, block.length - 4);
        expect([name, Buffer.from(snappyUncompress(body)).equals(Buffer.from(src))]).toEqual([name, true]);
        expect([name, new DataView(block.buffer).getUint32(block.length - 4, false)]).toEqual([name, crc32(src)]);
      }
    } finally {
      if (before === undefined) delete process.env.INGEST_NATIVE_SNAPPY;
      else process.env.INGEST_NATIVE_SNAPPY = before;
    }
  }
});
