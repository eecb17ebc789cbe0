import { createHash } from "node:crypto";

/** One OpenAI-compatible server behind a model. */
export interface UpstreamTarget {
  /** Base URL up to and including /v1. */
  url: string;
  apiKey?: string;
  /** The model name it knows. */
  model: string;
  /** Until its response starts. */
  timeoutMs: number;
}

export interface Upstream extends UpstreamTarget {
  /** For metrics and logs: the URL's origin and path, never its key. */
  label: string;
  inFlight: number;
  healthy: boolean;
  /** While unhealthy: not picked before this time (ms), except when no healthy one is left. */
  retryAt: number;
  failures: number;
  requests: number;
  errors: number;
}

const FIRST_COOLDOWN_MS = 1_000;
const MAX_COOLDOWN_MS = 30_000;

/**
 * Which upstream takes the next request: the least busy healthy one (requests in flight), or with
 * an affinity key the one rendezvous hashing gives among the healthy ones (so a conversation's
 * turns land where its prefix is cached, and only keys of a server that leaves move). A failing
 * upstream is cooled down (1 s, doubling to 30 s) and is tried again after that, or by the health
 * checks; when none is healthy, the one whose cooldown ends first is tried rather than none.
 */
export class UpstreamPool {
  readonly upstreams: readonly Upstream[];
  readonly #now: () => number;

  constructor(targets: readonly UpstreamTarget[], now: () => number = Date.now) {
    this.#now = now;
    this.upstreams = targets.map((t) => ({ ...t, label: labelOf(t.url), inFlight: 0, healthy: true, retryAt: 0, failures: 0, requests: 0, errors: 0 }));
  }

  /** The upstream for the next attempt, none of `tried`; null when every one was tried. */
  pick(tried: ReadonlySet<Upstream>, affinityKey?: string): Upstream | null {
    const now = this.#now();
    const open = this.upstreams.filter((u) => !tried.has(u));
    if (open.length === 0) return null;
    const usable = open.filter((u) => u.healthy || u.retryAt <= now);
    if (usable.length === 0) return open.reduce((a, b) => (b.retryAt < a.retryAt ? b : a));
    if (affinityKey !== undefined) return usable.reduce((a, b) => (score(b, affinityKey) > score(a, affinityKey) ? b : a));
    return usable.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  }

  begin(u: Upstream): void {
    u.inFlight++;
    u.requests++;
  }

  end(u: Upstream): void {
    u.inFlight--;
  }

  /** It answered: healthy again. */
  succeeded(u: Upstream): void {
    u.healthy = true;
    u.failures = 0;
    u.retryAt = 0;
  }

  /** It could not be reached or answered 5xx: cooled down, longer each time in a row. */
  failed(u: Upstream): void {
    u.errors++;
    u.healthy = false;
    u.retryAt = this.#now() + Math.min(MAX_COOLDOWN_MS, FIRST_COOLDOWN_MS * 2 ** u.failures);
    u.failures++;
  }
}

/** Rendezvous (highest random weight) hashing: each key's preferred upstream, stable as others come and go. */
function score(u: Upstream, key: string): number {
  return createHash("sha256").update(u.url).update("\0").update(key).digest().readUInt32BE(0);
}

function labelOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, "")}`;
  } catch {
    return "upstream";
  }
}
