import { StatusLine } from "./status-line.ts";

/**
 * A one-line live progress bar on stderr, only when stderr is a TTY (never in pipes or logs).
 * Callers report absolute counts; rendering is throttled to ~10 per second.
 */
export class Progress {
  /** Whether anything is drawn: callers skip building what only the bar would show. */
  readonly enabled: boolean;
  private readonly started = performance.now();
  private last = 0;
  private readonly line: StatusLine;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly unit = "rows",
    enabled = process.stderr.isTTY === true,
  ) {
    this.enabled = enabled;
    this.line = new StatusLine(enabled);
  }

  update(done: number, extra = ""): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 90) return; // callers tick every 100 ms: timer jitter must not skip every other frame
    this.last = now;
    this.draw(done, extra, now);
  }

  private draw(done: number, extra: string, now: number): void {
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    let bar = "";
    let eta = "";
    if (this.total && this.total > 0) {
      const frac = Math.min(1, done / this.total);
      const width = 24;
      const full = Math.round(frac * width);
      bar = `[${"#".repeat(full)}${"-".repeat(width - full)}] ${(frac * 100).toFixed(0).padStart(3)}% `;
      if (rate > 0 && frac < 1) eta = ` ETA ${formatSeconds((this.total - done) / rate)}`;
    }
    this.line.draw(`${this.label} ${bar}${done.toLocaleString()} ${this.unit}, ${Math.round(rate).toLocaleString()}/s${eta}${extra ? ` ${extra}` : ""}`);
  }

  /** Clear the line so the summary starts clean. */
  done(): void {
    this.line.clear();
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}
