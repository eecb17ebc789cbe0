import type { ChatCompletionChunk } from "../../../src/wire/chatCompletionChunk.ts";
import { apiFetch } from "./api.ts";
import { keyFor } from "./keys.ts";


export interface StreamHandlers {
  chunk(c: ChatCompletionChunk): void;
  /** The stream ended ([DONE]), normally, after a cancel, or with an error. */
  done(error: string | null): void;
}

/**
 * Chat completions over the WebSocket at /v1/chat/completions/ws: one request at a time, each a JSON
 * message, answered with one JSON message per chunk and then `[DONE]`; `{"type":"cancel"}` stops
 * it. The key goes in the subprotocol `hearth.bearer.<key>` (browsers cannot set headers on a
 * WebSocket).
 */
export class ChatSocket {
  #ws: WebSocket | null = null;
  #opening: Promise<WebSocket> | null = null;
  #key: string | null = null;
  #current: StreamHandlers | null = null;

  #open(): Promise<WebSocket> {
    const key = keyFor(false);
    if (this.#ws && this.#ws.readyState === WebSocket.OPEN && key === this.#key) return Promise.resolve(this.#ws);
    if (this.#opening) return this.#opening;
    this.#ws?.close();
    this.#key = key;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/chat/completions/ws`;
    const opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = key ? new WebSocket(url, [`hearth.bearer.${key}`]) : new WebSocket(url);
      ws.onopen = () => { this.#ws = ws; this.#opening = null; resolve(ws); };
      ws.onerror = () => {};
      ws.onclose = () => {
        if (this.#opening === opening) { this.#opening = null; reject(new Error("could not connect")); }
        if (this.#ws === ws) this.#ws = null;
        const current = this.#current;
        this.#current = null;
        current?.done("The connection closed.");
      };
      ws.onmessage = (e) => this.#message(String(e.data));
    });
    this.#opening = opening;
    return opening;
  }

  #message(text: string): void {
    const current = this.#current;
    if (!current) return;
    if (text === "[DONE]") {
      this.#current = null;
      current.done(null);
      return;
    }
    let msg: ChatCompletionChunk & { error?: { message: string } };
    try { msg = JSON.parse(text) as typeof msg; } catch { return; }
    if (msg.error) {
      // An error ends the request; the server may or may not follow it with [DONE].
      this.#current = null;
      current.done(msg.error.message);
      return;
    }
    current.chunk(msg);
  }

  /** Sends a request; resolves once it is on its way. A refused connection is checked over HTTP (to ask for a key) and tried again once. */
  async send(body: object, handlers: StreamHandlers): Promise<void> {
    let ws: WebSocket;
    try {
      ws = await this.#open();
    } catch {
      // A WebSocket refused at the upgrade says nothing about why: ask over HTTP (which prompts for a key on 401).
      await apiFetch("/v1/models");
      ws = await this.#open();
    }
    this.#current = handlers;
    ws.send(JSON.stringify(body));
  }

  cancel(): void {
    if (this.#current && this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ type: "cancel" }));
  }

  close(): void {
    this.#ws?.close();
    this.#ws = null;
  }
}
