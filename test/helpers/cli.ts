import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

/**
 * How tests run the CLI: the compiled executable when INGEST_BIN is set (scripts/test.sh sets
 * it after `bun run build`), else the sources through Bun.
 */
export function ingestArgv(...args: string[]): string[] {
  const bin = process.env.INGEST_BIN;
  return bin ? [bin, ...args] : [process.execPath, "run", join(ROOT, "src/cli/main.ts"), ...args];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ingest ARGS` to completion. */
export async function runIngest(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  const p = Bun.spawn(ingestArgv(...args), {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", ...opts.env },
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Start `ingest ARGS` in the background. */
export function spawnIngest(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  return Bun.spawn(ingestArgv(...args), {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, LOG_LEVEL: "warn", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

export { ROOT };
