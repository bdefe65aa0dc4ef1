/**
 * Where a Bun Worker entry lives. From sources, next to the module (src/<rel>); in the compiled
 * executable, `bun build --compile` embeds each extra entrypoint under /$bunfs/root/<rel minus
 * src/>, which `new Worker("./<rel>")` resolves. Every worker entry must be listed in the
 * package.json "build" script.
 */
export function workerUrl(rel: `${string}/${string}.ts`): string {
  // Bun.main, not import.meta.path: a --bytecode build keeps the source path in import.meta.
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
  return compiled ? `./${rel}` : new URL(`../${rel}`, import.meta.url).href;
}
