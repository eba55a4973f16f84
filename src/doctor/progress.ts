/**
 * The doctor's progress line on a terminal (stderr): which step is under way and how long it has waited against its
 * limit. The CLI shows it only for the terminal report on a terminal.
 */
import { redact } from "../util/redact.js";
import type { SmokeTestProgress } from "./types.js";

const STEP_TEXT: Record<SmokeTestProgress["step"], string> = {
  environment: "reading the environment",
  "identity-endpoint": "probing the identity endpoint",
  token: "requesting a token for",
  dependency: "calling",
};

/** How often the progress line is redrawn while a step waits. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * The progress line on stderr: the step under way (of concurrent ones, the one that has waited longest) and how long
 * it has waited against its limit, rewritten in place every PROGRESS_INTERVAL_MS by an unref'd timer that runs only
 * while a step is under way.
 */
export function progressLine(stream: NodeJS.WritableStream & { columns?: number }, color: boolean, now: () => number = () => performance.now()) {
  const running = new Map<string, { p: SmokeTestProgress; since: number }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let shown = false;
  const key = (p: SmokeTestProgress) => `${p.step} ${p.target ?? ""}`;
  const draw = () => {
    const oldest = [...running.values()].sort((a, b) => a.since - b.since)[0];
    if (oldest === undefined) return;
    const waited = (now() - oldest.since) / 1000;
    const limit = oldest.p.limitMs !== undefined ? ` of ${(oldest.p.limitMs / 1000).toFixed(oldest.p.limitMs % 1000 === 0 ? 0 : 1)} s limit` : "";
    const more = running.size > 1 ? ` (+${running.size - 1} more)` : "";
    const text = redact(`${STEP_TEXT[oldest.p.step]}${oldest.p.target ? ` ${oldest.p.target}` : ""} … ${waited.toFixed(1)} s${limit}${more}`);
    const columns = typeof stream.columns === "number" && stream.columns > 0 ? stream.columns : 80;
    const line = text.length > columns - 1 ? `${text.slice(0, Math.max(19, columns - 2))}…` : text;
    stream.write(`\r\u001b[2K${color ? `\u001b[2m${line}\u001b[22m` : line}`);
    shown = true;
  };
  const stopTimer = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  return {
    update(p: SmokeTestProgress) {
      if (p.phase === "end") running.delete(key(p));
      else running.set(key(p), { p, since: now() });
      if (running.size === 0) {
        stopTimer();
        return;
      }
      if (timer === undefined) {
        timer = setInterval(draw, PROGRESS_INTERVAL_MS);
        timer.unref();
      }
      draw();
    },
    clear() {
      stopTimer();
      running.clear();
      if (shown) stream.write("\r\u001b[2K");
      shown = false;
    },
    /** Whether the redraw timer is running (tests). */
    get ticking() {
      return timer !== undefined;
    },
  };
}
