/**
 * The reads of one verification: GETs to Resource Manager with the app's token, inside the verification's deadline,
 * its call budget and the process-wide per-minute limit. Never throws: a failure is an answer with a `failure` code.
 */
import { createHttpHeaders, createPipelineRequest, type HttpClient } from "@azure/core-rest-pipeline";
import { sharedSlot } from "../util/processState.js";

/** What one read got: the status and parsed body, or why there was no answer. */
export interface ArmAnswer {
  /** HTTP status; 0 when there was no answer. */
  status: number;
  body?: unknown;
  /** ARM's `error.code` on an error answer (`AuthorizationFailed`, `ResourceNotFound`). */
  errorCode?: string;
  /** Why there was no answer: a transport code (`ECONNREFUSED`), `TIMEOUT`, `CALL_BUDGET`, `RATE_LIMIT`. */
  failure?: string;
}

/** Calls in the current minute, for the whole process (every copy of the library, every credential). */
const minuteWindow = sharedSlot("verify.minuteWindow.v1", () => ({ start: 0, used: 0 }));

/** Takes one call from the per-minute allowance; false when it is spent. */
export function takeMinuteAllowance(maxPerMinute: number, now = Date.now()): boolean {
  if (now - minuteWindow.start >= 60_000) {
    minuteWindow.start = now;
    minuteWindow.used = 0;
  }
  if (minuteWindow.used >= maxPerMinute) return false;
  minuteWindow.used++;
  return true;
}

/** One verification's reads. */
export class ArmSession {
  calls = 0;
  constructor(
    private readonly endpoint: string,
    private readonly token: string,
    private readonly http: HttpClient,
    private readonly deadline: number,
    private readonly maxCalls: number,
    private readonly maxPerMinute: number,
  ) {}

  /** GET `path` (starting with `/`, query included). */
  async get(path: string): Promise<ArmAnswer> {
    if (this.calls >= this.maxCalls) return { status: 0, failure: "CALL_BUDGET" };
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) return { status: 0, failure: "TIMEOUT" };
    if (!takeMinuteAllowance(this.maxPerMinute)) return { status: 0, failure: "RATE_LIMIT" };
    this.calls++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), remaining);
    timer.unref?.();
    try {
      const request = createPipelineRequest({
        url: `${this.endpoint}${path}`,
        method: "GET",
        timeout: remaining,
        abortSignal: controller.signal,
        headers: createHttpHeaders({ authorization: `Bearer ${this.token}`, accept: "application/json" }),
      });
      const response = await this.http.sendRequest(request);
      let body: unknown;
      try {
        body = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
      } catch {
        body = undefined;
      }
      const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
      return { status: response.status, ...(body !== undefined ? { body } : {}), ...(typeof code === "string" ? { errorCode: code } : {}) };
    } catch (error) {
      const code = (error as { code?: unknown; name?: unknown } | undefined)?.code;
      const name = (error as { name?: unknown } | undefined)?.name;
      return {
        status: 0,
        failure:
          controller.signal.aborted || name === "AbortError" ? "TIMEOUT" : typeof code === "string" && /^[A-Z_]{2,40}$/.test(code) ? code : "REQUEST_FAILED",
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** "HTTP 403 AuthorizationFailed", "ECONNREFUSED": an answer as a check's `actual`. */
export function describeAnswer(answer: ArmAnswer): string {
  if (answer.status === 0) return answer.failure ?? "no answer";
  return `HTTP ${answer.status}${answer.errorCode ? ` ${answer.errorCode}` : ""}`;
}
