// The README's first command runs cli/demo.ts: it must end with an identical
// restore and exit 0 (a session once changed backups and left it reporting a
// mismatch, unnoticed, because nothing ran it).

import { assertEquals, assertTrue } from "./_assert.ts";

Deno.test("the demo backs up, changes, backs up again and restores an identical tree", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/demo.ts", import.meta.url).pathname],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(result.stdout);
  assertEquals(result.code, 0, stdout + new TextDecoder().decode(result.stderr));
  assertTrue(stdout.includes("Restored tree is identical to the source"), stdout);
  assertTrue(stdout.includes("exit code 12"), stdout);
});
