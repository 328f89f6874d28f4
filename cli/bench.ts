// `cofre bench`: this machine's throughput for each pipeline stage, next to
// WebCrypto SHA-256 on the same data.

import { Command } from "@commander-js/extra-typings";
import { type BenchResult, runBench } from "../mod.ts";
import { type CliContext, EXIT_OK, padStart, positiveInteger } from "./_ui.ts";

const MIB = 1024 * 1024;

export function benchCommand({ io, done }: CliContext) {
  return new Command("bench")
    .description("measure this machine's throughput for each stage of the backup pipeline")
    .option("--size <MiB>", "MiB of random data per stage and round", positiveInteger, 16)
    .option("--rounds <n>", "timed rounds per stage (the median is reported)", positiveInteger, 5)
    .option("--json", "print one JSON object instead of a table")
    .addHelpText(
      "after",
      "\nEach stage processes the same random (incompressible) data; ratios are relative to\n" +
        "WebCrypto SHA-256, so results from different machines compare. The default 16 MiB\n" +
        "keeps SHA-256 on its fast path: on some hosts it is several times slower for one-shot\n" +
        "inputs of 32 MiB and more, which would flatter every ratio.",
    )
    .action(async (options) => {
      const sizeBytes = options.size * MIB;
      const header =
        `Cofre bench: ${options.size} MiB of random data, median of ${options.rounds} rounds\n\n` +
        `${"stage".padEnd(52)} ${padStart("MB/s", 8)} ${padStart("× SHA-256", 10)}\n`;
      if (!options.json) io.stdout(header);
      const results = await runBench({
        sizeBytes,
        rounds: options.rounds,
        onResult: options.json ? undefined : (result) => io.stdout(formatRow(result)),
      });
      if (options.json) {
        io.stdout(
          JSON.stringify({
            size_bytes: sizeBytes,
            rounds: options.rounds,
            results: results.map((r) => ({
              stage: r.id,
              label: r.label,
              mb_per_s: Number(r.mbPerSecond.toFixed(1)),
              ratio_to_sha256: Number(r.ratio.toFixed(3)),
            })),
          }) + "\n",
        );
      }
      done(EXIT_OK);
    });
}

function formatRow(result: BenchResult): string {
  return `${result.label.padEnd(52)} ${padStart(result.mbPerSecond.toFixed(0), 8)} ${
    padStart(`${result.ratio.toFixed(2)}×`, 10)
  }\n`;
}
