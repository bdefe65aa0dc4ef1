import { openSync, readSync, closeSync, fstatSync } from "node:fs";
import type { ByteRange } from "./reader.ts";
import { CsvParser } from "./parser.ts";

const LF = 10;
const QUOTE = 34;

/**
 * Split the data part of a CSV file (from `dataStart`, after the header) into up to `n` byte
 * ranges that start at true record boundaries. A quoted field may hold newlines, so one pass
 * over the file tracks quote parity (escaped quotes come in pairs and keep it) and takes, for
 * each cut point, the first LF after it that lies outside quotes. The pass also counts LFs so
 * each range knows its first line number.
 */
export function splitRanges(path: string, n: number, dataStart: number, dataFirstLine: number, chunkBytes = 8 << 20): ByteRange[] {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    // Ranges under 64 KiB are not worth a worker.
    n = Math.min(n, Math.floor((size - dataStart) / (64 << 10)));
    if (n <= 1) return [{ start: dataStart, end: size, firstLine: dataFirstLine }];
    const targets = Array.from({ length: n - 1 }, (_, i) => dataStart + Math.floor(((size - dataStart) * (i + 1)) / n));
    const bounds: { at: number; line: number }[] = [];
    const buf = new Uint8Array(chunkBytes);
    let inQuotes = false;
    let lines = 0;
    let t = 0;
    for (let pos = dataStart; pos < size && t < targets.length; ) {
      const len = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (len <= 0) break;
      let i = 0;
      // The next quote at or after i, cached: a file with few or no quotes would otherwise have
      // each line rescan the rest of the chunk for one (quadratic: 20 s for 100k quote-free rows).
      let q = -2;
      while (i < len) {
        // Jump to the next quote or LF, whichever comes first.
        if (q !== -1 && q < i) q = buf.indexOf(QUOTE, i);
        const lf = inQuotes ? -1 : buf.indexOf(LF, i);
        if (inQuotes) {
          // Inside quotes only the closing quote matters, but LFs still count as lines.
          const end = q === -1 || q >= len ? len : q;
          lines += countByte(buf, LF, i, end);
          if (q === -1 || q >= len) {
            i = len;
            break;
          }
          inQuotes = false;
          i = q + 1;
          continue;
        }
        const nextQ = q === -1 || q >= len ? len : q;
        const nextLf = lf === -1 || lf >= len ? len : lf;
        if (nextLf < nextQ) {
          lines++;
          const at = pos + nextLf + 1;
          while (t < targets.length && at > targets[t]!) {
            if (bounds.length === 0 || bounds[bounds.length - 1]!.at !== at) bounds.push({ at, line: dataFirstLine + lines });
            t++;
          }
          i = nextLf + 1;
          continue;
        }
        if (nextQ < len) {
          inQuotes = true;
          i = nextQ + 1;
          continue;
        }
        i = len;
      }
      pos += len;
    }
    const ranges: ByteRange[] = [];
    let start = dataStart;
    let line = dataFirstLine;
    for (const b of bounds) {
      if (b.at >= size) break;
      ranges.push({ start, end: b.at, firstLine: line });
      start = b.at;
      line = b.line;
    }
    ranges.push({ start, end: size, firstLine: line });
    return ranges;
  } finally {
    closeSync(fd);
  }
}

function countByte(buf: Uint8Array, byte: number, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte, from); i !== -1 && i < to; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

/**
 * Read the header record: its fields, the byte offset where data starts, and the data's first
 * line. Handles a BOM and a quoted header spanning lines.
 */
export function readHeader(path: string): { fields: string[]; dataStart: number; dataFirstLine: number } | undefined {
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    const len = readSync(fd, buf, 0, buf.length, 0);
    let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    const bodyStart = i;
    let inQuotes = false;
    let lines = 0;
    for (; i < len; i++) {
      const c = buf[i];
      if (c === QUOTE) inQuotes = !inQuotes;
      else if (c === LF) {
        lines++;
        if (!inQuotes) break;
      }
    }
    if (i === bodyStart && len === 0) return undefined;
    const end = Math.min(i, len);
    const text = new TextDecoder().decode(buf.subarray(bodyStart, end)).replace(/\r$/, "");
    if (text.trim() === "") return undefined;
    const rec = new CsvParser(1).push(text, true).records[0];
    return { fields: rec?.fields ?? [], dataStart: Math.min(end + 1, len), dataFirstLine: 1 + (i < len ? lines : lines + 1) };
  } finally {
    closeSync(fd);
  }
}
