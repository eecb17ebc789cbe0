import { askForKey, keyFor } from "./keys.ts";

/** An OpenAI-shaped error answer from Hearth. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  constructor(status: number, message: string, code: string | null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface ApiInit extends Omit<RequestInit, "body"> {
  /** A JSON body (sent with a JSON content type), or a raw one. */
  json?: unknown;
  body?: BodyInit;
  /** An admin route: send the admin key when there is one. */
  admin?: boolean;
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let code: string | null = null;
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code ?? null;
  } catch { /* not JSON */ }
  return new ApiError(res.status, message, code);
}

/**
 * fetch() with the key from sessionStorage. On 401 it asks for an API key and tries again; on 403
 * `admin_required` it asks for the admin key. Other failures throw an ApiError.
 */
export async function apiFetch(path: string, init: ApiInit = {}): Promise<Response> {
  const { json, admin = false, ...rest } = init;
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(rest.headers);
    const key = keyFor(admin);
    if (key) headers.set("authorization", `Bearer ${key}`);
    if (json !== undefined) headers.set("content-type", "application/json");
    const res = await fetch(path, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    if (res.ok) return res;
    const err = await errorOf(res);
    if (attempt < 3 && res.status === 401) {
      const reason = err.code === "invalid_api_key" ? "That key was refused. Enter a valid API key." : "This server needs an API key.";
      if (await askForKey("api", reason)) continue;
    } else if (attempt < 3 && res.status === 403 && err.code === "admin_required") {
      if (await askForKey("admin", "This action needs the admin key.")) continue;
    }
    throw err;
  }
}

export async function apiJson<T>(path: string, init: ApiInit = {}): Promise<T> {
  const res = await apiFetch(path, init);
  return (await res.json()) as T;
}

export interface SseEvent { event: string; data: string }

/** The events of a text/event-stream body, as they arrive. */
export async function* sseEvents(res: Response, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => { void reader.cancel().catch(() => {}); };
  signal?.addEventListener("abort", onAbort, { once: true });
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
        if (data.length) yield { event, data: data.join("\n") };
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
