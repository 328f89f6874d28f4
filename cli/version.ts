// `cofre version`: what a bug report needs.

import { Command } from "@commander-js/extra-typings";
import { compressorEngine, defaultAesGcmEngine, VERSION, WASM_ABI_VERSION } from "../mod.ts";
import { type CliContext, EXIT_OK } from "./_ui.ts";

export function versionCommand({ io, done }: CliContext) {
  return new Command("version")
    .description(
      "print the versions of Cofre, its WebAssembly core and the runtime, and the AES-GCM and zstd engines in use",
    )
    .option("--json", "print one JSON object")
    .action((options) => {
      const runtime = typeof Deno === "undefined" ? "unknown" : `deno ${Deno.version.deno}`;
      // The host-native stages (src/_native/) where usable, else the reference ones.
      const aesGcm = defaultAesGcmEngine();
      const zstd = compressorEngine();
      if (options.json) {
        io.stdout(
          JSON.stringify({
            version: VERSION,
            wasm_abi: WASM_ABI_VERSION,
            runtime,
            aes_gcm: aesGcm,
            zstd,
          }) +
            "\n",
        );
      } else {
        io.stdout(
          `cofre ${VERSION} (wasm ABI ${WASM_ABI_VERSION}, ${runtime}; AES-GCM: ${aesGcm}, zstd: ${zstd})\n`,
        );
      }
      done(EXIT_OK);
    });
}
