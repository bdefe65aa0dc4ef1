/**
 * A real schema registry for the tests and benchmarks: Apicurio Registry 2.6 (in-memory H2
 * storage) with its Confluent-compatible API at `<url>` = http://127.0.0.1:PORT/apis/ccompat/v7.
 * From Maven Central's `all` assembly (tools/registry/pom.xml), unpacked once into
 * .cache/registry/, run on the machine's Java 17. Like tools/kafka/cluster.ts: a free port, the
 * JVM under a parent-death signal (it dies with its owner, even on SIGKILL), its scratch files
 * in a directory of its own that stop() and exit remove.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { dieWithParent, freePorts } from "../kafka/cluster.ts";

const HERE = import.meta.dir;
const POM = join(HERE, "pom.xml");
const CACHE = join(HERE, "..", "..", ".cache", "registry");
export const REGISTRY_VERSION = /<apicurio\.version>([^<]+)</.exec(readFileSync(POM, "utf8"))![1]!;

/** Why the registry cannot run here, or null when it can. */
export function registryUnavailableReason(): string | null {
  if (!Bun.which("java")) return "java is not installed";
  if (!existsSync(runnerJarPath() ?? "") && !Bun.which("mvn")) return "mvn is not installed (needed once to fetch Apicurio Registry)";
  return null;
}

function unpackDir(): string {
  return join(CACHE, `apicurio-${createHash("sha256").update(readFileSync(POM)).digest("hex").slice(0, 12)}`);
}

function runnerJarPath(): string | null {
  const dir = unpackDir();
  if (!existsSync(dir)) return null;
  const jar = readdirSync(dir).find((f) => f.endsWith("-runner.jar"));
  return jar && existsSync(join(dir, "lib")) ? join(dir, jar) : null;
}

/** The runner jar: unpacked by Maven the first time (~140 MB into ~/.m2 and .cache/registry). */
export function registryJar(): string {
  const have = runnerJarPath();
  if (have) return have;
  if (!Bun.which("mvn")) throw new Error("Apicurio Registry is not unpacked and mvn is not installed (scripts/setup.sh installs maven)");
  const dir = unpackDir();
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  // Maven's unpack markers (target/) would make it skip the unpack into a new directory.
  rmSync(join(HERE, "target"), { recursive: true, force: true });
  const r = Bun.spawnSync(["mvn", "-q", "-B", "-f", POM, "dependency:unpack-dependencies", `-DoutputDirectory=${tmp}`], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0)
    throw new Error(`mvn could not unpack Apicurio Registry ${REGISTRY_VERSION}:\n${(r.stdout.toString() + r.stderr.toString()).slice(-3000)}`);
  rmSync(dir, { recursive: true, force: true });
  Bun.spawnSync(["mv", tmp, dir]);
  const jar = runnerJarPath();
  if (!jar) throw new Error(`no *-runner.jar in the unpacked Apicurio Registry (${dir})`);
  return jar;
}

const live = new Set<SchemaRegistry>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const r of live) r.killNow();
  });
}

export class SchemaRegistry {
  /** The Confluent-compatible API's base URL, as `--schema-registry` takes it. */
  readonly url: string;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private proc: Subprocess | null,
  ) {
    this.url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  }

  /** Start a fresh, empty registry and wait until it answers (15-40 s on 2 cores; minutes when they are shared with other JVMs). */
  static async start(opts: { timeoutMs?: number; heapMb?: number } = {}): Promise<SchemaRegistry> {
    const jar = registryJar();
    const dir = mkdtempSync(join(tmpdir(), "ingest-registry-"));
    const [port] = freePorts(1);
    const p = Bun.spawn(
      [
        ...dieWithParent(),
        "java",
        `-Xmx${opts.heapMb ?? 384}m`,
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        `-Djava.io.tmpdir=${dir}`,
        `-Dvertx.cacheDirBase=${join(dir, "vertx")}`,
        `-Dquarkus.http.port=${port}`,
        "-Dquarkus.http.host=127.0.0.1",
        "-jar",
        jar,
      ],
      { cwd: dir, stdin: "ignore", stdout: Bun.file(join(dir, "registry.log")), stderr: Bun.file(join(dir, "registry.err")) },
    );
    const r = new SchemaRegistry(port!, dir, p);
    live.add(r);
    hookExit();
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (p.exitCode !== null) {
        const tail = r.logTail();
        r.killNow();
        throw new Error(`Apicurio Registry exited with ${p.exitCode} while starting:\n${tail}`);
      }
      try {
        const res = await fetch(`${r.url}/subjects`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return r;
      } catch {}
      await Bun.sleep(250);
    }
    const tail = r.logTail();
    r.killNow();
    throw new Error(`Apicurio Registry did not answer within ${timeoutMs} ms:\n${tail}`);
  }

  /** PUT /config: the global compatibility level (Apicurio checks none until one is set). */
  async setCompatibility(level: "BACKWARD" | "FORWARD" | "FULL" | "NONE", subject?: string): Promise<void> {
    const res = await fetch(`${this.url}/config${subject ? `/${encodeURIComponent(subject)}` : ""}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ compatibility: level }),
    });
    if (!res.ok) throw new Error(`PUT /config: ${res.status} ${await res.text()}`);
  }

  logTail(chars = 2000): string {
    return ["registry.log", "registry.err"].map((f) => (existsSync(join(this.dir, f)) ? readFileSync(join(this.dir, f), "utf8").slice(-chars) : "")).join("");
  }

  /** Stop the JVM and remove its directory. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p && p.exitCode === null) {
      p.kill("SIGKILL");
      await p.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  killNow(): void {
    if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGKILL");
    this.proc = null;
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}
