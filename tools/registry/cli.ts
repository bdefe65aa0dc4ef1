/**
 * A local schema registry for trying ingest by hand (the tests start their own): Apicurio
 * Registry in the foreground on a free port, printing the URL to give --schema-registry;
 * Ctrl-C stops it and removes its files.
 *
 *   bun tools/registry/cli.ts [--compatibility BACKWARD|FORWARD|FULL|NONE]
 */
import { SchemaRegistry, REGISTRY_VERSION } from "./registry.ts";

const args = process.argv.slice(2);
if (args.includes("-h") || args.includes("--help")) {
  console.log(
    "Usage: bun tools/registry/cli.ts [--compatibility BACKWARD|FORWARD|FULL|NONE]\nStarts Apicurio Registry (Confluent-compatible API) on 127.0.0.1 and prints its URL; Ctrl-C stops it.",
  );
  process.exit(0);
}
const i = args.indexOf("--compatibility");
const level = (i >= 0 ? args[i + 1] : "BACKWARD") as "BACKWARD" | "FORWARD" | "FULL" | "NONE";
if (!["BACKWARD", "FORWARD", "FULL", "NONE"].includes(level) || args.some((a, k) => a !== "--compatibility" && k !== i + 1)) {
  console.error("registry: usage: bun tools/registry/cli.ts [--compatibility BACKWARD|FORWARD|FULL|NONE]");
  process.exit(2);
}
console.error(`registry: starting Apicurio Registry ${REGISTRY_VERSION} (in memory)...`);
const r = await SchemaRegistry.start();
await r.setCompatibility(level);
console.log(r.url);
console.error(`registry: ready, compatibility ${level}; Ctrl-C stops it`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    r.killNow();
    process.exit(0);
  });
}
await new Promise(() => {});
