// The CLI's progress pieces (cli/_progress.ts): how far along, the ETA, counts.

import { assertEquals } from "./_assert.ts";
import { count, progressShare } from "../cli/_progress.ts";

Deno.test("progressShare: the share of a known total, and an ETA from the bytes really moved", () => {
  assertEquals(progressShare(null, 10, 10, 1000), { of: "", eta: "" });
  // 256 MiB of 1 GiB in 2 s: 6 s to go.
  assertEquals(progressShare(1024 ** 3, 256 * 1024 ** 2, 256 * 1024 ** 2, 2000), {
    of: " of 1.00 GiB (25%)",
    eta: ", ETA 0:06",
  });
  // Half of it skipped (already there): 50% done, but the speed is the 25% moved in 2 s.
  assertEquals(progressShare(1024 ** 3, 512 * 1024 ** 2, 256 * 1024 ** 2, 2000), {
    of: " of 1.00 GiB (50%)",
    eta: ", ETA 0:04",
  });
  // Nothing moved yet: no ETA to give.
  assertEquals(progressShare(1024 ** 3, 512 * 1024 ** 2, 0, 2000).eta, "");
});

Deno.test("count: singular for one, plural otherwise", () => {
  assertEquals([count(0, "file"), count(1, "file"), count(2, "file")], [
    "0 files",
    "1 file",
    "2 files",
  ]);
  assertEquals(count(1, "path"), "1 path");
});
