/**
 * One live line at the bottom of a terminal (stderr), redrawn in place, only when stderr is a
 * TTY. Log lines printed through print() appear above it, so logs and the live line never mix.
 */
export class StatusLine {
  private drawn = false;
  private text = "";

  constructor(readonly enabled = process.stderr.isTTY === true) {}

  draw(text: string): void {
    if (!this.enabled) return;
    // Cut to the terminal's width: a line that wraps can no longer be redrawn in place.
    const cols = process.stderr.columns;
    this.text = cols && cols > 20 && text.length >= cols ? `${text.slice(0, cols - 2)}…` : text;
    process.stderr.write(`\r\x1b[2K${this.text}`);
    this.drawn = true;
  }

  /** Erase the line (before a summary, or for good). */
  clear(): void {
    if (this.enabled && this.drawn) process.stderr.write("\r\x1b[2K");
    this.drawn = false;
  }

  /** A finished line (a log line) above the live one, which is drawn again below it. */
  print(line: string): void {
    const wasDrawn = this.drawn;
    this.clear();
    process.stderr.write(line.endsWith("\n") ? line : `${line}\n`);
    if (wasDrawn) this.draw(this.text);
  }
}

/** Events per second over the last few seconds, from a running total sampled now and then. */
export class RateMeter {
  private readonly samples: { at: number; value: number }[] = [];

  constructor(private readonly spanMs = 3000) {}

  /** Record the total now; returns the rate over the span (0 until two samples exist). */
  update(value: number, at = performance.now()): number {
    this.samples.push({ at, value });
    while (this.samples.length > 2 && at - this.samples[0]!.at > this.spanMs) this.samples.shift();
    const first = this.samples[0]!;
    return at > first.at ? ((value - first.value) * 1000) / (at - first.at) : 0;
  }
}

/** 1234567 -> "1,234,567" (en-US, whatever the locale). */
export const count = (n: number) => Math.round(n).toLocaleString("en-US");
