import { openSync, readSync, closeSync, fstatSync } from "node:fs";
import { CsvParser, type CsvRecord } from "./parser.ts";
import { IngestError } from "../cli/errors.ts";

/** A byte range of a CSV file that starts at a record boundary, and the line it starts on. */
export interface ByteRange {
  start: number;
  end: number;
  firstLine: number;
}

export interface RecordChunk {
  records: CsvRecord[];
  skipped: number;
  /** Bytes of the file consumed so far in this range. */
  bytesRead: number;
}

const LF = 10;
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

/**
 * Read records of `path` within `range`, chunk by chunk (bounded memory). Chunks are cut after
 * an LF byte, which never occurs inside a multi-byte UTF-8 sequence, so text decodes cleanly.
 * Records with invalid UTF-8 come back with `error` set. A leading BOM is dropped.
 */
export function* readRecords(path: string, range: ByteRange, chunkBytes = 1 << 20): Generator<RecordChunk> {
  const fd = openForRead(path);
  try {
    const parser = new CsvParser(range.firstLine);
    let buf = new Uint8Array(chunkBytes);
    let carry = 0; // bytes at buf[0..carry) left from the previous read (after its last LF)
    let pos = range.start;
    let first = true;
    while (pos < range.end || carry > 0) {
      const want = Math.min(buf.length - carry, range.end - pos);
      const n = want > 0 ? readSync(fd, buf, carry, want, pos) : 0;
      pos += n;
      const avail = carry + n;
      const eof = pos >= range.end || n === 0;
      let cut = eof ? avail : buf.lastIndexOf(LF, avail - 1) + 1;
      if (cut === 0) {
        // No LF in a whole buffer: one huge line. Grow (the parser bounds the record itself).
        if (buf.length >= 1 << 30) throw new IngestError(`${path}: a single line longer than 1 GiB`);
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf.subarray(0, avail));
        buf = bigger;
        carry = avail;
        continue;
      }
      let bytes = buf.subarray(0, cut);
      if (first && range.start === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      first = false;
      const { text, invalid } = decode(bytes);
      const res = parser.push(text, eof);
      if (invalid) markInvalidUtf8(res.records);
      buf.copyWithin(0, cut, avail);
      carry = avail - cut;
      yield { records: res.records, skipped: res.skipped, bytesRead: pos - range.start - carry };
      if (eof && carry === 0) break;
    }
  } finally {
    closeSync(fd);
  }
}

function decode(bytes: Uint8Array): { text: string; invalid: boolean } {
  try {
    return { text: fatalUtf8.decode(bytes), invalid: false };
  } catch {
    // Rare path: decode leniently; the records holding U+FFFD from bad bytes are rejected.
    return { text: lenientUtf8.decode(bytes), invalid: true };
  }
}

function markInvalidUtf8(records: CsvRecord[]): void {
  for (const r of records) {
    if (!r.error && r.fields.some((f) => f.includes("\uFFFD"))) r.error = "invalid UTF-8 bytes";
  }
}

/** Open a file for reading, or fail with one line naming it and why. */
export function openForRead(path: string): number {
  try {
    return openSync(path, "r");
  } catch (e) {
    throw new IngestError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function fileSize(path: string): number {
  const fd = openForRead(path);
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}
