/**
 * One spec per flag: each command declares its flags once (kind, range, default, environment
 * variable, help), and parsing, validation messages, the --help Options sections and
 * docs/commands.md (scripts/docs-flags.ts) are derived from it, as Redpanda Connect derives its
 * config docs and lint from its field specs.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../core/errors.ts";
import { intFlag, sizeFlag, durationFlag, choiceFlag, listFlag, urlFlag, outputFileFlag } from "./args.ts";
import { LOG_LEVELS, setLogLevel, type LogLevel } from "../observability/log.ts";

export type FlagKind = "string" | "path" | "output" | "url" | "int" | "size" | "duration" | "choice" | "list" | "boolean";

export interface FlagSpec {
  kind: FlagKind;
  /** Help text; `{choices}` is replaced by the choices joined with |. */
  help: string;
  short?: string;
  /** The value's name in --help (e.g. N, FILE); the kind's usual one when absent. */
  placeholder?: string;
  /** The default as a user would type it: parsed by the same reader as a flag's value. */
  default?: string;
  /** A default the command works out itself (from other flags, the machine): shown, never applied. */
  defaultText?: string;
  /** Added to defaultText in --help only (not in docs/commands.md, which is the same on every machine). */
  defaultHere?: () => string;
  /** int: inclusive range (0..MAX_SAFE_INTEGER when absent); size: bytes; duration: milliseconds. */
  min?: number;
  max?: number;
  /** duration: how the range reads in the error and the help, e.g. 100ms..1h. */
  rangeText?: string;
  /** duration: 0 is refused ("must be more than 0"). */
  positive?: boolean;
  /** string: '' is refused ("must not be empty"); list: nothing is refused, naming what was expected. */
  nonEmpty?: true | string;
  choices?: readonly string[];
  /** url: the accepted schemes, e.g. ["mysql:"]. */
  schemes?: readonly string[];
  /** output: "-" means standard output and is not checked as a path. */
  stdio?: boolean;
  /** Repeatable: the values come as a list, each one as given. */
  multiple?: boolean;
  /**
   * The environment variable behind this flag. The parser takes it when the flag is absent (as
   * given: a URL or path from the environment is not checked here; a choice is), unless envReadBy
   * says which code reads it (its precedence is not a plain fallback, e.g. a properties file
   * sits between the environment and the flag).
   */
  env?: string;
  envReadBy?: string;
  /** The --help section (and docs table) this flag is listed under; "Options" when absent. */
  group?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

/** Declares a command's (or a group's) flags, keeping their literal types for FlagValues. */
export function defineFlags<const T extends FlagSpecs>(flags: T): T {
  return flags;
}

/** The same flags, listed under one --help section. */
export function inGroup<const T extends FlagSpecs>(group: string, flags: T): { [K in keyof T]: T[K] & { group: string } } {
  return Object.fromEntries(Object.entries(flags).map(([k, s]) => [k, { ...s, group }])) as never;
}

/** Flags every subcommand accepts. */
export const COMMON_FLAGS = inGroup(
  "Common options",
  defineFlags({
    help: { kind: "boolean", short: "h", help: "this help" },
    "log-level": {
      kind: "choice",
      placeholder: "LEVEL",
      choices: LOG_LEVELS,
      default: "info",
      env: "LOG_LEVEL",
      help: "the least severe level logged: {choices}",
    },
  }),
);

type ValueOf<S> = S extends { multiple: true }
  ? string[]
  : S extends { kind: "boolean" }
    ? boolean
    : S extends { kind: "int" | "size" | "duration" }
      ? number
      : S extends { kind: "list" }
        ? string[]
        : S extends { kind: "choice"; choices: readonly (infer C)[] }
          ? C
          : string;
type Always<S> = S extends { kind: "boolean" } ? true : S extends { default: string } ? true : false;

/** What parseFlags gives: each flag's typed value, its default applied. */
export type FlagValues<F> = { -readonly [K in keyof F]: Always<F[K]> extends true ? ValueOf<F[K]> : ValueOf<F[K]> | undefined };
/** Each flag as given on the command line (for "was it given?" and messages quoting it). */
export type RawValues<F> = { -readonly [K in keyof F]?: F[K] extends { multiple: true } ? string[] : F[K] extends { kind: "boolean" } ? boolean : string };

/** Turn one string (from the command line, the environment or the spec's default) into the flag's value. */
export function readFlag(name: string, spec: FlagSpec, v: string): unknown {
  switch (spec.kind) {
    case "string":
      if (spec.nonEmpty && v === "") throw new UsageError(`--${name}: must not be empty`);
      return v;
    case "path":
      return v;
    case "output":
      return spec.stdio && v === "-" ? "-" : outputFileFlag(name, v);
    case "url":
      return urlFlag(name, v, spec.schemes ?? []);
    case "int":
      return intFlag(name, v, spec.min, spec.max);
    case "size":
      return sizeFlag(name, v, spec.min, spec.max);
    case "duration": {
      const ms = durationFlag(name, v)!;
      if (spec.positive && ms <= 0) throw new UsageError(`--${name}: must be more than 0`);
      if ((spec.min !== undefined && ms < spec.min) || (spec.max !== undefined && ms > spec.max))
        throw new UsageError(`--${name}: ${v} is out of range ${spec.rangeText}`);
      return ms;
    }
    case "choice":
      return choiceFlag(name, v, spec.choices ?? []);
    case "list": {
      const list = listFlag(v)!;
      if (spec.nonEmpty && list.length === 0) throw new UsageError(`--${name}: expected one or more ${spec.nonEmpty}, got nothing`);
      return list;
    }
    case "boolean":
      return v;
  }
}

/**
 * parseArgs driven by the specs (plus COMMON_FLAGS), with the project's error style: unknown
 * flags and missing values become one-line UsageErrors naming the flag (exit 2). --log-level is
 * applied at once. Every value is then checked and typed, in spec order, flag over environment
 * over default; with --help nothing but --log-level is checked, so help always shows.
 */
export function parseFlags<const F extends FlagSpecs>(argv: string[], flags: F, allowPositionals = false) {
  const specs: FlagSpecs = { ...flags, ...COMMON_FLAGS };
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.kind === "boolean" ? "boolean" : "string", ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(
      msg
        .replace(/^Unknown option '(.*?)'.*$/s, "unknown option '$1'")
        // `--rows -1`: parseArgs says so on three lines; one line, with its hint.
        .replace(/^Option '(.*?)' argument is ambiguous\..*use (.*?)\.?$/s, "option '$1' is missing its value (for a value starting with a dash use $2)"),
    );
  }
  const raw = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const values: Record<string, unknown> = {};
  const read = (name: string) => {
    const s = specs[name]!;
    const given = raw[name];
    if (s.kind === "boolean") return (values[name] = given === true);
    if (s.multiple) return (values[name] = given);
    if (given !== undefined) return (values[name] = readFlag(name, s, given as string));
    const fromEnv = s.env && !s.envReadBy ? process.env[s.env] : undefined;
    if (fromEnv !== undefined) return (values[name] = s.kind === "choice" ? readFlag(name, s, fromEnv) : fromEnv);
    values[name] = s.default === undefined ? undefined : readFlag(name, s, s.default);
  };
  read("log-level");
  setLogLevel(values["log-level"] as LogLevel);
  if (raw.help !== true) for (const name of Object.keys(flags)) read(name);
  values.help = raw.help === true;
  return { values: values as FlagValues<F> & FlagValues<typeof COMMON_FLAGS>, raw: raw as RawValues<F>, positionals: parsed.positionals };
}

const PLACEHOLDERS: Record<FlagKind, string> = {
  string: "S",
  path: "FILE",
  output: "FILE",
  url: "URL",
  int: "N",
  size: "SIZE",
  duration: "D",
  choice: "C",
  list: "LIST",
  boolean: "",
};

/** The flag as --help writes it: `-b, --brokers LIST`, `    --json`, `-X KEY=VALUE`. */
export function flagUsage(name: string, s: FlagSpec): string {
  const value = s.kind === "boolean" ? "" : ` ${s.placeholder ?? PLACEHOLDERS[s.kind]}`;
  if (name.length === 1 && s.short === name) return `-${name}${value}`;
  return `${s.short ? `-${s.short}, ` : "    "}--${name}${value}`;
}

/** The help text with its choices filled in. */
export function flagHelp(s: FlagSpec): string {
  return s.help.replace("{choices}", (s.choices ?? []).join("|"));
}

/** The default as shown ("" when none). */
export function flagDefault(s: FlagSpec, here = false): string {
  const d = s.defaultText ?? s.default;
  if (d === undefined) return "";
  return here && s.defaultHere ? `${d}, ${s.defaultHere()} here` : d === "" ? "''" : d;
}

/** The range as shown ("" when none worth saying). */
export function flagRange(s: FlagSpec): string {
  if (s.kind === "duration") return s.rangeText ?? (s.positive ? "more than 0" : "");
  if (s.kind === "int" && s.max !== undefined) return `${s.min ?? 0}..${s.max}`;
  if (s.kind === "size" && (s.min !== undefined || s.max !== undefined)) return `${s.min ?? 0}..${s.max} bytes`;
  return "";
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(" ")) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

/** The flags' --help sections, one per group in the order they first appear, each "Title:" then one entry per flag. */
export function renderFlagsHelp(flags: FlagSpecs): string {
  const groups = new Map<string, [string, FlagSpec][]>();
  for (const [name, s] of Object.entries(flags)) {
    const g = s.group ?? "Options";
    groups.set(g, [...(groups.get(g) ?? []), [name, s]]);
  }
  const out: string[] = [];
  const col = Math.min(32, Math.max(...Object.entries(flags).map(([n, s]) => flagUsage(n, s).length)) + 4);
  for (const [title, entries] of groups) {
    if (out.length) out.push("");
    out.push(`${title}:`);
    for (const [name, s] of entries) {
      const notes = [flagDefault(s, true) && `default ${flagDefault(s, true)}`, flagRange(s), s.env && `env ${s.env}`].filter(Boolean);
      const text = `${flagHelp(s)}${notes.length ? ` (${notes.join("; ")})` : ""}`;
      const left = `  ${flagUsage(name, s)}`;
      const lines = wrap(text, 100 - col);
      if (left.length + 2 > col) out.push(left, ...lines.map((l) => " ".repeat(col) + l));
      else out.push(left.padEnd(col) + lines[0], ...lines.slice(1).map((l) => " ".repeat(col) + l));
    }
  }
  return `${out.join("\n")}\n`;
}

/** A command's whole --help: the hand-written usage and prose, the derived Options, then any epilogue. */
export function commandHelp(prose: string, flags: FlagSpecs, epilogue = ""): string {
  return `${prose.trimEnd()}\n\n${renderFlagsHelp({ ...flags, ...COMMON_FLAGS })}${epilogue ? `\n${epilogue.trimEnd()}\n` : ""}`;
}

/** The type column of docs/commands.md. */
export function flagType(s: FlagSpec): string {
  const base = s.kind === "choice" ? (s.choices ?? []).join("|") : s.kind;
  const range = flagRange(s);
  return `${base}${range ? ` ${range}` : ""}${s.multiple ? ", repeatable" : ""}`;
}
