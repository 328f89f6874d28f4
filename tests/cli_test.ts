import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { VERSION, WASM_ABI_VERSION } from "../mod.ts";

Deno.test("cofre bench --json reports the chunker next to the SHA-256 baseline", async () => {
  const { code, stdout, stderr } = await cofre(["bench", "--size", "2", "--rounds", "1", "--json"]);
  assertEquals(code, 0, stderr);
  const report = JSON.parse(stdout);
  assertEquals(report.size_bytes, 2 * 1024 * 1024);
  const stages = report.results.map((r: { stage: string }) => r.stage);
  assertEquals(stages.slice(0, 2), ["sha256-webcrypto", "fastcdc"]);
  for (const result of report.results) {
    assertTrue(Number.isFinite(result.mb_per_s) && result.mb_per_s > 0, JSON.stringify(result));
  }
  assertEquals(report.results[0].ratio_to_sha256, 1);
});

Deno.test("cofre bench prints a table with MB/s for each stage", async () => {
  const { code, stdout } = await cofre(["bench", "--size", "1", "--rounds", "1"]);
  assertEquals(code, 0);
  assertTrue(stdout.includes("MB/s"), stdout);
  assertTrue(/FastCDC.*\d+\s+\d+\.\d\d×/.test(stdout), stdout);
});

Deno.test("cofre version prints the release and ABI versions", async () => {
  const text = await cofre(["version"]);
  assertEquals(text.code, 0);
  assertTrue(text.stdout.includes(`cofre ${VERSION}`), text.stdout);
  const json = JSON.parse((await cofre(["version", "--json"])).stdout);
  assertEquals([json.version, json.wasm_abi], [VERSION, WASM_ABI_VERSION]);
  const pkg = JSON.parse(await Deno.readTextFile(new URL("../package.json", import.meta.url)));
  assertEquals(pkg.version, VERSION);
});

Deno.test("usage errors exit 2 and say what is wrong", async (t) => {
  for (
    const [name, args, says] of [
      ["unknown command", ["frobnicate"], "unknown command"],
      ["bad number", ["bench", "--size", "ten"], "positive whole number"],
      ["zero rounds", ["bench", "--rounds", "0"], "positive whole number"],
      ["unknown option", ["bench", "--fast"], "unknown option"],
    ] as const
  ) {
    await t.step(name, async () => {
      const { code, stderr } = await cofre([...args]);
      assertEquals(code, 2);
      assertTrue(stderr.includes(says), stderr);
    });
  }
  const bare = await cofre([]);
  assertEquals(bare.code, 2);
  assertTrue(bare.stdout.includes("Usage: cofre"), bare.stdout);
});

Deno.test("--help exits 0 and lists the commands and exit codes", async () => {
  const { code, stdout } = await cofre(["--help"]);
  assertEquals(code, 0);
  for (const word of ["bench", "version", "Exit codes"]) assertTrue(stdout.includes(word), word);
  const bench = await cofre(["bench", "--help"]);
  assertEquals(bench.code, 0);
  assertTrue(bench.stdout.includes("--size <MiB>"), bench.stdout);
});

Deno.test("the real binary runs in a subprocess: deno run cli/main.ts version", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, "version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  assertTrue(new TextDecoder().decode(output.stdout).startsWith(`cofre ${VERSION}`));
  const usage = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, "nope"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(usage.code, 2);
});
