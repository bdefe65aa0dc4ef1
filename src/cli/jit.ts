/**
 * JavaScriptCore options for `produce`, set by re-executing the process with them.
 *
 * Why: produce's hot loop is a row encoder generated for the schema at run time
 * (codecs/row-encoder.ts). JSC's top tier (FTL) inlines its helpers into it until the function
 * reaches maximumInliningCallerBytecodeCost (10,000 by default), and compiling that took 275-445
 * CPU ms per worker on a 2-core machine where the workers, librdkafka and the compiler share
 * two cores. With the cap at 2,000 that compile takes ~80 ms and the CSV-to-three-outputs job
 * ran 1.65 s instead of 2.00 s (median of 3, side by side, AMD EPYC 2026-11-30); NDJSON input
 * unchanged.
 *
 * JSC reads its options (BUN_JSC_*) from the environment once, when the process starts, for
 * every thread and worker; nothing can change them afterwards. So produce replaces itself
 * (execve: same pid, stdio, signals and exit code) with the same command line plus the option,
 * before it opens or sends anything. An option already in the environment is left as it is
 * (the user's choice wins), and INGEST_JIT_TUNING=0 turns this off.
 */
import { execWithEnv } from "../kafka/ffi.ts";
import { isCompiled } from "./workers.ts";
import { log } from "../observability/log.ts";

export const PRODUCE_JSC_OPTIONS: Record<string, string> = { BUN_JSC_maximumInliningCallerBytecodeCost: "2000" };

/** Returns (doing nothing) when the options are already set or tuning is off; else does not return. */
export function execWithJscOptions(options: Record<string, string>): void {
  if (process.env.INGEST_JIT_TUNING === "0") return;
  const missing = Object.keys(options).filter((k) => process.env[k] === undefined);
  if (missing.length === 0) {
    log.debug({ jsc: Object.fromEntries(Object.keys(options).map((k) => [k, process.env[k]])) }, "JSC options in effect");
    return;
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of missing) env[k] = options[k]!;
  // Compiled: argv is ["bun", "/$bunfs/root/ingest", ...args] and execPath the executable;
  // from sources: [bun, main.ts, ...args] and execPath bun.
  const argv = isCompiled() ? [process.argv0, ...process.argv.slice(2)] : [process.argv0, process.argv[1]!, ...process.argv.slice(2)];
  if (!execWithEnv(process.execPath, argv, env)) log.debug({ options: missing }, "could not re-execute with JSC options; running without them");
}
