/**
 * Runtime options for `produce` (JavaScriptCore's JIT, glibc's malloc), set by re-executing the
 * process with them in its environment.
 *
 * JIT: produce's hot loop is a row encoder generated for the schema at run time
 * (codecs/row-encoder.ts). JSC's top tier (FTL) inlines its helpers into it until the function
 * reaches maximumInliningCallerBytecodeCost (10,000 by default), and that compile competes
 * with the workers and librdkafka for two cores; a cap of 2,000 compiles far less for the same
 * code speed (docs/design.md, "Produce's runtime options").
 *
 * malloc: librdkafka copies every message into its own malloc'd block and frees it when the
 * delivery report is served, a million times per million rows, from several threads' arenas.
 * With glibc's default trim threshold (128 KiB) the arenas kept handing freed pages back to the
 * kernel (madvise/shrink) and faulting fresh zeroed ones in again. Not trimming below 512 MiB
 * (and growing the heap 64 MiB at a time) halves the page faults and the system time
 * (docs/design.md, "Produce's runtime options"). Memory is still bounded:
 * what librdkafka holds is capped by its queue limits, this only keeps freed blocks for reuse.
 *
 * Both are read from the environment once, when the process starts (JSC for every thread and
 * worker, glibc before main), and nothing can change them afterwards. So produce replaces itself
 * (execve: same pid, stdio, signals and exit code) with the same command line plus the options,
 * before it opens or sends anything. A variable already in the environment is left as it is
 * (the user's choice wins), and INGEST_RUNTIME_TUNING=0 (or the older INGEST_JIT_TUNING=0) turns
 * this off.
 */
import { execWithEnv } from "../core/libc.ts";
import { isCompiled } from "../core/workers.ts";
import { log } from "../observability/log.ts";

export const PRODUCE_RUNTIME_OPTIONS: Record<string, string> = {
  BUN_JSC_maximumInliningCallerBytecodeCost: "2000",
  GLIBC_TUNABLES: "glibc.malloc.trim_threshold=536870912:glibc.malloc.top_pad=67108864",
};

/** Returns (doing nothing) when the options are already set or tuning is off; else does not return. */
export function execWithRuntimeOptions(options: Record<string, string>): void {
  if (process.env.INGEST_RUNTIME_TUNING === "0" || process.env.INGEST_JIT_TUNING === "0") return;
  const missing = Object.keys(options).filter((k) => process.env[k] === undefined);
  if (missing.length === 0) {
    log.debug({ options: Object.fromEntries(Object.keys(options).map((k) => [k, process.env[k]])) }, "runtime options in effect");
    return;
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of missing) env[k] = options[k]!;
  // Compiled: argv is ["bun", "/$bunfs/root/ingest", ...args] and execPath the executable;
  // from sources: [bun, main.ts, ...args] and execPath bun.
  const argv = isCompiled() ? [process.argv0, ...process.argv.slice(2)] : [process.argv0, process.argv[1]!, ...process.argv.slice(2)];
  if (!execWithEnv(process.execPath, argv, env)) log.debug({ options: missing }, "could not re-execute with runtime options; running without them");
}
