/** Loaded before every test file (bunfig.toml): stops what test helpers share across files. */
import { afterAll } from "bun:test";
import { stopSharedKafka4 } from "./kafka4.ts";

afterAll(async () => {
  await stopSharedKafka4();
});
