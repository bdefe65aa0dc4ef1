import pino from "pino";

/** Keys whose values are secrets wherever they appear (librdkafka props, URLs, config). */
const SECRET_KEY = /(password|secret|sasl\.oauthbearer\.config|ssl\.key\.pem|token|credential)/i;

/** Replace `user:pass@` in URLs with `user:***@`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]*@/i, "$1***@");
}

/** A copy of a config map that is safe to log: secret values masked, URLs stripped of passwords. */
export function redactConfig(conf: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(conf)) out[k] = SECRET_KEY.test(k) ? "***" : redactUrl(v);
  return out;
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
export const LOG_LEVELS: LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/**
 * JSON lines on stderr (stdout stays free for data, e.g. `consume --sink stdout`), or each line
 * handed to `human` as "HH:MM:SS LEVEL message key=value ..." for a person at a terminal.
 */
function makeLogger(level: LogLevel, human?: (line: string) => void) {
  const dest = human ? { write: (json: string) => human(humanLine(json)) } : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["*.password", "*.sasl.password", "password", "conf.*password*"], censor: "***" },
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** One pino JSON line as a person reads it: time, level, message, then the other fields. */
export function humanLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, pid: _pid, ...rest } = o;
  const t = typeof time === "string" ? time.slice(11, 19) : "";
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return `${t} ${String(level).toUpperCase().padEnd(5)} ${String(msg ?? "")}${fields.length ? `  ${fields.join(" ")}` : ""}\n`;
}

export let log = makeLogger((process.env.LOG_LEVEL as LogLevel) || "info");

export const LOG_FORMATS = ["auto", "json", "human"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * Switch the log lines to the human format, written through `out` (a live status line's print,
 * so logs appear above it), or back to JSON lines. Keeps the level.
 */
export function setLogFormat(format: "json" | "human", out: (line: string) => void = (l) => void process.stderr.write(l)): void {
  log = makeLogger(log.level as LogLevel, format === "human" ? out : undefined);
}

/** --log-format auto: human when stderr is a terminal, JSON lines otherwise (pipes, log shippers). */
export function resolveLogFormat(format: LogFormat | undefined): "json" | "human" {
  return format === "json" || format === "human" ? format : process.stderr.isTTY ? "human" : "json";
}

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
