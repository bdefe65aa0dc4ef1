import { readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { IngestError, UsageError } from "../core/errors.ts";
import { parseProperties } from "../core/properties.ts";
import { brokerVersionProps } from "../kafka/index.ts";
import { redactUrl } from "../observability/log.ts";
import { defineFlags, inGroup } from "./flags.ts";

/** Flags of every subcommand that talks to Kafka. */
export const KAFKA_FLAGS = inGroup(
  "Kafka options (flags win over environment, environment over defaults)",
  defineFlags({
    brokers: {
      kind: "string",
      short: "b",
      placeholder: "LIST",
      defaultText: "127.0.0.1:9092",
      env: "KAFKA_BOOTSTRAP_SERVERS",
      envReadBy: "kafkaConfig",
      help: "bootstrap servers; precedence, lowest first: defaults, environment, --kafka-config, -X, --brokers",
    },
    X: { kind: "string", short: "X", multiple: true, placeholder: "KEY=VALUE", help: "any librdkafka property, repeatable (as kcat)" },
    "kafka-config": {
      kind: "path",
      env: "KAFKA_CONFIG_FILE",
      envReadBy: "kafkaConfig",
      help: "Java-style properties file of librdkafka settings, e.g. security.protocol=SASL_SSL, sasl.username=..., sasl.password=...",
    },
    "broker-version": {
      kind: "string",
      placeholder: "V",
      env: "KAFKA_BROKER_VERSION",
      envReadBy: "kafkaConfig",
      help: "talk to an old broker: 0.9/0.10 set api.version.request=false and broker.version.fallback=V",
    },
  }),
);

function parseX(items: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`-X expects key=value, got '${item}'`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export interface KafkaFlagValues {
  brokers?: string;
  X?: string[];
  "kafka-config"?: string;
  "broker-version"?: string;
}

/**
 * librdkafka properties from, lowest precedence first: the given defaults, the environment
 * (KAFKA_BOOTSTRAP_SERVERS), the properties file (more specific than a bare bootstrap list),
 * -X, then the dedicated flags.
 */
export function kafkaConfig(values: KafkaFlagValues, defaults: Record<string, string> = {}): Record<string, string> {
  const conf: Record<string, string> = { "bootstrap.servers": KAFKA_FLAGS.brokers.defaultText, ...defaults };
  if (process.env.KAFKA_BOOTSTRAP_SERVERS) conf["bootstrap.servers"] = process.env.KAFKA_BOOTSTRAP_SERVERS;
  const file = values["kafka-config"] ?? process.env.KAFKA_CONFIG_FILE;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`--kafka-config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    Object.assign(conf, parseProperties(text, file));
  }
  const version = values["broker-version"] ?? process.env.KAFKA_BROKER_VERSION;
  if (version) Object.assign(conf, brokerVersionProps(version));
  Object.assign(conf, parseX(values.X));
  // `-b ""` (say, `-b "$(cat .broker)"` with no file) must not quietly mean the default broker.
  if (values.brokers !== undefined && !values.brokers.trim()) throw new UsageError("--brokers: expected host:port[,host:port...], got ''");
  if (values.brokers) conf["bootstrap.servers"] = values.brokers;
  return conf;
}

/** Integer flag with range check; undefined stays undefined. */
export function intFlag(name: string, v: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.replace(/_/g, ""))) throw new UsageError(`--${name}: expected an integer, got '${v}'`);
  const n = Number(v.replace(/_/g, ""));
  if (n < min || n > max) throw new UsageError(`--${name}: ${n} is out of range ${min}..${max}`);
  return n;
}

/** Durations like 500ms, 10s, 2m, 1h, or a bare number of seconds. */
export function durationFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new UsageError(`--${name}: expected a duration like 500ms, 30s, 2m, got '${v}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}

/** Sizes like 1MiB, 512KiB, 1000 (bytes). */
export function sizeFlag(name: string, v: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(v);
  if (!m) throw new UsageError(`--${name}: expected a size like 1MiB or 65536, got '${v}'`);
  const mult: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1 << 20, gb: 1e9, gib: 1 << 30 };
  const n = Number(m[1]) * mult[(m[2] ?? "b").toLowerCase()]!;
  if (n < min) throw new UsageError(`--${name}: must be at least ${min} bytes, got '${v}'`);
  if (n > max) throw new UsageError(`--${name}: must be at most ${max} bytes, got '${v}'`);
  return n;
}

/** A URL flag (--mysql-url, --redis-url) with one of these schemes; its password never shown in the error. */
export function urlFlag(name: string, v: string | undefined, schemes: readonly string[]): string | undefined {
  if (v === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(v);
  } catch {
    url = undefined;
  }
  if (!url || !schemes.includes(url.protocol)) {
    throw new UsageError(`--${name}: expected a URL like ${schemes[0]}//user:pass@host:port/..., got '${redactUrl(v)}'`);
  }
  return v;
}

/** Comma-separated list flag. */
export function listFlag(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

/** One of a fixed set of values. */
export function choiceFlag<T extends string>(name: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!choices.includes(v as T)) throw new UsageError(`--${name}: '${v}' is not one of ${choices.join("|")}`);
  return v as T;
}

/**
 * An output file flag (--summary-json, --bootstrap-file, gen --out), checked at start so that a
 * path that cannot be written (a directory, or in a directory that does not exist) is a usage
 * error before any work is done, not a stack trace after it.
 */
export function outputFileFlag(name: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (path === "") throw new UsageError(`--${name}: expected a file name, got ''`);
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // absent: created at the end, so its directory must exist
    try {
      if (!statSync(dirname(resolve(path))).isDirectory()) throw new Error();
    } catch {
      throw new UsageError(`--${name}: cannot write ${path}: directory ${dirname(path)} does not exist`);
    }
  }
  if (isDir) throw new UsageError(`--${name}: cannot write ${path}: it is a directory`);
  return path;
}

/** Write an output file, or fail with one line naming the flag and why (exit 1). */
export function writeOutputFile(name: string, path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new IngestError(`--${name}: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
