/**
 * The CSV parser as it was before the fast path (src/csv/parser.ts as of 5cd9c5c), kept verbatim
 * as the oracle the property tests in test/unit/csv.test.ts compare the current parser with.
 */
/**
 * An RFC 4180 CSV record parser over decoded text, fed chunk by chunk.
 *
 * Fields are separated by ',', records by LF or CRLF; a field in double quotes may hold commas,
 * quotes (doubled) and newlines. Unquoted fields are taken literally (a stray quote inside one is
 * kept, as papaparse does). Every record carries the 1-based line its first character is on.
 * Text after a closing quote other than a separator makes the record malformed (it is reported,
 * not parsed). A record longer than `maxRecordChars` (e.g. an unterminated quote) is reported
 * and parsing resumes on the line after the one it started on, so memory stays bounded.
 */
export class CsvRecord {
  constructor(
    public fields: string[],
    /** Line number of the record's first character. */
    public line: number,
    /** The text the record came from and its span, to recover the raw record for rejects. */
    private readonly text: string,
    private readonly from: number,
    private readonly to: number,
    /** Set when the record could not be parsed: the reason. */
    public error: string | undefined = undefined,
  ) {}

  /** The original text (without its line terminator), truncated to `max` characters. */
  raw(max = 1000): string {
    const raw = this.text.slice(this.from, this.to).replace(/\r?\n$/, "");
    return raw.length > max ? `${raw.slice(0, max)}...` : raw;
  }
}

export interface ParseResult {
  records: CsvRecord[];
  /** Empty lines passed over. */
  skipped: number;
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

export class CsvParserV1 {
  private pending = "";
  /** Line number of the first character of `pending`. */
  private line: number;
  private readonly maxRecordChars: number;

  constructor(firstLine = 1, maxRecordChars = 16 << 20) {
    this.line = firstLine;
    this.maxRecordChars = maxRecordChars;
  }

  /**
   * Parse complete records from `text` (appended to what is pending). With `final`, whatever
   * remains is the last record (a missing final newline is fine).
   */
  push(text: string, final = false): ParseResult {
    const s = this.pending.length ? this.pending + text : text;
    const records: CsvRecord[] = [];
    let skipped = 0;
    let pos = 0;
    let line = this.line;
    const len = s.length;
    let nl = -2; // cached index of the next LF at or after pos (-1: none)

    outer: while (pos < len) {
      const start = pos;
      const startLine = line;
      // Empty line (LF or CRLF).
      const c0 = s.charCodeAt(pos);
      if (c0 === LF || (c0 === CR && s.charCodeAt(pos + 1) === LF)) {
        pos += c0 === LF ? 1 : 2;
        line++;
        skipped++;
        continue;
      }
      if (c0 === CR && pos + 1 === len && !final) break; // CR at the chunk end: wait for its LF
      const fields: string[] = [];
      let error: string | undefined;
      for (;;) {
        if (s.charCodeAt(pos) === QUOTE) {
          // Quoted field: find the closing quote, skipping doubled ones.
          let j = pos + 1;
          let value = "";
          let from = j;
          for (;;) {
            const q = s.indexOf('"', j);
            if (q === -1) {
              if (!final && len - start <= this.maxRecordChars) {
                pos = start;
                line = startLine;
                break outer; // need more text
              }
              return this.oversized(s, start, startLine, records, skipped, final, q === -1 && final ? "unterminated quoted field" : undefined);
            }
            if (s.charCodeAt(q + 1) === QUOTE) {
              value += s.slice(from, q + 1);
              j = from = q + 2;
              continue;
            }
            if (q + 1 === len && !final) {
              pos = start;
              line = startLine;
              break outer; // can't tell yet whether the quote is doubled
            }
            value += s.slice(from, q);
            j = q + 1;
            break;
          }
          fields.push(value);
          line += countLF(s, pos, j);
          pos = j;
          const c = s.charCodeAt(pos);
          if (c === COMMA) {
            pos++;
            continue;
          }
          if (c === LF) {
            pos++;
            line++;
            break;
          }
          if (c === CR && s.charCodeAt(pos + 1) === LF) {
            pos += 2;
            line++;
            break;
          }
          if (pos >= len || (c === CR && pos + 1 >= len)) {
            if (!final) {
              pos = start;
              line = startLine;
              break outer;
            }
            if (pos < len) pos = len; // a lone CR ends the file
            break;
          }
          // Garbage after a closing quote: the record is malformed; skip to its line end.
          error = `unexpected character '${s[pos]}' after a closing quote`;
          const end = s.indexOf("\n", pos);
          if (end === -1 && !final) {
            pos = start;
            line = startLine;
            break outer;
          }
          pos = end === -1 ? len : end + 1;
          line++;
          break;
        } else {
          if (nl !== -1 && nl < pos) nl = s.indexOf("\n", pos);
          const comma = s.indexOf(",", pos);
          if (comma !== -1 && (nl === -1 || comma < nl)) {
            fields.push(s.slice(pos, comma));
            pos = comma + 1;
            continue;
          }
          if (nl === -1) {
            if (!final) {
              pos = start;
              line = startLine;
              break outer;
            }
            fields.push(s.slice(pos, s.charCodeAt(len - 1) === CR ? len - 1 : len));
            pos = len;
            break;
          }
          fields.push(s.slice(pos, s.charCodeAt(nl - 1) === CR && nl - 1 >= pos ? nl - 1 : nl));
          pos = nl + 1;
          line++;
          break;
        }
      }
      records.push(new CsvRecord(fields, startLine, s, start, pos, error));
    }
    this.pending = s.slice(pos);
    this.line = line;
    if (final && this.pending.length) {
      // Only reachable for a lone CR at the very end.
      this.pending = "";
    }
    return { records, skipped };
  }

  /** The record starting at `start` is too long or never closes: report it, resume after its first line. */
  private oversized(s: string, start: number, startLine: number, records: CsvRecord[], skipped: number, final: boolean, why?: string): ParseResult {
    const firstLineEnd = s.indexOf("\n", start);
    const reason = why ?? `record longer than ${this.maxRecordChars} characters (unterminated quote?)`;
    const lineEnd = firstLineEnd === -1 ? Math.min(s.length, start + 1000) : firstLineEnd;
    records.push(new CsvRecord([], startLine, s, start, lineEnd, `${reason}; parsing resumes on line ${startLine + 1}`));
    this.pending = "";
    this.line = startLine + 1;
    const rest = firstLineEnd === -1 ? "" : s.slice(firstLineEnd + 1);
    if (!rest) return { records, skipped };
    const more = this.push(rest, final);
    return { records: records.concat(more.records), skipped: skipped + more.skipped };
  }

  /** Characters buffered waiting for the rest of a record. */
  get buffered(): number {
    return this.pending.length;
  }
}

function countLF(s: string, a: number, b: number): number {
  let n = 0;
  for (let i = s.indexOf("\n", a); i !== -1 && i < b; i = s.indexOf("\n", i + 1)) n++;
  return n;
}
