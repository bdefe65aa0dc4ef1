import type { Command } from "./command.ts";
import { KAFKA_FLAGS, kafkaConfig } from "../cli/args.ts";
import { defineFlags, inGroup, parseFlags, commandHelp } from "../cli/flags.ts";
import { UsageError, IngestError } from "../core/errors.ts";
import { DEFAULT_SERVE_PORT } from "../cli/defaults.ts";
import { statSync } from "node:fs";

const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_SERVE_PORT}/health`;

export const FLAGS = defineFlags({
  ...inGroup(
    "Checks (combine any; all must pass)",
    defineFlags({
      url: { kind: "string", placeholder: "URL", help: "GET URL must answer 2xx (e.g. ingest serve's /health)" },
      file: { kind: "path", placeholder: "PATH", help: "PATH must exist and be modified within --max-age (a heartbeat file)" },
      "max-age": { kind: "duration", placeholder: "DUR", default: "60s", help: "how fresh --file must be" },
      kafka: { kind: "boolean", help: "the cluster must answer a metadata request (uses --brokers / env)" },
      topics: { kind: "list", help: "with --kafka: these topics must exist, comma-separated" },
    }),
  ),
  timeout: { kind: "duration", placeholder: "DUR", positive: true, default: "3s", help: "per-check time limit" },
  ...KAFKA_FLAGS,
});

export const HELP = commandHelp(
  `Usage: ingest health [--url URL] [--file PATH --max-age DUR] [--kafka [--topics LIST]]

A container health probe that needs no curl or shell: exits 0 when every requested check passes,
1 with one line on stderr naming the failed check. With no check given, --url ${DEFAULT_URL}.`,
  FLAGS,
  `Examples:
  ingest health --url http://127.0.0.1:${DEFAULT_SERVE_PORT}/health
  ingest health --kafka --topics users,orders`,
);

/** One failed check: message says what was asked and what was seen. */
class Unhealthy extends IngestError {
  constructor(message: string) {
    super(`unhealthy: ${message}`, 1);
  }
}

/** GET the URL; any 2xx within the timeout is healthy. */
export async function checkUrl(url: string, timeoutMs: number): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: '${url}' is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(`--url: expected http:// or https://, got '${url}'`);
  let res: Response;
  try {
    res = await fetch(parsed, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  } catch (e) {
    const err = e as Error;
    const why = err.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : err.message;
    throw new Unhealthy(`GET ${url}: ${why}`);
  }
  // Drain the body so the connection closes cleanly; its content is not judged.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new Unhealthy(`GET ${url}: HTTP ${res.status}, expected 2xx`);
}

/** The file must exist and have been modified within maxAgeMs (now is injectable for tests). */
export function checkFile(path: string, maxAgeMs: number, now = Date.now()): void {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch (e) {
    throw new Unhealthy(`heartbeat ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const age = now - mtimeMs;
  if (age > maxAgeMs) throw new Unhealthy(`heartbeat ${path}: last written ${Math.round(age / 1000)} s ago, expected within ${Math.round(maxAgeMs / 1000)} s`);
}

/** The cluster answers metadata and has the named topics (with at least one partition each). */
export async function checkKafka(conf: Record<string, string>, topics: string[], timeoutMs: number): Promise<void> {
  // Loaded here so --url and --file checks never open librdkafka.
  const { Admin } = await import("../kafka/index.ts");
  let admin;
  try {
    admin = new Admin(conf);
  } catch (e) {
    throw new Unhealthy(`kafka ${conf["bootstrap.servers"]}: ${(e as Error).message}`);
  }
  try {
    let md;
    try {
      md = admin.metadata(timeoutMs);
    } catch (e) {
      throw new Unhealthy(`kafka ${conf["bootstrap.servers"]}: ${(e as Error).message}`);
    }
    if (md.brokers.length === 0) throw new Unhealthy(`kafka ${conf["bootstrap.servers"]}: metadata lists no brokers`);
    const missing = topics.filter((t) => !md.topics.some((x) => x.name === t && x.partitions.length > 0 && !x.err));
    if (missing.length) throw new Unhealthy(`kafka ${conf["bootstrap.servers"]}: topic(s) ${missing.join(",")} missing`);
  } finally {
    admin.close();
  }
}

export default {
  async run(argv) {
    const { values, raw, positionals } = parseFlags(argv, FLAGS);
    if (values.help) return (process.stdout.write(HELP), 0);
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const timeoutMs = values.timeout;
    if (raw["max-age"] !== undefined && values.file === undefined) throw new UsageError("--max-age needs --file");
    if (raw.topics !== undefined && !values.kafka) throw new UsageError("--topics needs --kafka");
    const topics = values.topics ?? [];
    const noCheck = values.url === undefined && values.file === undefined && !values.kafka;

    if (values.url !== undefined || noCheck) await checkUrl(values.url ?? DEFAULT_URL, timeoutMs);
    if (values.file !== undefined) checkFile(values.file, values["max-age"]);
    if (values.kafka) await checkKafka(kafkaConfig(raw), topics, Math.ceil(timeoutMs));
    return 0;
  },
} satisfies Command;
