// The S3 backend against a real S3-compatible server on loopback (s3rver):
// the Storage contract, list pagination, multipart uploads, the one-line
// errors for a missing bucket and wrong credentials, and location parsing.

import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { startS3Server } from "./_servers.ts";
import { checkStorageContract } from "./_storage_contract.ts";
import { openS3Storage, parseS3Location, S3Error, S3Storage } from "../mod.ts";
import { parseIni, resolveAwsConfig } from "../src/storage/_aws_config.ts";

const FAST_RETRY = { retries: 2, baseDelayMs: 10, maxDelayMs: 50 };

function s3(
  endpoint: string,
  bucket: string,
  extra: Partial<ConstructorParameters<typeof S3Storage>[0]> = {},
) {
  return new S3Storage({
    endpoint,
    bucket,
    prefix: "repo/one",
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    retry: FAST_RETRY,
    ...extra,
  });
}

Deno.test("S3 storage on s3rver: contract, pagination, multipart, errors", async (t) => {
  const server = await startS3Server();
  try {
    await t.step("the Storage contract", async () => {
      await checkStorageContract(s3(server.endpoint, server.bucket));
    });

    await t.step("list pages through continuation tokens", async () => {
      const storage = s3(server.endpoint, server.bucket, { listPageSize: 3 });
      const names = Array.from({ length: 8 }, (_, i) => `index/${i}`);
      for (const name of names) await storage.put(name, new Uint8Array([1, 2]));
      const listed = (await Array.fromAsync(storage.list("index/"))).map((o) => o.name).sort();
      assertEquals(listed, names);
      for (const name of names) await storage.delete(name);
    });

    await t.step("large objects go up in parts", async () => {
      const storage = s3(server.endpoint, server.bucket, {
        multipartThreshold: 6 * 1048576,
        partBytes: 5 * 1048576,
      });
      const bytes = pseudoRandomBytes(11 * 1048576 + 5, 2);
      await storage.put("data/cd/big", bytes);
      assertEquals((await storage.stat("data/cd/big"))?.size, bytes.length);
      assertEquals(await storage.get("data/cd/big"), bytes);
      const offset = 5 * 1048576 - 3;
      assertEquals(
        await storage.get("data/cd/big", { offset, length: 10 }),
        bytes.slice(offset, offset + 10),
      );
      await storage.put("data/cd/big", bytes); // same bytes: no-op
      await storage.delete("data/cd/big");
    });

    await t.step("a missing bucket and wrong credentials are one-line errors", async () => {
      await assertRejects(
        () => s3(server.endpoint, "no-such-bucket").stat("config"),
        S3Error,
        'bucket "no-such-bucket" does not exist',
      );
      await assertRejects(
        () => s3(server.endpoint, server.bucket, { accessKeyId: "WRONG" }).stat("config"),
        S3Error,
        "access key",
      );
      // s3rver does not check signatures, so a wrong secret key is not tested here.
    });

    await t.step("openS3Storage reads credentials from a profile", async () => {
      const files: Record<string, string> = {
        "/h/.aws/credentials":
          "[backup]\naws_access_key_id = S3RVER\naws_secret_access_key=S3RVER\n",
      };
      const storage = await openS3Storage(`s3:${server.endpoint}/${server.bucket}/p`, {
        env: (name) => ({ HOME: "/h", AWS_PROFILE: "backup" } as Record<string, string>)[name],
        readTextFile: (path) => Promise.resolve(files[path]),
      });
      assertEquals(storage.location, `s3:${server.endpoint}/${server.bucket}/p`);
      assertEquals(await storage.stat("config"), null);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("S3 locations and AWS settings parse", async () => {
  assertEquals(parseS3Location("s3:https://minio.lan:9000/backups/phone/2024"), {
    endpoint: "https://minio.lan:9000",
    bucket: "backups",
    prefix: "phone/2024",
  });
  assertEquals(parseS3Location("s3:my-bucket"), {
    endpoint: undefined,
    bucket: "my-bucket",
    prefix: "",
  });
  assertThrows(() => parseS3Location("s3:https://host/"), RangeError, "bucket");
  assertThrows(() => parseS3Location("s3:Bad_Bucket/x"), RangeError, "bucket");

  const ini = parseIni("# c\n[default]\nregion = eu-west-1\n[profile work]\naws_access_key_id=A\n");
  assertEquals(ini.get("default")?.get("region"), "eu-west-1");
  assertEquals(ini.get("profile work")?.get("aws_access_key_id"), "A");

  const files: Record<string, string> = {
    "/creds":
      "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\naws_session_token = T\n",
    "/h/.aws/config": "[default]\nregion = eu-central-1\n",
  };
  const env: Record<string, string> = { HOME: "/h", AWS_SHARED_CREDENTIALS_FILE: "/creds" };
  const resolved = await resolveAwsConfig({
    env: (name) => env[name],
    readTextFile: (path) => Promise.resolve(files[path]),
  });
  assertEquals(resolved, {
    credentials: { accessKeyId: "AK", secretAccessKey: "SK", sessionToken: "T" },
    region: "eu-central-1",
  });
  // The variables win over the default profile; AWS_REGION over the config file.
  Object.assign(env, {
    AWS_ACCESS_KEY_ID: "EK",
    AWS_SECRET_ACCESS_KEY: "ES",
    AWS_REGION: "us-west-2",
  });
  assertEquals(
    await resolveAwsConfig({
      env: (name) => env[name],
      readTextFile: (p) => Promise.resolve(files[p]),
    }),
    {
      credentials: { accessKeyId: "EK", secretAccessKey: "ES", sessionToken: undefined },
      region: "us-west-2",
    },
  );
  await assertRejects(
    () =>
      resolveAwsConfig({ env: () => undefined, readTextFile: () => Promise.resolve(undefined) }),
    Error,
    "AWS_ACCESS_KEY_ID",
  );
});
