import { openSync, readSync, closeSync, fstatSync, statSync, type Stats } from "node:fs";
import { CsvParser, type RowCallback } from "./parser.ts";
import { IngestError } from "../core/errors.ts";

/** A byte range of a CSV file that starts at a record boundary, and the line it starts on. */
export interface ByteRange {
  start: number;
  end: number;
  firstLine: number;
}

const LF = 10;
// ignoreBOM: true keeps U+FEFF in the text. The file's leading BOM is cut off as bytes before
// decoding; a decoder that dropped it would also drop a U+FEFF that merely starts a chunk.
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Call `onRow` with each record of `path` within `range` (one reused `CsvRow`:
 * copy what must outlive the call), and `onChunk` after each chunk with the bytes of the range
 * consumed so far. Either returning false stops the reading. Records with invalid UTF-8 come
 * with `error` set; a leading BOM is dropped. Returns the number of empty lines passed over.
 */
export function forEachRecord(
  path: string,
  range: ByteRange,
  onRow: RowCallback,
  onChunk?: (bytesRead: number) => boolean | void,
  chunkBytes = 1 << 20,
): number {
  const parser = new CsvParser(range.firstLine);
  let skipped = 0;
  const markInvalid: RowCallback = (r) => {
    if (!r.error && r.fields.some((f) => f.includes("\uFFFD"))) r.error = "invalid UTF-8 bytes";
    return onRow(r);
  };
  // A record cut by a chunk end is parsed with the next chunk: if its first part was invalid
  // UTF-8 (decoded with U+FFFD), the records of the next chunk are checked too.
  let pendingInvalid = false;
  for (const c of textChunks(path, range, chunkBytes)) {
    skipped += parser.parse(c.text, c.eof, c.invalid || pendingInvalid ? markInvalid : onRow);
    pendingInvalid = (c.invalid || pendingInvalid) && parser.buffered > 0;
    if (parser.stopped || onChunk?.(c.bytesRead) === false) break;
  }
  return skipped;
}

interface TextChunk {
  text: string;
  /** Whether `text` came from bytes that are not valid UTF-8 (decoded leniently, with U+FFFD). */
  invalid: boolean;
  /** The last chunk of the range. */
  eof: boolean;
  /** Bytes of the range consumed once this chunk is parsed. */
  bytesRead: number;
}

/** Whole lines of a byte range: buf[start..end), the file's BOM left out. */
export interface ByteChunk {
  buf: Uint8Array;
  start: number;
  end: number;
  /** The last chunk of the range. */
  eof: boolean;
  /** Bytes of the range consumed once this chunk is used. */
  bytesRead: number;
}

/**
 * The bytes of `range`, chunk by chunk, each cut after an LF (so whole lines, and never inside
 * a multi-byte UTF-8 sequence); a line longer than the buffer grows it. A leading BOM is left
 * out. The buffer is reused: finish with a chunk before asking for the next.
 */
export function* lineChunks(path: string, range: ByteRange, chunkBytes: number): Generator<ByteChunk> {
  const fd = openForRead(path);
  try {
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
      const cut = eof ? avail : buf.lastIndexOf(LF, avail - 1) + 1;
      if (cut === 0) {
        // No LF in a whole buffer: one huge line. Grow (the parser bounds the record itself).
        if (buf.length >= 1 << 30) throw new IngestError(`${path}: a single line longer than 1 GiB`);
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf.subarray(0, avail));
        buf = bigger;
        carry = avail;
        continue;
      }
      const start = first && range.start === 0 && cut >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
      first = false;
      yield { buf, start, end: cut, eof, bytesRead: pos - range.start - (avail - cut) };
      buf.copyWithin(0, cut, avail);
      carry = avail - cut;
      if (eof && carry === 0) break;
    }
  } finally {
    closeSync(fd);
  }
}

/** The decoded text of `range`, chunk by chunk (lineChunks, decoded). */
function* textChunks(path: string, range: ByteRange, chunkBytes: number): Generator<TextChunk> {
  for (const c of lineChunks(path, range, chunkBytes)) {
    const { text, invalid } = decode(c.buf.subarray(c.start, c.end));
    yield { text, invalid, eof: c.eof, bytesRead: c.bytesRead };
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

/** Open a file for reading, or fail with one line naming it and why. */
export function openForRead(path: string): number {
  if (path === "-") throw new IngestError("cannot read standard input (-): the file is read in byte ranges, one per worker; save the data to a file first");
  try {
    return openSync(path, "r");
  } catch (e) {
    throw new IngestError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The size of input file `path`: a regular file (workers read it by byte ranges, so not a pipe). */
export function fileSize(path: string): number {
  let st: Stats | undefined;
  try {
    st = statSync(path); // before opening: opening a FIFO would wait for a writer
  } catch {
    // openForRead says why
  }
  if (st && !st.isFile()) {
    const what = st.isDirectory() ? "a directory" : "not a regular file (the file is read in byte ranges, one per worker: save a pipe's data to a file first)";
    throw new IngestError(`cannot read ${path}: ${what}`);
  }
  const fd = openForRead(path);
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}
