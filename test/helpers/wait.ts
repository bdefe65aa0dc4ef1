import { spawnIngest } from "./cli.ts";

/** Poll `fn` every 200 ms until it returns something other than undefined/false (or throws past the deadline). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
      last = v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
}

/** Start a long-running `ingest ARGS` and read the first line it prints on stdout (e.g. its URL). */
export async function spawnAndReadLine(args: string[], env: Record<string, string> = {}) {
  const p = spawnIngest(args, { env });
  const reader = p.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (!text.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  if (!text.includes("\n")) {
    p.kill("SIGKILL");
    throw new Error(`ingest ${args[0]} printed no line: ${await new Response(p.stderr).text()}`);
  }
  return { proc: p, line: text.split("\n")[0]! };
}
