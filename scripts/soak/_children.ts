/**
 * Every process a soak scenario starts goes through `spawn`, so that an interrupted run
 * (Ctrl-C, SIGTERM) kills them all instead of leaving brokers, servers and consumers behind.
 */
const children = new Set<{ kill(sig?: number | NodeJS.Signals): void }>();

export const spawn: typeof Bun.spawn = ((...args: Parameters<typeof Bun.spawn>) => {
  const p = Bun.spawn(...args);
  children.add(p);
  void p.exited.then(() => children.delete(p));
  return p;
}) as typeof Bun.spawn;

/** SIGKILL every child still running; returns how many there were. */
export function killChildren(): number {
  const n = children.size;
  for (const p of children) {
    try {
      p.kill("SIGKILL");
    } catch {}
  }
  children.clear();
  return n;
}
