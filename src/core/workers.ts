/**
 * Where a Bun Worker entry lives. From sources, next to the module (src/<rel>); in the compiled
 * executable, `bun build --compile` embeds each extra entrypoint under /$bunfs/root/<rel minus
 * src/>, which `new Worker("./<rel>")` resolves. Every worker entry must be listed in the
 * package.json "build" script.
 */
export function workerUrl(rel: `${string}/${string}.ts`): string {
  return isCompiled() ? `./${rel}` : new URL(`../${rel}`, import.meta.url).href;
}

/** Running as the `bun build --compile` executable (not from sources). */
export function isCompiled(): boolean {
  // Bun.main, not import.meta.path: a --bytecode build keeps the source path in import.meta.
  return Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
}
