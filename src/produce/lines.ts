import { openSync, readSync, closeSync, fstatSync } from "node:fs";
import { lineChunks, type ByteRange } from "../csv/reader.ts";

const LF = 10;
const QUOTE = 34;

/**
 * Split a file of lines into up to `n` byte ranges at line starts (no quoting: for NDJSON a
 * newline never occurs inside a value, JSON escapes it).
 */
export function splitLines(path: string, n: number): ByteRange[] {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const ranges: ByteRange[] = [];
    let start = 0;
    const probe = new Uint8Array(1 << 16);
    n = Math.min(n, Math.floor(size / (64 << 10)));
    for (let i = 1; i < n; i++) {
      let at = Math.floor((size * i) / n);
      if (at <= start) continue;
      // The next LF at or after the cut.
      for (;;) {
        const k = readSync(fd, probe, 0, probe.length, at);
        if (k <= 0) {
          at = size;
          break;
        }
        const j = probe.subarray(0, k).indexOf(LF);
        if (j >= 0) {
          at += j + 1;
          break;
        }
        at += k;
      }
      if (at >= size) break;
      ranges.push({ start, end: at, firstLine: 0 });
      start = at;
    }
    ranges.push({ start, end: size, firstLine: 0 });
    // Line numbers of each range's first line, for rejects: count LFs up to each start.
    let line = 1;
    let counted = 0;
    const buf = new Uint8Array(1 << 20);
    for (const r of ranges) {
      while (counted < r.start) {
        const k = readSync(fd, buf, 0, Math.min(buf.length, r.start - counted), counted);
        if (k <= 0) break;
        for (let i = buf.indexOf(LF); i !== -1 && i < k; i = buf.indexOf(LF, i + 1)) line++;
        counted += k;
      }
      r.firstLine = line;
    }
    return ranges;
  } finally {
    closeSync(fd);
  }
}

/**
 * Lines of `range` as byte spans of a reusable buffer, chunk by chunk: `onLine(buf, from, to)`
 * for each non-empty line (without its LF, and without a CR before it); a leading BOM is left
 * out. `onChunk` runs after each chunk but the last, before the buffer is reused.
 */
export function forEachLine(
  path: string,
  range: ByteRange,
  onLine: (buf: Uint8Array, from: number, to: number, line: number) => boolean | void,
  onChunk?: (bytesRead: number) => boolean | void,
  chunkBytes = 1 << 20,
): void {
  let line = range.firstLine;
  for (const { buf, start, end, eof, bytesRead } of lineChunks(path, range, chunkBytes)) {
    for (let i = start; i < end; ) {
      let nl = buf.indexOf(LF, i);
      if (nl === -1 || nl >= end) nl = end; // the last line, without LF
      const to = nl > i && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (to > i && onLine(buf, i, to, line) === false) return;
      line++;
      i = nl + 1;
    }
    if (eof) return;
    if (onChunk?.(bytesRead) === false) return;
  }
}

/**
 * Where the value of top-level-looking field `"name":` is in a JSON line: a number or a string
 * (without its quotes). A fast scan, not a parser: the first occurrence of `"name":` wins, which
 * is right for the flat records this mode is for. Returns [from, to] or null.
 */
export function findJsonField(buf: Uint8Array, from: number, to: number, pattern: Uint8Array): [number, number] | null {
  let at = indexOfBytes(buf, pattern, from, to);
  if (at < 0) return null;
  at += pattern.length;
  while (at < to && (buf[at] === 32 || buf[at] === 9)) at++;
  if (buf[at] === QUOTE) {
    let j = at + 1;
    while (j < to && buf[j] !== QUOTE) j += buf[j] === 92 ? 2 : 1;
    return j < to ? [at + 1, j] : null;
  }
  let j = at;
  while (j < to && buf[j] !== 44 && buf[j] !== 125 && buf[j] !== 32) j++;
  return j > at ? [at, j] : null;
}

function indexOfBytes(buf: Uint8Array, pat: Uint8Array, from: number, to: number): number {
  const first = pat[0]!;
  for (let i = buf.indexOf(first, from); i !== -1 && i + pat.length <= to; i = buf.indexOf(first, i + 1)) {
    let k = 1;
    while (k < pat.length && buf[i + k] === pat[k]) k++;
    if (k === pat.length) return i;
  }
  return -1;
}
