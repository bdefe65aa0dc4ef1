import type { Command } from "../cli/main.ts";

/** Placeholder for a subcommand whose issue is still open: says so and exits 2, never pretends. */
export function notBuilt(name: string): Command {
  return {
    async run() {
      process.stderr.write(`error: 'ingest ${name}' is not built yet in this version\n`);
      return 2;
    },
  };
}
