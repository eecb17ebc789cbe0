import { useEffect, useRef, useState } from "preact/hooks";
import type { Conversation, ConversationSummary } from "../../../src/wire/conversation.ts";
import { createConversation, deleteConversation, getConversation, listConversations, patchConversation } from "../lib/conversations.ts";
import { when } from "../lib/format.ts";
import { linkClick } from "../lib/router.ts";

/** Saves a JSON file through a temporary link (a download event in the browser). */
function download(name: string, data: unknown) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const fileName = (c: Conversation) => `${(c.title || c.id).replace(/[^\w.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || c.id}.json`;

function Row({ c, onChanged, onError }: { c: ConversationSummary; onChanged(): void; onError(msg: string): void }) {
  const [renaming, setRenaming] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const fail = (err: Error) => onError(err.message);
  const rename = (e: Event) => {
    e.preventDefault();
    const title = renaming?.trim();
    if (!title) return;
    patchConversation(c.id, { title }).then(() => { setRenaming(null); onChanged(); }, fail);
  };
  return (
    <li class="conversation" aria-label={c.title || c.id}>
      {renaming !== null ? (
        <form class="row" onSubmit={rename}>
          <label class="sr-only" for={`title-${c.id}`}>New title</label>
          <input id={`title-${c.id}`} value={renaming} onInput={(e) => setRenaming(e.currentTarget.value)} autofocus />
          <button type="submit" class="primary">Save</button>
          <button type="button" onClick={() => setRenaming(null)}>Cancel</button>
        </form>
      ) : (
        <a class="title" href={`/chat?c=${encodeURIComponent(c.id)}`} onClick={linkClick}>{c.title || "(untitled)"}</a>
      )}
      <p class="meta">
        {c.model && <span>{c.model}</span>}
        <span>{c.message_count} message{c.message_count === 1 ? "" : "s"}</span>
        <span>{when(c.updated_at)}</span>
      </p>
      {c.snippet && <p class="snippet">{c.snippet}</p>}
      <div class="actions">
        <button type="button" onClick={() => setRenaming(c.title)}>Rename</button>
        <button type="button" onClick={() => getConversation(c.id).then((full) => download(fileName(full), full), fail)}>Export</button>
        {confirming ? (
          <>
            <button type="button" class="danger" onClick={() => deleteConversation(c.id).then(onChanged, fail)}>Confirm delete</button>
            <button type="button" onClick={() => setConfirming(false)}>Keep</button>
          </>
        ) : <button type="button" onClick={() => setConfirming(true)}>Delete</button>}
      </div>
    </li>
  );
}

/** Saved conversations: search (titles and text), rename, delete, export and import as JSON. */
export function ConversationsPage() {
  const [q, setQ] = useState("");
  const [items, setItems] = useState<ConversationSummary[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const seq = useRef(0);

  const load = (more = false) => {
    const n = ++seq.current;
    const before = more ? items?.at(-1)?.id : undefined;
    listConversations(q.trim(), before).then((list) => {
      if (n !== seq.current) return; // a newer search answered first
      setItems(more ? [...(items ?? []), ...list.data] : list.data);
      setHasMore(list.has_more);
      setError(null);
    }, (err: Error) => setError(err.message));
  };
  useEffect(() => {
    const t = setTimeout(() => load(), q ? 250 : 0); // search as you type, not on every key
    return () => clearTimeout(t);
  }, [q]);

  const importFile = async (f: File) => {
    try {
      const data = JSON.parse(await f.text()) as Conversation | Conversation[];
      const list = Array.isArray(data) ? data : [data];
      for (const c of list) await createConversation(c);
      setNotice(`Imported ${list.length} conversation${list.length === 1 ? "" : "s"}.`);
      load();
    } catch (err) {
      setError(`Import failed: ${(err as Error).message}`);
    }
    if (file.current) file.current.value = "";
  };

  return (
    <div class="conversations">
      <div class="toolbar">
        <label class="search">
          Search conversations
          <input type="search" value={q} placeholder="Title or text" onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <span class="spacer" />
        <button type="button" onClick={() => file.current?.click()}>Import JSON</button>
        <input ref={file} type="file" accept="application/json,.json" class="sr-only" aria-label="Import conversation file" tabIndex={-1}
          onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) void importFile(f); }} />
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {notice && <p class="notice" role="status">{notice}</p>}
      {items === null ? <p class="empty">Loading…</p> : items.length === 0 ? (
        <p class="empty">{q ? "No conversation matches." : "No conversations yet."}</p>
      ) : (
        <ul class="conversation-list" aria-label="Conversations">
          {items.map((c) => <Row key={c.id} c={c} onChanged={() => load()} onError={setError} />)}
        </ul>
      )}
      {hasMore && <button type="button" onClick={() => load(true)}>Load more</button>}
    </div>
  );
}
