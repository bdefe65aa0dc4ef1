/** A subcommand: parses its own argv, returns the process exit code (its summary is in summaries.ts). */
export interface Command {
  run(argv: string[]): Promise<number>;
}
