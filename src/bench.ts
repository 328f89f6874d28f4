/**
 * Throughput of each pipeline stage on this machine, next to a baseline the
 * host provides natively (WebCrypto SHA-256), so figures from different
 * machines compare as ratios. `cofre bench` prints it; bench/ holds the
 * `deno bench` suites that measure the same stages in more detail.
 *
 * @module
 */

import { KeyedHasher } from "./chunk_id.ts";
import { AesGcm, type AesGcmEngine, defaultAesGcmEngine } from "./aead.ts";
import { type BlobKeys, blobKeysFrom, sealBlob } from "./blob.ts";
import { cutPoints, DEFAULT_CHUNKER_OPTIONS, StreamingChunker } from "./chunker.ts";
import { compressBlob, compressorEngine, decompress, loadCompressor } from "./compress.ts";

/** One stage to time: a function that processes the whole input once. */
export interface BenchStage {
  /** Short, stable identifier (used in JSON output). */
  id: string;
  /** What a person reads. */
  label: string;
  /** Untimed set-up with the round's input (loading WebAssembly, building inputs). */
  prepare?(data: Uint8Array): Promise<void>;
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
  /** Bytes of random input each stage processes per round (default 16 MiB). */
  sizeBytes?: number;
  /** Timed rounds per stage, after half a second of warm-up (default 5). */
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

const PIECE_BYTES = 1024 * 1024;

/** Cuts `data` into 1 MiB pieces: the pipeline hashes and compresses chunk by chunk (1 MiB average). */
function pieces(data: Uint8Array, size = PIECE_BYTES): Uint8Array[] {
  const out = [];
  for (let at = 0; at < data.length; at += size) {
    out.push(data.subarray(at, at + size));
  }
  return out;
}

// AES-256-GCM: the wasm kernel, libcrypto (where usable) and WebCrypto on the same pieces.
const aesKey = new Uint8Array(32).fill(9);
const nonce = new Uint8Array(12).fill(1);
let wasmAead: AesGcm | undefined;
let nativeAead: AesGcm | undefined;
let webKey: CryptoKey | undefined;
const sealedPieces = new Map<number, Uint8Array[]>();

async function prepareAead(data: Uint8Array): Promise<void> {
  wasmAead ??= new AesGcm(aesKey, { engine: "wasm" });
  if (defaultAesGcmEngine() === "libcrypto") nativeAead ??= new AesGcm(aesKey);
  webKey ??= await crypto.subtle.importKey("raw", aesKey, "AES-GCM", false, ["encrypt", "decrypt"]);
  for (const size of [PIECE_BYTES, 64 * 1024]) {
    if (!sealedPieces.has(size)) {
      sealedPieces.set(
        size,
        pieces(data, size).map((p) => wasmAead!.seal(nonce, p)),
      );
    }
  }
}

/** Seal and open rows for one engine (the wasm kernel's ids carry no suffix). */
function engineStages(size: number, name: string, engine: AesGcmEngine): BenchStage[] {
  const aead = () => (engine === "wasm" ? wasmAead : nativeAead)!;
  const suffix = engine === "wasm" ? "" : `-${engine}`;
  return [
    {
      id: `aes-gcm-seal-${name}${suffix}`,
      label: `AES-256-GCM seal, ${name} pieces (${engine})`,
      prepare: prepareAead,
      run: (data) => {
        for (const piece of pieces(data, size)) aead().seal(nonce, piece);
      },
    },
    {
      id: `aes-gcm-open-${name}${suffix}`,
      label: `AES-256-GCM open, ${name} pieces (${engine})`,
      prepare: prepareAead,
      run: () => {
        for (const sealed of sealedPieces.get(size)!) aead().open(nonce, sealed);
      },
    },
  ];
}

function aeadStages(size: number, name: string): BenchStage[] {
  return [
    ...(defaultAesGcmEngine() === "libcrypto" ? engineStages(size, name, "libcrypto") : []),
    ...engineStages(size, name, "wasm"),
    {
      id: `aes-gcm-seal-${name}-webcrypto`,
      label: `AES-256-GCM encrypt, ${name} pieces (WebCrypto)`,
      prepare: prepareAead,
      run: async (data) => {
        for (const piece of pieces(data, size)) {
          await crypto.subtle.encrypt(
            { name: "AES-GCM", iv: nonce },
            webKey!,
            piece as Uint8Array<ArrayBuffer>,
          );
        }
      },
    },
    {
      id: `aes-gcm-open-${name}-webcrypto`,
      label: `AES-256-GCM decrypt, ${name} pieces (WebCrypto)`,
      prepare: prepareAead,
      run: async () => {
        for (const sealed of sealedPieces.get(size)!) {
          await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: nonce },
            webKey!,
            sealed as Uint8Array<ArrayBuffer>,
          );
        }
      },
    },
  ];
}

// The whole CPU path of a backup, in one thread: FastCDC → ChunkId → the
// compression decision → seal (FORMAT.md §7-8). No storage, no workers.
let blobKeys: BlobKeys | undefined;

async function preparePipeline(): Promise<void> {
  await loadCompressor();
  blobKeys ??= await blobKeysFrom({ data: aesKey, meta: aesKey, id: aesKey, nonce: aesKey });
}

function pipeline(data: Uint8Array): void {
  using chunker = new StreamingChunker({ ...DEFAULT_CHUNKER_OPTIONS, seed: 5n });
  for (const chunk of [...chunker.push(data), ...chunker.finish()]) {
    sealBlob("data", chunk.bytes, blobKeys!, { level: 3 });
  }
}

let idHasher: KeyedHasher | undefined;
let referenceHasher: KeyedHasher | undefined;
// Text-like input and its frames, rebuilt when the input size changes.
let text: Uint8Array = new Uint8Array(0);
let textFrames: { bytes: Uint8Array; length: number }[] = [];

async function prepareText(data: Uint8Array): Promise<void> {
  await loadCompressor();
  if (text.length === data.length) return;
  text = textLikeBytes(data.length);
  textFrames = pieces(text).map((piece) => ({
    bytes: compressBlob(piece, { level: 3 }).bytes,
    length: piece.length,
  }));
}

/**
 * Cofre's stages, in pipeline order. The zstd stages run zstd-codec on 1 MiB
 * pieces (the average chunk): the first on the bench's random data (the cost
 * every photo or video chunk pays before it is stored raw), the other two on
 * chat-like JSON text of the same size (`textLikeBytes`), which compresses.
 */
export const PIPELINE_STAGES: readonly BenchStage[] = [
  {
    id: "fastcdc",
    label: "FastCDC chunking, 256 KiB / 1 MiB / 4 MiB (wasm)",
    run: (data) => cutPoints(data, DEFAULT_CHUNKER_OPTIONS),
  },
  {
    id: "blake3-keyed",
    label: "ChunkId keyed BLAKE3, 1 MiB pieces (wasm core)",
    prepare: async () => {
      idHasher ??= await KeyedHasher.create(new Uint8Array(32).fill(7));
    },
    run: (data) => {
      for (const piece of pieces(data)) idHasher!.hash(piece);
    },
  },
  {
    id: "blake3-keyed-reference",
    label: "ChunkId keyed BLAKE3, 1 MiB pieces (hash-wasm, the reference)",
    prepare: async () => {
      referenceHasher ??= await KeyedHasher.create(new Uint8Array(32).fill(7), {
        engine: "hash-wasm",
      });
    },
    run: (data) => {
      for (const piece of pieces(data)) referenceHasher!.hash(piece);
    },
  },
  {
    id: "zstd3-random",
    label: `zstd-3 try + 3% rule, 1 MiB pieces: stays raw (${compressorEngine()})`,
    prepare: () => loadCompressor(),
    run: (data) => {
      for (const piece of pieces(data)) compressBlob(piece, { level: 3 });
    },
  },
  {
    id: "zstd3-text",
    label: `zstd-3 compress, 1 MiB pieces of chat-like text (${compressorEngine()})`,
    prepare: prepareText,
    run: () => {
      for (const piece of pieces(text)) compressBlob(piece, { level: 3 });
    },
  },
  ...aeadStages(PIECE_BYTES, "1 MiB"),
  ...aeadStages(64 * 1024, "64 KiB"),
  {
    id: "pipeline-media",
    label: `whole pipeline, one thread: media-like (random) data (AES: ${defaultAesGcmEngine()})`,
    prepare: preparePipeline,
    run: pipeline,
  },
  {
    id: "pipeline-text",
    label:
      `whole pipeline, one thread: chat-like text (AES: ${defaultAesGcmEngine()}, zstd: ${compressorEngine()})`,
    prepare: async (data) => {
      await preparePipeline();
      await prepareText(data);
    },
    run: () => pipeline(text),
  },
  {
    id: "zstd3-text-decompress",
    label: `zstd decompress, the chat-like text's frames (${compressorEngine()})`,
    prepare: prepareText,
    run: () => {
      for (const frame of textFrames) decompress(frame.bytes, { maxBytes: frame.length });
    },
  },
];

const FIRST_NAMES = [
  "Ana",
  "Bruno",
  "Carla",
  "Diego",
  "Elisa",
  "Fábio",
  "Gabi",
  "Hugo",
  "Iara",
  "João",
];
const WORDS = ("ok yes no thanks see you tomorrow at the office lunch dinner today tonight " +
  "photo video call later meeting moved to room three please send me address love it great " +
  "sorry running late traffic is terrible on my way home kids school pick up bring milk bread " +
  "coffee weekend beach trip flight tickets booked hotel price check this link happy birthday " +
  "congratulations good morning night sleep well miss you where are we meeting again").split(" ");

/**
 * Chat-like text: JSON messages (id, sender, time, words drawn with a skew
 * towards common ones), one a line, as in a chat app's export. Deterministic
 * for a given length and seed. zstd level 3 saves about 75% on it.
 */
export function textLikeBytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  const encoder = new TextEncoder();
  let x = seed >>> 0 || 1;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  let time = 1_760_000_000_000;
  for (let at = 0, id = 1; at < length; id++) {
    const words = [];
    for (let n = 3 + (next() % 14); n > 0; n--) {
      // Squaring a uniform number favours the start of the list (common words).
      const u = next() / 2 ** 32;
      words.push(WORDS[Math.floor(u * u * WORDS.length)]);
    }
    time += next() % 600_000;
    const line = JSON.stringify({
      id,
      from: FIRST_NAMES[next() % FIRST_NAMES.length],
      time,
      text: words.join(" "),
    }) + "\n";
    const { written } = encoder.encodeInto(line, out.subarray(at));
    if (written === 0) break; // a multi-byte character did not fit the last bytes
    at += written;
  }
  return out;
}

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
  await stage.prepare?.(data);
  // Warm up for at least half a second: V8 first runs wasm through its baseline
  // compiler and tiers hot functions up in the background.
  for (const until = performance.now() + 500; performance.now() < until;) await stage.run(data);
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
  const sizeBytes = options.sizeBytes ?? 16 * 1024 * 1024;
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
