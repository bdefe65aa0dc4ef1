#!/usr/bin/env bun
import pkg from "../../package.json" with { type: "json" };
import { IngestError } from "../core/errors.ts";
import { COMMAND_SUMMARIES, type CommandName } from "./summaries.ts";
import { log } from "../observability/log.ts";
import type { Command } from "../commands/command.ts";

/** Loaded lazily so `ingest --help` never opens librdkafka or a database. */
const commands: Record<CommandName, () => Promise<Command>> = {
  broker: async () => (await import("../commands/broker.ts")).default,
  topic: async () => (await import("../commands/topic.ts")).default,
  produce: async () => (await import("../commands/produce.ts")).default,
  consume: async () => (await import("../commands/consume.ts")).default,
  serve: async () => (await import("../commands/serve.ts")).default,
  load: async () => (await import("../commands/load.ts")).default,
  lag: async () => (await import("../commands/lag.ts")).default,
  dashboard: async () => (await import("../commands/dashboard.ts")).default,
  gen: async () => (await import("../commands/gen.ts")).default,
  health: async () => (await import("../commands/health.ts")).default,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMAND_SUMMARIES).map((k) => k.length));
  return `ingest ${pkg.version}: high-throughput Kafka ingest (Bun + librdkafka)

Usage: ingest <command> [options]     ingest <command> --help for a command's options

Commands:
${Object.entries(COMMAND_SUMMARIES)
  .map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)
  .join("\n")}

Options:
  -h, --help      this help
  -V, --version   print ingest's and librdkafka's versions
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "-V" || name === "--version" || name === "version") {
    const { librdkafkaVersion } = await import("../kafka/index.ts");
    let rdk: string;
    try {
      rdk = librdkafkaVersion();
    } catch (e) {
      rdk = `unavailable (${(e as Error).message})`;
    }
    process.stdout.write(`ingest ${pkg.version}\nlibrdkafka ${rdk}\nbun ${Bun.version}\n`);
    return 0;
  }
  const load = commands[name as CommandName];
  if (!load) {
    process.stderr.write(`error: unknown command '${name}' (see ingest --help)\n`);
    return 2;
  }
  const cmd = await load();
  return cmd.run(rest);
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof IngestError) {
        process.stderr.write(`error: ${e.message}\n`);
        process.exit(e.exitCode);
      }
      log.fatal({ err: e }, "unexpected failure");
      process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
      process.exit(70);
    },
  );
}
