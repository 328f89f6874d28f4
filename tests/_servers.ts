/**
 * Real servers on loopback for the cloud-storage tests: s3rver (npm, run
 * with Node in a subprocess) in a temporary folder.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** A running S3-compatible server with one bucket, and how to stop it. */
export interface S3Server {
  endpoint: string;
  bucket: string;
  /** s3rver's fixed credentials. */
  env: Record<string, string>;
  /** The folder s3rver keeps its objects in. */
  directory: string;
  stop(): Promise<void>;
}

/** Starts s3rver on a free loopback port. */
export async function startS3Server(bucket = "cofre"): Promise<S3Server> {
  const directory = await Deno.makeTempDir({ prefix: "cofre-s3rver-" });
  const script = fileURLToPath(new URL("./_s3rver.mjs", import.meta.url));
  const child = new Deno.Command("node", {
    // s3rver 3.7 makes continuation tokens with a cipher OpenSSL 3 keeps in its legacy provider.
    args: ["--openssl-legacy-provider", script, directory, bucket],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Cannot start s3rver: it exited before listening");
    text += value;
  }
  reader.releaseLock();
  const { port } = JSON.parse(text.split("\n")[0]!) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    env: { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" },
    directory,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await Deno.remove(directory, { recursive: true });
    },
  };
}

/** Whether the rclone binary runs; says why not when it does not (the tests then skip). */
export async function rcloneAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("rclone", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (success) return true;
  } catch {
    // Not installed.
  }
  console.warn("rclone is not installed: skipping the rclone tests (apt-get install rclone)");
  return false;
}
