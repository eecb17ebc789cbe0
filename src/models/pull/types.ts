export interface PullProgress {
  /** The source without credentials, query or fragment. */
  source: string;
  /** The model id the file will be served under (its name without `.gguf`). */
  id: string;
  /** Bytes in the temp file, a resumed prefix included. */
  receivedBytes: number;
  totalBytes: number | null;
  /** Over the last few seconds of this transfer. */
  bytesPerSecond: number;
  etaSeconds: number | null;
  phase: "connecting" | "downloading" | "verifying" | "done";
}

export interface PullResult {
  id: string;
  /** Absolute path of the model file in the models folder. */
  path: string;
  sizeBytes: number;
  sha256: string;
  /** Bytes kept from an earlier, interrupted pull (0 when it started afresh). */
  resumedFromBytes: number;
  /** The same content was already in the folder under this name; nothing was written. */
  alreadyPresent: boolean;
  /** What the file was checked against besides its GGUF header: a sha256 the source declared, its declared size, or nothing. */
  verified: "sha256" | "size" | "none";
}

export interface PullOptions {
  /** Where models live; created when missing. */
  modelsDir: string;
  /** File name in the folder (`.gguf` added when missing); default: the source's last path segment. */
  name?: string;
  /** Aborting rejects with the signal's reason and keeps the partial file for a later resume. */
  signal?: AbortSignal;
  onProgress?: (p: PullProgress) => void;
  /** AWS_*, HF_ENDPOINT, HF_TOKEN are read from here; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Wins over HF_ENDPOINT; default https://huggingface.co. */
  hfEndpoint?: string;
  /**
   * Whether local paths and file: URLs are accepted (default true). A route serving remote
   * clients should pass false, or they could copy any GGUF file the server can read.
   */
  allowLocal?: boolean;
  /**
   * Whether hosts that are or resolve to loopback, private, link-local and other non-public
   * addresses may be pulled from (default false), for every redirect too: otherwise a client could
   * make the server fetch from its own network. True for a local mirror, MinIO or HF_ENDPOINT.
   */
  allowPrivateAddresses?: boolean;
  /** Relative local paths are resolved against it; default process.cwd(). */
  cwd?: string;
}
