import type { Command } from "../cli/main.ts";
import { notBuilt } from "./not-built.ts";

export default notBuilt("consume") satisfies Command;
