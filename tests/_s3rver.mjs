// Starts s3rver (an S3-compatible test server, npm) on a loopback port with
// one bucket, prints {"port": N} on stdout, and runs until killed. Run with
// Node: s3rver is a Node program. Usage: node tests/_s3rver.mjs DIR BUCKET
import S3rver from "s3rver";

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  directory,
  silent: process.env.S3RVER_VERBOSE !== "1",
  configureBuckets: [{ name: bucket }],
});
const address = await server.run();
process.stdout.write(JSON.stringify({ port: address.port }) + "\n");
