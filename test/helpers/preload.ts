/** Loaded before every test file (bunfig.toml): stops what test helpers share across files. */
import { afterAll } from "bun:test";
import { stopSharedKafka4 } from "./kafka4.ts";
import { stopSharedRegistry } from "./registry.ts";

afterAll(async () => {
  await Promise.all([stopSharedKafka4(), stopSharedRegistry()]);
});
