import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { errors } from "../../errors.ts";
import { connectError } from "./httpBody.ts";
import { pullAgents } from "./guardedAgents.ts";
import { SHA256_HEX, type ModelSource, type SourceFacts } from "./source.ts";

/**
 * `s3://bucket/key` on AWS or any S3-compatible store. Configuration comes from the usual
 * variables: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (then path-style addressing, as MinIO and
 * most self-hosted stores need), AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; without keys the SDK's own chain (profiles, roles)
 * applies. The expected sha256 is the object's full-object SHA256 checksum when it was uploaded
 * with one, else an `x-amz-meta-sha256` user metadata value. Keys are taken verbatim: no fragment,
 * no percent-decoding, since both `#` and `%` are legal in a key.
 */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function s3Source(uri: string, env: NodeJS.ProcessEnv, allowPrivate: boolean): ModelSource {
  const rest = uri.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? "" : rest.slice(slash + 1);
  if (!BUCKET.test(bucket) || key === "" || key.includes("\0")) throw errors.invalidModelSource("an S3 source looks like 's3://bucket/key.gguf'.");
  const label = `s3://${bucket}/${key}`;
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  // The SDK is loaded on the first S3 pull, not at start: a server that never pulls from S3 does not carry it.
  let client: S3Client | null = null;
  const connect = async () => {
    const sdk = await loadSdk();
    const agents = pullAgents(allowPrivate);
    client ??= new sdk.S3Client({
      requestHandler: { httpAgent: agents.http, httpsAgent: agents.https },
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } }
        : {}),
    });
    return { sdk, client };
  };
  let facts: SourceFacts | null = null;
  let etag: string | undefined;

  const fail = async (err: unknown, signal: AbortSignal | undefined): Promise<never> => {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof (await loadSdk()).S3ServiceException) {
      const status = err.$metadata.httpStatusCode;
      if (status === 404 || err.name === "NoSuchKey" || err.name === "NoSuchBucket" || err.name === "NotFound") throw errors.modelSourceNotFound(label);
      if (status === 412) throw errors.pullFailed(label, "the object changed during the pull; pull again.");
      if (status === 401 || status === 403) throw errors.pullFailed(label, `the store refused access (${err.name}).`);
      throw errors.pullFailed(label, `the store answered ${err.name}${status ? ` (HTTP ${status})` : ""}.`);
    }
    throw connectError(err, label);
  };

  return {
    label,
    identity: `${endpoint ?? "aws"} ${label}`,
    nameSegment: key.split("/").at(-1) || null,
    nameSegmentEncoded: false,
    sha256: null,
    async probe(signal) {
      try {
        const { sdk, client } = await connect();
        const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }), { abortSignal: signal });
        etag = head.ETag;
        facts = { sha256: declaredSha256(head.ChecksumSHA256, head.ChecksumType, head.Metadata), totalBytes: head.ContentLength ?? null, version: head.ETag ?? null };
        return facts;
      } catch (err) {
        return fail(err, signal);
      }
    },
    async open(offset, _resumeVersion, signal) {
      if (facts?.totalBytes === offset && offset > 0) {
        return { start: offset, totalBytes: offset, version: etag ?? null, body: (async function* () {})(), cancel: async () => {} };
      }
      try {
        // IfMatch: the object read is the one the HEAD described (and a resume was checked against).
        const { sdk, client } = await connect();
        const out = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag, Range: offset > 0 ? `bytes=${offset}-` : undefined }), { abortSignal: signal });
        const body = out.Body as Readable | undefined;
        const first = /^bytes (\d+)-/.exec(out.ContentRange ?? "")?.[1];
        const start = offset > 0 && first !== undefined && Number(first) === offset ? offset : 0;
        if (offset > 0 && start === 0 && out.ContentRange) {
          body?.destroy();
          return this.open(0, null, signal);
        }
        return {
          start,
          totalBytes: facts?.totalBytes ?? null,
          version: out.ETag ?? null,
          body: body ?? (async function* () {})(),
          cancel: async () => { body?.destroy(); },
        };
      } catch (err) {
        return fail(err, signal);
      }
    },
    close: () => client?.destroy(),
  };
}

let sdkModule: Promise<typeof import("@aws-sdk/client-s3")> | null = null;
const loadSdk = () => (sdkModule ??= import("@aws-sdk/client-s3"));

function declaredSha256(checksum: string | undefined, type: string | undefined, metadata: Record<string, string> | undefined): string | null {
  // A multipart upload's COMPOSITE checksum is a checksum of part checksums, not of the file.
  if (checksum && type !== "COMPOSITE" && !checksum.includes("-")) {
    const hex = Buffer.from(checksum, "base64").toString("hex");
    if (SHA256_HEX.test(hex)) return hex;
  }
  const meta = metadata?.sha256?.toLowerCase();
  return meta && SHA256_HEX.test(meta) ? meta : null;
}
