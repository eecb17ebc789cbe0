import { useEffect, useRef, useState } from "preact/hooks";
import { MessageView, type ChatMessage } from "../components/MessageView.tsx";
import { ModelPicker } from "../components/ModelPicker.tsx";
import { ApiError } from "../lib/api.ts";
import { ChatSocket } from "../lib/chatSocket.ts";
import { createConversation, getConversation, patchConversation, plainMessages, type MessageMetadata } from "../lib/conversations.ts";
import { useModels } from "../lib/models.ts";
import { navigate, useLocation } from "../lib/router.ts";
import type { ChatCompletionChunk } from "../../../src/wire/chatCompletionChunk.ts";

interface ChatSettings { model: string; system: string; temperature: number; maxTokens: number }
const DEFAULTS: ChatSettings = { model: "", system: "", temperature: 0.7, maxTokens: 512 };
const sameSettings = (a: ChatSettings | null, b: ChatSettings) =>
  !!a && a.model === b.model && a.system === b.system && a.temperature === b.temperature && a.maxTokens === b.maxTokens;

/** Timing of one streamed answer, measured in the browser. */
class Meter {
  readonly start = performance.now();
  first: number | null = null;
  chunks = 0;
  usage: MessageMetadata["usage"] = null;
  finish: string | null = null;
  model: string | undefined;
  reasoning = "";

  onChunk(c: ChatCompletionChunk): string {
    if (c.usage) this.usage = c.usage;
    if (c.model) this.model = c.model;
    const choice = c.choices[0];
    if (choice?.finish_reason) this.finish = choice.finish_reason;
    const text = choice?.delta.content ?? "";
    const reasoning = choice?.delta.reasoning_content ?? "";
    this.reasoning += reasoning;
    if (text || reasoning) {
      this.first ??= performance.now();
      this.chunks++;
    }
    return text;
  }

  metadata(ended: boolean): MessageMetadata {
    const now = performance.now();
    const tokens = this.usage?.completion_tokens ?? this.chunks;
    const span = this.first === null ? 0 : (now - this.first) / 1000;
    return {
      ...(this.model ? { model: this.model } : {}),
      ttft_ms: this.first === null ? null : Math.round(this.first - this.start),
      tokens_per_second: tokens > 1 && span > 0 ? (tokens - 1) / span : null,
      ...(this.reasoning ? { reasoning: this.reasoning } : {}),
      ...(ended ? { finish_reason: this.finish, usage: this.usage ?? null } : {}),
    };
  }
}

export function ChatPage() {
  const { query } = useLocation();
  const wanted = query.get("c");
  const { models } = useModels();
  const [convId, setConvId] = useState<string | null>(null);
  const [settings, setSettings] = useState<ChatSettings>(DEFAULTS);
  const [saved, setSaved] = useState<ChatSettings | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [input, setInput] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [local, setLocal] = useState(false);
  const socket = useRef<ChatSocket | null>(null);
  const list = useRef<HTMLDivElement>(null);
  const stopped = useRef(false);

  useEffect(() => () => socket.current?.close(), []);
  // A model by default: the first loaded one.
  useEffect(() => {
    if (!settings.model && models.length) {
      const model = (models.find((m) => m.state === "loaded") ?? models[0])!.id;
      setSettings((s) => ({ ...s, model }));
    }
  }, [models, settings.model]);
  // Open the conversation named in the URL (?c=conv_...).
  useEffect(() => {
    if (!wanted || wanted === convId) {
      if (!wanted && convId) reset();
      return;
    }
    getConversation(wanted).then((c) => {
      const s: ChatSettings = {
        model: c.model ?? settings.model, system: c.system_prompt ?? "",
        temperature: c.settings?.temperature ?? DEFAULTS.temperature, maxTokens: c.settings?.max_tokens ?? DEFAULTS.maxTokens,
      };
      setConvId(c.id);
      setSettings(s);
      setSaved(s);
      setMessages(c.messages.filter((m) => m.role !== "system"));
      setError(null);
    }, (err: Error) => setError(`Could not open the conversation: ${err.message}`));
  }, [wanted]);
  useEffect(() => { list.current?.scrollTo({ top: list.current.scrollHeight }); }, [messages]);

  function reset() {
    setConvId(null);
    setSaved(null);
    setMessages([]);
    setError(null);
  }

  /** Makes sure the conversation exists on the server with these settings and, when `truncate`, these messages. */
  async function persist(history: ChatMessage[], text: string, truncate: boolean): Promise<string | null> {
    if (local) return null;
    const body = {
      model: settings.model, system_prompt: settings.system,
      settings: { temperature: settings.temperature, max_tokens: settings.maxTokens },
    };
    try {
      if (!convId) {
        const c = await createConversation({ title: text.replace(/\s+/g, " ").trim().slice(0, 60), ...body, messages: plainMessages(history) });
        setConvId(c.id);
        setSaved(settings);
        navigate(`/chat?c=${encodeURIComponent(c.id)}`, true);
        return c.id;
      }
      if (truncate || !sameSettings(saved, settings)) {
        await patchConversation(convId, { ...body, ...(truncate ? { messages: plainMessages(history) } : {}) });
        setSaved(settings);
      }
      return convId;
    } catch (err) {
      // Without the conversations API (an older server), chat still works: the whole history goes with each request.
      if (err instanceof ApiError && err.status === 404 && !convId) {
        setLocal(true);
        return null;
      }
      throw err;
    }
  }

  /** Sends `text` after `history` (the conversation cut there), streaming the answer into a new message. */
  async function send(history: ChatMessage[], text: string, truncate: boolean) {
    if (busy || !settings.model) return;
    setBusy(true);
    setError(null);
    stopped.current = false;
    const user: ChatMessage = { role: "user", content: text };
    setMessages([...history, user, { role: "assistant", content: "", streaming: true }]);
    const updateLast = (f: (m: ChatMessage) => ChatMessage) => setMessages((ms) => ms.map((m, i) => (i === ms.length - 1 ? f(m) : m)));
    let id: string | null;
    try {
      id = await persist(history, text, truncate);
    } catch (err) {
      updateLast((m) => ({ ...m, streaming: false, error: (err as Error).message }));
      setBusy(false);
      return;
    }
    const all = [...(settings.system ? [{ role: "system" as const, content: settings.system }] : []), ...history, user];
    const body = {
      model: settings.model, temperature: settings.temperature, max_tokens: settings.maxTokens,
      stream_options: { include_usage: true },
      ...(id ? { conversation: id, messages: plainMessages([user]) } : { messages: plainMessages(all) }),
    };
    const meter = new Meter();
    let text_ = "";
    let frame = 0;
    const flush = () => {
      frame = 0;
      updateLast((m) => ({ ...m, content: text_, metadata: meter.metadata(false), tokens: meter.chunks }));
    };
    socket.current ??= new ChatSocket();
    try {
      await socket.current.send(body, {
        chunk(c) {
          text_ += meter.onChunk(c);
          frame ||= requestAnimationFrame(flush);
        },
        done(err) {
          cancelAnimationFrame(frame);
          const metadata = meter.metadata(true);
          if (stopped.current && (!metadata.finish_reason || metadata.finish_reason === "length")) metadata.finish_reason = "cancelled";
          updateLast((m) => ({ ...m, content: text_, streaming: false, metadata, tokens: meter.chunks, ...(err ? { error: err } : {}) }));
          setBusy(false);
        },
      });
    } catch (err) {
      updateLast((m) => ({ ...m, streaming: false, error: (err as Error).message }));
      setBusy(false);
    }
  }

  const submit = (e: Event) => {
    e.preventDefault();
    const text = input.trim();
    if (!text) return;
    setInput("");
    void send(messages, text, false);
  };
  const edit = (index: number, text: string) => void send(messages.slice(0, index), text, true);
  const regenerate = (index: number) => {
    const user = messages[index - 1];
    if (user?.role === "user") void send(messages.slice(0, index - 1), user.content, true);
  };
  const stop = () => {
    stopped.current = true;
    socket.current?.cancel();
  };
  const set = <K extends keyof ChatSettings>(k: K, v: ChatSettings[K]) => setSettings((s) => ({ ...s, [k]: v }));

  return (
    <div class="chat">
      <aside class="chat-settings" aria-label="Chat settings">
        <button type="button" class="primary" onClick={() => { reset(); navigate("/chat"); }} disabled={busy}>New chat</button>
        <ModelPicker value={settings.model} onChange={(id) => set("model", id)} />
        <label>
          System prompt
          <textarea rows={4} value={settings.system} onInput={(e) => set("system", e.currentTarget.value)} placeholder="You are a helpful assistant." />
        </label>
        <label>
          Temperature
          <input type="number" min={0} max={2} step={0.1} value={settings.temperature}
            onInput={(e) => set("temperature", Number(e.currentTarget.value) || 0)} />
        </label>
        <label>
          Max tokens
          <input type="number" min={1} max={100000} step={1} value={settings.maxTokens}
            onInput={(e) => set("maxTokens", Math.max(1, Math.floor(Number(e.currentTarget.value) || 1)))} />
        </label>
        {local && <p class="hint">Conversations are not saved: this server has no conversations API.</p>}
      </aside>
      <section class="chat-main" aria-label="Conversation">
        <div class="messages" ref={list} role="log" aria-live="polite">
          {messages.length === 0 && <p class="empty">Send a message to start a conversation.</p>}
          {messages.map((m, i) => <MessageView key={`${i}-${m.role}`} m={m} index={i} busy={busy} onEdit={edit} onRegenerate={regenerate} />)}
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        <form class="composer" onSubmit={submit}>
          <label class="sr-only" for="chat-input">Message</label>
          <textarea id="chat-input" rows={3} value={input} placeholder="Message (Enter to send, Shift+Enter for a new line)"
            onInput={(e) => setInput(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e); }} />
          {busy
            ? <button type="button" class="danger" onClick={stop}>Stop</button>
            : <button type="submit" class="primary" disabled={!input.trim() || !settings.model}>Send</button>}
        </form>
      </section>
    </div>
  );
}
