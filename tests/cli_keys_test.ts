// `cofre init` and `cofre key` through main(), in process, with a scripted terminal.

import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre, type Script } from "./_cli.ts";
import { tempDirs } from "./_temp_dir.ts";

const PASSWORD = "vivid otter juggles lanterns";

const withTempDir = tempDirs("cofre-cli-");

Deno.test("cofre init --json with COFRE_PASSWORD prints the id and recovery key", () =>
  withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: repo };
    const init = await cofre(["init", "--recovery-key", "--json"], { env });
    assertEquals(init.code, 0, init.stderr);
    const out = JSON.parse(init.stdout);
    assertTrue(/^[0-9a-f]{32}$/.test(out.id));
    assertTrue(/^([0-9a-f]{4}-){15}[0-9a-f]{4}$/.test(out.recovery_key));
    assertEquals(init.stderr, "");
    const list = await cofre(["key", "list", "--json"], { env });
    assertEquals(list.code, 0, list.stderr);
    assertEquals(JSON.parse(list.stdout).map((s: { kind: string }) => s.kind), [
      "password",
      "recovery",
    ]);
    const byKey = await cofre(["key", "list", "-r", repo], {
      env: { COFRE_RECOVERY_KEY: out.recovery_key },
    });
    assertEquals(byKey.code, 0, byKey.stderr);
    assertTrue(byKey.stdout.includes("* "), byKey.stdout);
    const again = await cofre(["init"], { env });
    assertEquals(again.code, 1);
    assertTrue(again.stderr.includes("there is one already"), again.stderr);
  }));

Deno.test("on a terminal, init asks twice, warns about a weak password and needs consent", () =>
  withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const mismatch = await cofre(["init", "-r", repo], {
      typed: [
        "first passphrase here",
        "second passphrase here",
        "password123",
        "password123",
        PASSWORD,
        PASSWORD,
      ],
      answers: [false, true],
    });
    assertEquals(mismatch.code, 0, mismatch.stderr);
    assertTrue(mismatch.stderr.includes("cannot recover a forgotten password"), mismatch.stderr);
    assertTrue(mismatch.stderr.includes("The two passwords differ"), mismatch.stderr);
    assertTrue(mismatch.stderr.includes("offline"), mismatch.stderr);
    assertEquals(mismatch.prompts.filter((p) => p.startsWith("Use this weak")).length, 1);
    assertTrue(mismatch.prompts.at(-1)!.includes("cannot be recovered"));
    assertTrue(mismatch.stdout.includes("Created repository"), mismatch.stdout);
    // Whatever was typed is never echoed.
    for (const secret of ["first passphrase here", "password123", PASSWORD]) {
      assertTrue(!mismatch.stdout.includes(secret) && !mismatch.stderr.includes(secret), secret);
    }
    assertEquals(mismatch.stdout.match(/cannot recover a forgotten password/g), null);
    const opened = await cofre(["key", "list", "-r", repo], { typed: [PASSWORD] });
    assertEquals(opened.code, 0, opened.stderr);
    assertEquals(opened.prompts, ["Repository password:"]);
  }));

Deno.test("Ctrl-C at a prompt exits 130 and says it was cancelled", () =>
  withTempDir(async (dir) => {
    const result = await cofre(["init", "-r", `${dir}/r`], { typed: ["^C"] });
    assertEquals(result.code, 130);
    assertEquals(result.stderr.split("\n").at(-2), "cofre: cancelled");
    assertEquals(await Deno.stat(`${dir}/r`).then(() => true, () => false), false);
  }));

Deno.test("declining the confirmation creates nothing", () =>
  withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const declined = await cofre(["init", "-r", repo], {
      typed: [PASSWORD, PASSWORD],
      answers: [false],
    });
    assertEquals(declined.code, 1);
    assertTrue(declined.stderr.includes("nothing was created"));
    assertEquals(await Deno.stat(repo).then(() => true, () => false), false);
  }));

Deno.test("wrong password or account: exit 12 and one line", () =>
  withTempDir(async (dir) => {
    const env = {
      COFRE_PASSWORD: PASSWORD,
      COFRE_REPOSITORY: `${dir}/r`,
      COFRE_ACCOUNT: "+14155550100",
    };
    assertEquals((await cofre(["init"], { env })).code, 0);
    for (
      const changed of [{ COFRE_PASSWORD: "not the password" }, { COFRE_ACCOUNT: "+14155550101" }, {
        COFRE_ACCOUNT: "",
      }]
    ) {
      const result = await cofre(["key", "list"], { env: { ...env, ...changed } });
      assertEquals(result.code, 12);
      assertEquals(result.stderr, "cofre: wrong password, recovery key or account\n");
      assertEquals(result.stdout, "");
    }
  }));

Deno.test("usage problems exit 2 and a missing repository exits 10", () =>
  withTempDir(async (dir) => {
    const cases: [string[], Script, number, string][] = [
      [["init", "-r", `${dir}/a`], { env: { COFRE_PASSWORD: "short" } }, 2, "at least 8"],
      [
        ["init", "-r", `${dir}/b`, "--account", "12345"],
        { env: { COFRE_PASSWORD: PASSWORD } },
        2,
        "phone number",
      ],
      [["init", "-r", `${dir}/c`], {}, 2, "no password"],
      [["init"], { env: { COFRE_PASSWORD: PASSWORD } }, 2, "--repo"],
      [
        ["key", "list", "-r", `${dir}/none`],
        { env: { COFRE_PASSWORD: PASSWORD } },
        10,
        "no repository there",
      ],
      [["key", "list", "-r", `${dir}/none`], {}, 2, "no password"],
      [
        ["key", "list", "-r", "s3:https://example.invalid/b"],
        { env: { COFRE_PASSWORD: PASSWORD } },
        2,
        "not a valid bucket name",
      ],
      [["key", "remove"], {}, 2, "missing required argument"],
    ];
    for (const [args, script, code, says] of cases) {
      const result = await cofre(args, script);
      assertEquals(result.code, code, `${args.join(" ")}: ${result.stderr}`);
      assertTrue(result.stderr.includes(says), `${args.join(" ")}: ${result.stderr}`);
    }
  }));

Deno.test("key add, passwd, recovery and remove, non-interactively", () =>
  withTempDir(async (dir) => {
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/r` };
    assertEquals((await cofre(["init"], { env })).code, 0);
    const add = await cofre(["key", "add", "--json"], {
      env: { ...env, COFRE_NEW_PASSWORD: "second good passphrase" },
    });
    assertEquals(add.code, 0, add.stderr);
    const addedId = JSON.parse(add.stdout).id;
    const passwd = await cofre(["key", "passwd", "--new-password-file", "/secret"], {
      env,
      files: { "/secret": "third good passphrase\n" },
    });
    assertEquals(passwd.code, 0, passwd.stderr);
    assertEquals((await cofre(["key", "list"], { env })).code, 12);
    const env3 = { ...env, COFRE_PASSWORD: "third good passphrase" };
    const recovery = await cofre(["key", "recovery", "--json"], { env: env3 });
    assertEquals(recovery.code, 0, recovery.stderr);
    const key = JSON.parse(recovery.stdout).recovery_key;
    const list = await cofre(["key", "list", "--recovery-key-file", "/rk"], {
      env,
      files: { "/rk": key },
    });
    assertEquals(list.code, 0, list.stderr);
    assertEquals(
      JSON.parse((await cofre(["key", "list", "--json"], { env: env3 })).stdout).length,
      3,
    );
    const remove = await cofre(["key", "remove", addedId.slice(0, 8)], { env: env3 });
    assertEquals(remove.code, 0, remove.stderr);
    const noNew = await cofre(["key", "add"], { env: env3 });
    assertEquals(noNew.code, 2);
    assertTrue(noNew.stderr.includes("COFRE_NEW_PASSWORD"), noNew.stderr);
  }));
