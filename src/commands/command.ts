/** A subcommand: parses its own argv, returns the process exit code. */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}
