import { UsageError } from "./errors.ts";

/** Parse a Java-style .properties file (key=value or key: value, # and ! comments, \ continuation). */
export function parseProperties(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\\\r?\n[ \t]*/g, "").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) return;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m) throw new UsageError(`${source}:${i + 1}: expected key=value, got '${line}'`);
    out[m[1]!] = m[2]!;
  });
  return out;
}
