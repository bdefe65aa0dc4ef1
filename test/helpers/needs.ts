/**
 * The one way a test says what it needs from the machine (a broker harness, a browser, a tool).
 * When it is missing the test is skipped, with the reason in its name, except under
 * scripts/test.sh (INGEST_REQUIRE_ALL=1, what CI runs), where it runs and fails with the reason:
 * a missing prerequisite must not hide tests there.
 */
import { test, describe } from "bun:test";

const requireAll = process.env.INGEST_REQUIRE_ALL === "1";

/**
 * `test` when `missing` is null; otherwise skipped (or failing under INGEST_REQUIRE_ALL, unless
 * `optional`: an opt-in check that CI does not install, like dockerfile-utils).
 */
export function needs(what: string, missing: string | null, opts: { optional?: boolean } = {}): typeof test {
  if (missing === null) return test;
  if (requireAll && !opts.optional) {
    return ((name: string, _fn: unknown, timeout?: number) =>
      test(
        name,
        () => {
          throw new Error(`${what} unavailable: ${missing}`);
        },
        timeout,
      )) as unknown as typeof test;
  }
  return ((name: string, fn: unknown, timeout?: number) =>
    test.skip(`${name} (needs ${what}: ${missing})`, fn as () => void, timeout)) as unknown as typeof test;
}

/** `describe` for a block of tests that share one prerequisite (same rules as needs()). */
export function describeNeeding(what: string, missing: string | null, name: string, body: () => void): void {
  if (missing === null || requireAll) {
    describe(name, () => {
      if (missing !== null) {
        test(`${what} is available`, () => {
          throw new Error(`${what} unavailable: ${missing}`);
        });
        return;
      }
      body();
    });
  } else describe.skip(`${name} (needs ${what}: ${missing})`, body);
}

/**
 * For a check inside a larger test: true (after a warning) when it must be skipped here; throws
 * under INGEST_REQUIRE_ALL.
 */
export function skipCheck(what: string, missing: string | null): boolean {
  if (missing === null) return false;
  if (requireAll) throw new Error(`${what} unavailable: ${missing}`);
  console.warn(`skip ${what}: ${missing}`);
  return true;
}

/** null when the command is on PATH, else why not. */
export function onPath(cmd: string): string | null {
  return Bun.which(cmd) ? null : `${cmd} is not installed`;
}
