/**
 * AWS credentials and region, much as the AWS CLI finds them: the profile
 * AWS_PROFILE names when it is set (an explicit choice wins), else the
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN variables, else
 * the `default` profile; profiles live in the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials) and the config file
 * (AWS_CONFIG_FILE, ~/.aws/config). AWS_REGION wins over a profile's region.
 *
 * @module
 */

import { join } from "node:path";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Where the environment and files come from (tests pass their own). */
export interface AwsEnvironment {
  env(name: string): string | undefined;
  /** A file's text, or undefined when it does not exist. */
  readTextFile(path: string): Promise<string | undefined>;
}

/** No credentials anywhere. */
export class MissingCredentialsError extends Error {
  constructor(detail: string) {
    super(
      `Cannot sign S3 requests: ${detail}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
        `or AWS_PROFILE with a profile in ~/.aws/credentials`,
    );
    this.name = "MissingCredentialsError";
  }
}

/** The process's own environment and files. */
export function processAwsEnvironment(): AwsEnvironment {
  return {
    env: (name) => Deno.env.get(name),
    readTextFile: async (path) => {
      try {
        return await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
    },
  };
}

/** INI sections to their keys (lower-cased), as the AWS files write them. */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq > 0 && current) {
      current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
    }
  }
  return sections;
}

function home(environment: AwsEnvironment): string {
  return environment.env("HOME") ?? environment.env("USERPROFILE") ?? ".";
}

/** The profile's keys from both files; the credentials file wins. */
async function profileSettings(
  environment: AwsEnvironment,
  profile: string,
): Promise<Map<string, string> | undefined> {
  const credentialsPath = environment.env("AWS_SHARED_CREDENTIALS_FILE") ??
    join(home(environment), ".aws", "credentials");
  const configPath = environment.env("AWS_CONFIG_FILE") ??
    join(home(environment), ".aws", "config");
  const credentials = parseIni((await environment.readTextFile(credentialsPath)) ?? "");
  const config = parseIni((await environment.readTextFile(configPath)) ?? "");
  // The config file names sections "profile NAME", except "default".
  const fromConfig = config.get(`profile ${profile}`) ??
    (profile === "default" ? config.get("default") : undefined);
  const fromCredentials = credentials.get(profile);
  if (!fromConfig && !fromCredentials) return undefined;
  return new Map([...(fromConfig ?? []), ...(fromCredentials ?? [])]);
}

/** The credentials and the region (undefined when none is set). */
export async function resolveAwsConfig(
  environment: AwsEnvironment,
): Promise<{ credentials: AwsCredentials; region?: string }> {
  const envRegion = environment.env("AWS_REGION") ?? environment.env("AWS_DEFAULT_REGION");
  const accessKeyId = environment.env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = environment.env("AWS_SECRET_ACCESS_KEY");
  const named = environment.env("AWS_PROFILE");
  if (accessKeyId && secretAccessKey && !named) {
    const sessionToken = environment.env("AWS_SESSION_TOKEN") || undefined;
    let region = envRegion;
    if (!region) region = (await profileSettings(environment, "default"))?.get("region");
    return { credentials: { accessKeyId, secretAccessKey, sessionToken }, region };
  }
  const profile = named ?? "default";
  const settings = await profileSettings(environment, profile);
  if (!settings) {
    throw new MissingCredentialsError(
      named ? `there is no profile "${profile}" in the AWS files` : "no credentials are set",
    );
  }
  const id = settings.get("aws_access_key_id");
  const secret = settings.get("aws_secret_access_key");
  if (!id || !secret) {
    throw new MissingCredentialsError(
      `profile "${profile}" lacks aws_access_key_id or aws_secret_access_key`,
    );
  }
  return {
    credentials: {
      accessKeyId: id,
      secretAccessKey: secret,
      sessionToken: settings.get("aws_session_token") || undefined,
    },
    region: envRegion ?? settings.get("region"),
  };
}
