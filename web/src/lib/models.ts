import { useEffect, useState } from "preact/hooks";
import type { Model, ModelList } from "../../../src/wire/model.ts";
import type { ModelEvent } from "../../../src/wire/modelEvent.ts";
import type { PullEvent } from "../../../src/wire/pullEvent.ts";
import { apiFetch, apiJson, sseEvents } from "./api.ts";

interface State { models: Model[]; error: string | null; loaded: boolean }

let state: State = { models: [], error: null, loaded: false };
const listeners = new Set<() => void>();
let users = 0;
let controller: AbortController | null = null;
let retry: ReturnType<typeof setTimeout> | undefined;

const set = (next: Partial<State>) => {
  state = { ...state, ...next };
  for (const l of listeners) l();
};

/** Reads the list again (after a change whose event does not carry the whole model). */
export async function refreshModels(): Promise<void> {
  try {
    const list = await apiJson<ModelList>("/v1/models");
    set({ models: list.data, error: null, loaded: true });
  } catch (err) {
    set({ error: (err as Error).message, loaded: true });
  }
}

/** Follows GET /v1/models/events while some component uses the list; reconnects when it drops. */
async function follow(signal: AbortSignal): Promise<void> {
  try {
    const res = await apiFetch("/v1/models/events", { signal, headers: { accept: "text/event-stream" } });
    for await (const e of sseEvents(res, signal)) {
      const data = JSON.parse(e.data) as ModelList | ModelEvent;
      if ("data" in data) set({ models: data.data, error: null, loaded: true });
      else if (data.type === "state") {
        set({ models: state.models.map((m) => (m.id === data.model ? { ...m, state: data.state, ...(data.error ? { error: data.error } : {}) } : m)) });
        void refreshModels(); // memory figures change with the state
      } else if (data.type === "added" || data.type === "removed") void refreshModels();
      else if (data.type === "pull") for (const l of pullListeners) l(data);
    }
  } catch (err) {
    if (signal.aborted) return;
    set({ error: (err as Error).message });
  }
  if (!signal.aborted) retry = setTimeout(() => { if (!signal.aborted) void follow(signal); }, 2000);
}

const pullListeners = new Set<(e: PullEvent) => void>();
export function onPullEvent(listener: (e: PullEvent) => void): () => void {
  pullListeners.add(listener);
  return () => pullListeners.delete(listener);
}

/** Every model and its live state. */
export function useModels(): State {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((n) => n + 1);
    listeners.add(update);
    if (users++ === 0) {
      controller = new AbortController();
      void follow(controller.signal);
    }
    return () => {
      listeners.delete(update);
      if (--users === 0) {
        controller?.abort();
        clearTimeout(retry);
      }
    };
  }, []);
  return state;
}

/** POST /v1/models/{id}/load or /unload (admin routes: may ask for the admin key). */
export async function modelAction(id: string, action: "load" | "unload"): Promise<Model> {
  const model = await apiJson<Model>(`/v1/models/${encodeURIComponent(id)}/${action}`, { method: "POST", admin: true });
  set({ models: state.models.map((m) => (m.id === model.id ? model : m)) });
  return model;
}

export const isLoadable = (m: Model) => m.state !== "loaded" && m.state !== "loading" && m.state !== "unloading";
