import type { PullProgress } from "./types.ts";

const WINDOW_MS = 5000;
const MIN_INTERVAL_MS = 200;

/**
 * Turns byte counts into PullProgress events: speed over the last few seconds (so a stall shows
 * quickly), an ETA from it, and at most five events a second so that a route streaming them to a
 * client does not send one per network chunk. A held-back count is sent when the interval ends, so
 * the last figure before a stall is not lost. A callback that throws does not stop the pull.
 */
export class ProgressReporter {
  readonly #base: Pick<PullProgress, "source" | "id">;
  readonly #onProgress: ((p: PullProgress) => void) | undefined;
  readonly #now: () => number;
  #samples: [ms: number, bytes: number][] = [];
  #lastEmit = -Infinity;
  #lastPhase: PullProgress["phase"] | null = null;
  #trailing: NodeJS.Timeout | null = null;

  constructor(base: Pick<PullProgress, "source" | "id">, onProgress: ((p: PullProgress) => void) | undefined, now: () => number = () => performance.now()) {
    this.#base = base;
    this.#onProgress = onProgress;
    this.#now = now;
  }

  phase(phase: PullProgress["phase"], receivedBytes: number, totalBytes: number | null): void {
    this.#emit(phase, receivedBytes, totalBytes);
  }

  bytes(receivedBytes: number, totalBytes: number | null): void {
    const now = this.#now();
    this.#samples.push([now, receivedBytes]);
    while (this.#samples.length > 2 && now - this.#samples[0]![0] > WINDOW_MS) this.#samples.shift();
    const wait = MIN_INTERVAL_MS - (now - this.#lastEmit);
    if (wait <= 0 || receivedBytes === totalBytes || this.#lastPhase !== "downloading") return this.#emit("downloading", receivedBytes, totalBytes);
    this.#trailing ??= setTimeout(() => {
      this.#trailing = null;
      const last = this.#samples.at(-1);
      if (last) this.#emit("downloading", last[1], totalBytes);
    }, wait).unref();
  }

  /** Drops a held-back event: nothing is reported after the pull ended. */
  stop(): void {
    if (this.#trailing) clearTimeout(this.#trailing);
    this.#trailing = null;
  }

  #emit(phase: PullProgress["phase"], receivedBytes: number, totalBytes: number | null): void {
    this.stop();
    this.#lastEmit = this.#now();
    this.#lastPhase = phase;
    if (!this.#onProgress) return;
    const bytesPerSecond = this.#rate();
    const left = totalBytes === null ? null : Math.max(0, totalBytes - receivedBytes);
    const etaSeconds = left === 0 ? 0 : left === null || bytesPerSecond === 0 ? null : left / bytesPerSecond;
    try {
      this.#onProgress({ ...this.#base, receivedBytes, totalBytes, bytesPerSecond, etaSeconds, phase });
    } catch {
      // A progress consumer's failure (a closed client stream) is not the pull's.
    }
  }

  #rate(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last[0] <= first[0]) return 0;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }
}
