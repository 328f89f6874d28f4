/**
 * Throughput of each pipeline stage on this machine, next to a baseline the
 * host provides natively (WebCrypto SHA-256), so figures from different
 * machines compare as ratios. `cofre bench` prints it; bench/ holds the
 * `deno bench` suites that measure the same stages in more detail.
 *
 * @module
 */

import { cutPoints, DEFAULT_CHUNKER_OPTIONS } from "./chunker.ts";

/** One stage to time: a function that processes the whole input once. */
export interface BenchStage {
  /** Short, stable identifier (used in JSON output). */
  id: string;
  /** What a person reads. */
  label: string;
  run(data: Uint8Array): unknown;
}

/** A stage's throughput: the median of the timed rounds. */
export interface BenchResult {
  id: string;
  label: string;
  /** Megabytes (10^6 bytes) per second. */
  mbPerSecond: number;
  /** Throughput relative to the baseline stage (1 for the baseline itself). */
  ratio: number;
}

/** Options for `runBench`. */
export interface BenchOptions {
  /** Bytes of random input each stage processes per round (default 64 MiB). */
  sizeBytes?: number;
  /** Timed rounds per stage, after one warm-up round (default 5). */
  rounds?: number;
  /** Called after each stage, for progress output. */
  onResult?: (result: BenchResult) => void;
}

/** The baseline every ratio is relative to. */
export const BASELINE_STAGE: BenchStage = {
  id: "sha256-webcrypto",
  label: "SHA-256 (WebCrypto, baseline)",
  run: (data) => crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
};

/** Cofre's stages, in pipeline order. */
export const PIPELINE_STAGES: readonly BenchStage[] = [
  {
    id: "fastcdc",
    label: "FastCDC chunking, 256 KiB / 1 MiB / 4 MiB (wasm)",
    run: (data) => cutPoints(data, DEFAULT_CHUNKER_OPTIONS),
  },
];

/** Random bytes (incompressible, like photos and videos), filled 64 KiB at a time. */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  // getRandomValues fills at most 65536 bytes a call.
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(at + 65536, length)));
  }
  return out;
}

async function timeStage(stage: BenchStage, data: Uint8Array, rounds: number): Promise<number> {
  await stage.run(data); // warm-up: compile tiers, caches
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    await stage.run(data);
    const seconds = (performance.now() - start) / 1000;
    rates.push(data.length / 1e6 / Math.max(seconds, 1e-9));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

/**
 * Times the baseline and then every stage on the same random data.
 *
 * @example
 * ```ts
 * import { runBench } from "./bench.ts";
 * const results = await runBench({ sizeBytes: 1 << 20, rounds: 1 });
 * console.log(results.map((r) => `${r.id}: ${r.mbPerSecond.toFixed(0)} MB/s`).join("\n"));
 * ```
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchResult[]> {
  const sizeBytes = options.sizeBytes ?? 64 * 1024 * 1024;
  const rounds = options.rounds ?? 5;
  if (!Number.isInteger(sizeBytes) || sizeBytes < 1) {
    throw new RangeError(
      `Cannot run the benchmark: size must be a positive integer, got ${sizeBytes}`,
    );
  }
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(
      `Cannot run the benchmark: rounds must be a positive integer, got ${rounds}`,
    );
  }
  const data = randomBytes(sizeBytes);
  const results: BenchResult[] = [];
  const baseline = await timeStage(BASELINE_STAGE, data, rounds);
  for (const stage of [BASELINE_STAGE, ...PIPELINE_STAGES]) {
    const mbPerSecond = stage === BASELINE_STAGE ? baseline : await timeStage(stage, data, rounds);
    const result = { id: stage.id, label: stage.label, mbPerSecond, ratio: mbPerSecond / baseline };
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
