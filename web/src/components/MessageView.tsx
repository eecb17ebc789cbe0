import { useMemo, useState } from "preact/hooks";
import type { Message } from "../lib/conversations.ts";
import { ms, rate } from "../lib/format.ts";
import { copyText, renderMarkdown } from "../lib/markdown.ts";

export interface ChatMessage extends Message {
  streaming?: boolean;
  error?: string;
  /** Text chunks received (about one per token): the count when no usage came (a stopped answer). */
  tokens?: number;
}

/** The figures under an answer: tokens/s and time to first token, live while it streams. */
function Stats({ m }: { m: ChatMessage }) {
  const meta = m.metadata;
  if (!meta && !m.streaming) return null;
  const tokens = meta?.usage?.completion_tokens ?? m.tokens;
  const reason = meta?.finish_reason;
  return (
    <p class="stats" aria-label="Generation stats">
      <span class="tps">{rate(meta?.tokens_per_second, "tok/s")}</span>
      <span>TTFT {ms(meta?.ttft_ms)}</span>
      {tokens !== undefined && <span>{tokens} tokens</span>}
      {m.streaming ? <span>streaming…</span> : reason && <span class={`reason reason-${reason}`}>{reason === "cancelled" ? "stopped" : reason}</span>}
    </p>
  );
}

function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  const onClick = (e: MouseEvent) => {
    const button = (e.target as HTMLElement).closest("button.copy");
    if (!button) return;
    const code = button.parentElement?.querySelector("code")?.textContent ?? "";
    void copyText(code).then(() => {
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  };
  return <div class="markdown" onClick={onClick} dangerouslySetInnerHTML={{ __html: html }} />;
}

interface Props {
  m: ChatMessage;
  index: number;
  busy: boolean;
  onEdit(index: number, text: string): void;
  onRegenerate(index: number): void;
}

export function MessageView({ m, index, busy, onEdit, onRegenerate }: Props) {
  const [editing, setEditing] = useState<string | null>(null);
  const who = m.role === "user" ? "You" : m.role === "assistant" ? "Assistant" : "System";
  return (
    <article class={`message message-${m.role}${m.streaming ? " streaming" : ""}`} aria-label={`${who} message ${index + 1}`}>
      <header class="message-head">
        <span class="who">{who}</span>
        {m.role === "user" && editing === null && (
          <button type="button" class="link" disabled={busy} onClick={() => setEditing(m.content)}>Edit</button>
        )}
        {m.role === "assistant" && !m.streaming && (
          <button type="button" class="link" disabled={busy} onClick={() => onRegenerate(index)}>Regenerate</button>
        )}
      </header>
      {editing !== null ? (
        <form class="edit" onSubmit={(e) => { e.preventDefault(); if (editing.trim()) { onEdit(index, editing); setEditing(null); } }}>
          <label class="sr-only" for={`edit-${index}`}>Edit message</label>
          <textarea id={`edit-${index}`} value={editing} rows={3} onInput={(e) => setEditing(e.currentTarget.value)} />
          <div class="row end">
            <button type="button" onClick={() => setEditing(null)}>Cancel</button>
            <button type="submit" class="primary" disabled={busy}>Save and send</button>
          </div>
        </form>
      ) : m.role === "assistant" ? (
        <>
          {m.metadata?.reasoning && (
            <details class="reasoning">
              <summary>{m.streaming && !m.content ? "Thinking…" : "Reasoning"}</summary>
              <div class="plain">{m.metadata.reasoning}</div>
            </details>
          )}
          <Markdown text={m.content} />
        </>
      ) : (
        <div class="plain">{m.content}</div>
      )}
      {m.error && <p class="error" role="alert">{m.error}</p>}
      {m.role === "assistant" && <Stats m={m} />}
    </article>
  );
}
