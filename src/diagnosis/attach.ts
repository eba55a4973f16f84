import type { Diagnosis } from "./types.js";

/**
 * Diagnoses attached to errors and to HTTP request/response objects. A WeakMap keeps them without changing the
 * objects; on errors the `diagnosis` property is also set, as API.md promises, where the error allows it.
 */
const attached = new WeakMap<object, Diagnosis>();

export function attachDiagnosis(target: unknown, diagnosis: Diagnosis, options: { asProperty?: boolean } = {}): void {
  if (target === null || (typeof target !== "object" && typeof target !== "function")) return;
  try {
    attached.set(target as object, diagnosis);
    if (options.asProperty && Object.isExtensible(target)) {
      Object.defineProperty(target, "diagnosis", { value: diagnosis, enumerable: false, configurable: true, writable: true });
    }
  } catch {
    // Frozen or exotic objects: the WeakMap entry (if any) is enough.
  }
}

/**
 * The diagnosis attached to an error by the credential or the policy: on the error itself, on its request or
 * response (RestError), or down its `cause` chain. Undefined when there is none. Never throws.
 */
export function getDiagnosis(error: unknown): Diagnosis | undefined {
  try {
    let current: unknown = error;
    for (let depth = 0; depth < 6 && current !== null && typeof current === "object"; depth++) {
      const own = attached.get(current as object) ?? asDiagnosis((current as { diagnosis?: unknown }).diagnosis);
      if (own !== undefined) return own;
      for (const key of ["response", "request"] as const) {
        const related = (current as Record<string, unknown>)[key];
        if (related !== null && typeof related === "object") {
          const found = attached.get(related as object);
          if (found !== undefined) return found;
        }
      }
      current = (current as { cause?: unknown }).cause;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function asDiagnosis(value: unknown): Diagnosis | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const candidate = value as Partial<Diagnosis>;
  return typeof candidate.code === "string" && typeof candidate.hypothesis === "string" && typeof candidate.summary === "string"
    ? (candidate as Diagnosis)
    : undefined;
}
