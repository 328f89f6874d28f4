// One status line on a terminal, redrawn at most ten times a second; nothing
// at all when output is piped (DESIGN.md: progress on a terminal only).

import type { Io } from "./_ui.ts";

/** The line's width where the terminal's is unknown. */
const DEFAULT_COLUMNS = 120;

export class ProgressLine {
  readonly #io: Io;
  readonly #enabled: boolean;
  #last = 0;
  #shown = false;

  constructor(io: Io, options: { enabled: boolean }) {
    this.#io = io;
    // Drawn on stderr: both streams must be a terminal (`backup 2>log` on one must not fill the log).
    this.#enabled = options.enabled && io.isTerminal && io.stderrIsTerminal !== false;
  }

  /** Redraws the line with `text()` unless it was drawn less than 100 ms ago. */
  update(text: () => string): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    this.#shown = true;
    // One line, never wrapped: a wrapped line is not redrawn in place but repeated.
    const width = Math.max(20, (this.#io.columns?.() ?? DEFAULT_COLUMNS) - 1);
    this.#io.stderr(`\r${text().slice(0, width)}\x1b[K`);
  }

  /** Clears the line. */
  done(): void {
    if (this.#shown) this.#io.stderr("\r\x1b[K");
    this.#shown = false;
  }
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5 KiB". */
/**
 * A time for people, in local time as restic prints it (forget's days and
 * weeks are local too): `2026-11-24 10:00:05`, or without seconds.
 */
export function formatTime(ms: number, options: { seconds?: boolean } = {}): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  const text = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}`;
  return options.seconds === false ? text : `${text}:${two(d.getSeconds())}`;
}

/**
 * How far along a run is, for a progress line: `" of 1.2 GiB (40%)"` and
 * `", ETA 0:12"`; empty strings while the total is unknown. `done` counts
 * what is behind (skipped work too); the ETA goes by `moved`, the bytes
 * actually processed in `ms`.
 */
export function progressShare(
  total: number | null | undefined,
  done: number,
  moved: number,
  ms: number,
): { of: string; eta: string } {
  if (!total) return { of: "", eta: "" };
  const share = Math.min(1, done / total);
  const left = total - Math.min(done, total);
  return {
    of: ` of ${formatBytes(total)} (${Math.floor(share * 100)}%)`,
    eta: share > 0.01 && moved > 0 ? `, ETA ${formatDuration((ms / moved) * left)}` : "",
  };
}

/** "1 file", "2 files": a count and its noun, plural but for one. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** Megabytes (10^6) per second, as bench and peers report. */
export function formatRate(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / Math.max(ms / 1000, 1e-3)).toFixed(1)} MB/s`;
}

/** 83 000 ms → "1:23". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}
