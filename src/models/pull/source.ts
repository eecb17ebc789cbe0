/**
 * What every kind of source (HTTP, Hugging Face, S3, local file) offers the pull: facts known
 * before the transfer, and a byte stream from an offset. Keeping resume, hashing, size checks and
 * the final rename out of the sources means each is checked once, in `pullModel.ts`.
 */

export interface SourceFacts {
  /** Lowercase hex, when the source declares the content's sha256. */
  sha256: string | null;
  totalBytes: number | null;
  /** Changes when the content changes (an S3 ETag, the hub's sha256, a local file's mtime). */
  version: string | null;
}

export interface OpenedBody {
  /** Offset of the body's first byte: the offset asked for, or 0 when the source ignored the range. */
  start: number;
  totalBytes: number | null;
  /** A validator from the transfer itself (an HTTP strong ETag or Last-Modified), for If-Range on resume. */
  version: string | null;
  body: AsyncIterable<Uint8Array>;
  /** Stops the transfer when the pull ends before reading the body. */
  cancel(): Promise<void>;
}

export interface ModelSource {
  /** Safe to show a client: no credentials, query or fragment. */
  label: string;
  /** A partial file is resumed only for the same identity. */
  identity: string;
  /** The last segment of the source, checked and decoded by `modelName.ts` before use. */
  nameSegment: string | null;
  nameSegmentEncoded: boolean;
  /** A sha256 given with the source itself (`#sha256=...`). */
  sha256: string | null;
  probe(signal: AbortSignal | undefined): Promise<SourceFacts>;
  /** `resumeVersion`: what the partial was downloaded against, for sources that can send it (If-Range). */
  open(offset: number, resumeVersion: string | null, signal: AbortSignal | undefined): Promise<OpenedBody>;
  /** Frees connections the source keeps (the S3 client's sockets would keep a CLI alive). */
  close?(): void;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** `#sha256=<hex>` on a URL: the digest the caller expects. */
export function sha256FromFragment(fragment: string): string | null {
  const m = /^#?sha256[=:]([0-9a-fA-F]{64})$/.exec(fragment);
  return m ? m[1]!.toLowerCase() : null;
}
