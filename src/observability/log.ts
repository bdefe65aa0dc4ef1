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

/** JSON lines on stderr; stdout stays free for data (e.g. `consume --sink stdout`). */
function makeLogger(level: LogLevel) {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["*.password", "*.sasl.password", "password", "conf.*password*"], censor: "***" },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

export let log = makeLogger((process.env.LOG_LEVEL as LogLevel) || "info");

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
