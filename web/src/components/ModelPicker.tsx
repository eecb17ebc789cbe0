import { useState } from "preact/hooks";
import { isLoadable, modelAction, useModels } from "../lib/models.ts";

/**
 * The chat's model: every model with its state, live from /v1/models/events. Choosing one that is
 * not loaded loads it (POST /v1/models/{id}/load, which may ask for the admin key).
 */
export function ModelPicker({ value, onChange }: { value: string; onChange(id: string): void }) {
  const { models, error } = useModels();
  const [loadError, setLoadError] = useState<string | null>(null);
  const current = models.find((m) => m.id === value);
  const choose = (id: string) => {
    onChange(id);
    setLoadError(null);
    const model = models.find((m) => m.id === id);
    if (model && isLoadable(model)) modelAction(id, "load").catch((err: Error) => setLoadError(err.message));
  };
  return (
    <div class="model-picker">
      <label>
        Model
        <select aria-label="Model" value={value} onChange={(e) => choose(e.currentTarget.value)}>
          {!current && <option value={value}>{value || "(no model)"}</option>}
          {models.map((m) => <option key={m.id} value={m.id}>{m.id} ({m.state})</option>)}
        </select>
      </label>
      {current && (
        <p class={`model-state state-${current.state}`} role="status" aria-label="Model state">
          {current.state === "loading" && <span class="spinner" aria-hidden="true" />}
          {current.state}
          {current.state === "failed" && current.error ? `: ${current.error}` : ""}
        </p>
      )}
      {(loadError || error) && <p class="error" role="alert">{loadError ?? error}</p>}
    </div>
  );
}
