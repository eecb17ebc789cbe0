import { useState } from "preact/hooks";
import { apiFetch, sseEvents } from "../lib/api.ts";
import { bytes } from "../lib/format.ts";
import { isLoadable, modelAction, refreshModels, useModels } from "../lib/models.ts";
import type { Model } from "../../../src/wire/model.ts";
import type { PullEvent, PullResult } from "../../../src/wire/pullEvent.ts";

function ModelRow({ m, onError }: { m: Model; onError(msg: string): void }) {
  const [pending, setPending] = useState(false);
  const act = (action: "load" | "unload") => {
    setPending(true);
    modelAction(m.id, action).catch((err: Error) => onError(`${action} ${m.id}: ${err.message}`)).finally(() => setPending(false));
  };
  const busy = pending || m.state === "loading" || m.state === "unloading";
  return (
    <tr aria-label={m.id}>
      <th scope="row">{m.id}{m.pinned && <span class="badge">pinned</span>}{m.aliases.length > 0 && <small> ({m.aliases.join(", ")})</small>}</th>
      <td><span class={`state state-${m.state}`}>{m.state}</span>{m.error && <small class="error"> {m.error}</small>}</td>
      <td>{bytes(m.size_bytes)}</td>
      <td>{bytes(m.memory_estimate_bytes)}</td>
      <td>{bytes(m.memory_bytes)}</td>
      <td>{m.context_length || "–"}</td>
      <td class="actions">
        {isLoadable(m)
          ? <button type="button" disabled={busy} onClick={() => act("load")} aria-label={`Load ${m.id}`}>Load</button>
          : <button type="button" disabled={busy || m.pinned} onClick={() => act("unload")} aria-label={`Unload ${m.id}`}>Unload</button>}
      </td>
    </tr>
  );
}

/** POST /v1/models/pull with a progress bar fed by its SSE progress events. */
function PullForm() {
  const [source, setSource] = useState("");
  const [name, setName] = useState("");
  const [progress, setProgress] = useState<PullEvent | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setRunning(true);
    setError(null);
    setResult(null);
    setProgress(null);
    try {
      const res = await apiFetch("/v1/models/pull", { method: "POST", admin: true, json: { source: source.trim(), ...(name.trim() ? { name: name.trim() } : {}) } });
      for await (const ev of sseEvents(res)) {
        if (ev.event === "progress") setProgress(JSON.parse(ev.data) as PullEvent);
        else if (ev.event === "done") setResult(`Pulled ${(JSON.parse(ev.data) as PullResult).id}.`);
        else if (ev.event === "error") setError((JSON.parse(ev.data) as { error?: { message?: string } }).error?.message ?? "The pull failed.");
      }
      void refreshModels();
    } catch (err) {
      setError((err as Error).message);
    }
    setRunning(false);
  };
  const total = progress?.total_bytes ?? null;
  return (
    <form class="pull" onSubmit={submit} aria-label="Pull a model">
      <h2>Pull a model</h2>
      <div class="row">
        <label class="grow">
          Source
          <input value={source} onInput={(e) => setSource(e.currentTarget.value)} required placeholder="hf:owner/repo/file.gguf, https://… or s3://bucket/key" />
        </label>
        <label>
          Name (optional)
          <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="my-model" />
        </label>
        <button type="submit" class="primary" disabled={running || !source.trim()}>Pull</button>
      </div>
      {progress && (
        <div class="pull-progress">
          <progress aria-label="Pull progress" max={total ?? undefined} value={total ? progress.received_bytes : undefined} />
          <span>
            {progress.phase}: {bytes(progress.received_bytes)}{total ? ` of ${bytes(total)}` : ""}
            {progress.bytes_per_second > 0 && ` · ${bytes(progress.bytes_per_second)}/s`}
            {progress.eta_seconds !== null && ` · ${Math.ceil(progress.eta_seconds)} s left`}
          </span>
        </div>
      )}
      {result && <p class="notice" role="status">{result}</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

/** Every model with its state and memory; load, unload, pull. */
export function ModelsPage() {
  const { models, error, loaded } = useModels();
  const [actionError, setActionError] = useState<string | null>(null);
  return (
    <div class="models">
      <h1>Models</h1>
      {(actionError || error) && <p class="error" role="alert">{actionError ?? error}</p>}
      {!loaded ? <p class="empty">Loading…</p> : (
        <table class="table" aria-label="Models">
          <thead>
            <tr><th scope="col">Model</th><th scope="col">State</th><th scope="col">File</th><th scope="col">Estimate</th><th scope="col">Memory</th><th scope="col">Context</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {models.map((m) => <ModelRow key={m.id} m={m} onError={setActionError} />)}
          </tbody>
        </table>
      )}
      <PullForm />
    </div>
  );
}
