import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ; 100 on Linux unless getconf says otherwise). */
const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/**
 * A /proc .../stat file: the command name (field 2) and the fields after it, from field 3 on
 * (so field n is at n - 3); null once the process or thread is gone.
 */
function readStat(path: string): { name: string; f: string[] } | null {
  try {
    const stat = readFileSync(path, "utf8");
    // The command name may hold spaces and parentheses: count fields after its last ')'.
    const end = stat.lastIndexOf(")");
    return { name: stat.slice(stat.indexOf("(") + 1, end), f: stat.slice(end + 2).split(" ") };
  } catch {
    return null;
  }
}

/** utime + stime (fields 14 and 15), in ticks. */
const ticksOf = (f: string[]) => Number(f[11]) + Number(f[12]);

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, utime and stime); NaN once it is gone. */
export function cpuSecondsOf(pid: number): number {
  const st = readStat(`/proc/${pid}/stat`);
  return st ? ticksOf(st.f) / CLK_TCK : Number.NaN;
}

/** Processes whose command name (/proc/<pid>/comm) is `name`. */
export function pidsOf(name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === name) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** Seconds since boot (CLOCK_BOOTTIME, the clock of /proc/<pid>/stat's starttime). */
export function uptimeSeconds(): number {
  return Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
}

/** Seconds since boot at which a process started (/proc/<pid>/stat field 22); NaN once it is gone. */
export function startedAt(pid: number): number {
  const st = readStat(`/proc/${pid}/stat`);
  return st ? Number(st.f[19]) / CLK_TCK : Number.NaN;
}

/**
 * What a thread of a Bun process does, from its name: the JavaScript thread (tid = pid),
 * librdkafka's (rdk:*), JavaScriptCore's compilers, the collector and allocator's helpers;
 * anything else by its own name (a Bun Worker is "Worker").
 */
export function threadRole(pid: number, tid: number, name: string): string {
  if (tid === pid) return "js";
  if (name.startsWith("rdk:")) return "librdkafka";
  if (name === "JITWorker" || name === "JSCWarmUp") return "jit";
  if (name === "HeapHelper" || name.endsWith("ollector") || name === "mi-scavenger") return "gc+alloc";
  return name;
}

interface Sample {
  /** uptimeSeconds() when taken. */
  t: number;
  /** /proc/stat's first line: user nice system idle iowait irq softirq steal (ticks, all cores). */
  machine: number[];
  /** `label|role` (role "" for a process without thread detail) -> CPU ticks so far, summed over its threads. */
  ticks: Map<string, number>;
}

function machineTicks(): number[] {
  return readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
}

function ticksOfThreads(pid: number, label: string, into: Map<string, number>): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const t of tids) {
    const st = readStat(`/proc/${pid}/task/${t}/stat`);
    // A thread's ticks are kept under its own id too, so one that exits keeps its last count.
    if (st) into.set(`${label}|${threadRole(pid, Number(t), st.name)}|${t}`, ticksOf(st.f));
  }
}

/**
 * Samples the CPU of some processes (by thread role where asked) and of the whole machine every
 * `everyMs`, so the CPU spent inside a time window (a consumer's first record to its last write)
 * can be told apart from start-up, per process and per thread, with the machine's idle and steal.
 */
export class CpuSampler {
  private readonly samples: Sample[] = [];
  private readonly last = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  constructor(
    /** label -> pids, asked again at every sample (a process may start later). */
    private readonly procs: () => Record<string, { pids: number[]; threads: boolean }>,
    private readonly everyMs = 50,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    const perThread = new Map<string, number>();
    for (const [label, { pids, threads }] of Object.entries(this.procs()))
      for (const pid of pids) {
        if (threads) ticksOfThreads(pid, label, perThread);
        else {
          const s = cpuSecondsOf(pid);
          if (Number.isFinite(s)) perThread.set(`${label}||${pid}`, Math.round(s * CLK_TCK));
        }
      }
    // Threads and processes gone since keep their last count: ticks only grow.
    for (const [k, v] of perThread) this.last.set(k, v);
    const ticks = new Map<string, number>();
    for (const [k, v] of this.last) {
      const key = k.slice(0, k.lastIndexOf("|"));
      ticks.set(key, (ticks.get(key) ?? 0) + v);
    }
    this.samples.push({ t: uptimeSeconds(), machine: machineTicks(), ticks });
  }

  /**
   * CPU seconds per `label|role` between the last sample at or before `from` and the first at or
   * after `to` (seconds since boot), and the machine's busy, steal and idle shares of all cores.
   */
  window(from: number, to: number): CpuWindow {
    const a = this.samples.findLast((s) => s.t <= from) ?? this.samples[0]!;
    const b = this.samples.find((s) => s.t >= to) ?? this.samples.at(-1)!;
    const cpu: Record<string, number> = {};
    for (const [k, v] of b.ticks) {
      const d = (v - (a.ticks.get(k) ?? 0)) / CLK_TCK;
      if (d > 0) cpu[k] = Math.round(d * 1000) / 1000;
    }
    const m = b.machine.map((v, i) => v - a.machine[i]!);
    const total = m.reduce((x, y) => x + y, 0) || 1;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m as [number, number, number, number, number, number, number, number];
    const share = (x: number) => Math.round((x / total) * 1000) / 1000;
    return {
      seconds: Math.round((b.t - a.t) * 1000) / 1000,
      cpu,
      machine: { busy: share(user + nice + system + irq + softirq), steal: share(steal), idle: share(idle + iowait) },
    };
  }
}

export interface CpuWindow {
  /** The window's length as sampled (it covers the asked one, up to a sampling step wider). */
  seconds: number;
  /** CPU seconds by `process|thread role` (`process|` for a process sampled whole). */
  cpu: Record<string, number>;
  /** Shares of all cores' time in the window: busy, stolen by the hypervisor, idle. */
  machine: { busy: number; steal: number; idle: number };
}

/**
 * Cores each process (`label`) or thread role (`label role`) used in a window: its CPU seconds
 * over the window's. Under `min` of a core (a helper thread that woke once) is left out.
 */
export function coresByRole(w: CpuWindow, min = 0.005): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(w.cpu)) if (v / w.seconds >= min) out[k.endsWith("|") ? k.slice(0, -1) : k.replace("|", " ")] = v / w.seconds;
  return out;
}

/** Cores each process (`label`, its threads summed) used in a window. */
export function coresByProcess(w: CpuWindow): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(w.cpu)) {
    const label = k.slice(0, k.indexOf("|"));
    out[label] = (out[label] ?? 0) + v / w.seconds;
  }
  return out;
}
