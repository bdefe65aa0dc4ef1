/**
 * Errors that carry their own exit code. The CLI prints `error: <message>` on one line
 * and exits with `exitCode`; anything else is a bug and gets a stack trace.
 */
export class IngestError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "IngestError";
    this.exitCode = exitCode;
  }
}

/** Bad command line or configuration: exit code 2, as getopt-style tools do. */
export class UsageError extends IngestError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
