import { safeGet } from "./headers.js";

/**
 * The shape of a plain copy: each field a primitive type, a nested shape, or a list of one. Values of any other
 * type, and fields whose getter or Proxy trap throws, are left out: a caller's odd object is bad input, read as
 * "absent", never a fault.
 */
export type PlainShape = { readonly [key: string]: "string" | "number" | "boolean" | PlainShape | readonly [PlainShape | "string"] };

/** Strings longer than this are cut: a caller's object may hold megabytes. */
const MAX_STRING = 64 * 1024;
/** Lists longer than this keep their last entries only. */
const MAX_LIST = 64;

/** A plain copy of `value` with the fields `shape` names (see PlainShape); undefined when `value` is not an object. */
export function plainCopy(value: unknown, shape: PlainShape): Record<string, unknown> | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(shape)) {
    const field = safeGet(value, key);
    const copied = copyField(field, kind);
    if (copied !== undefined) out[key] = copied;
  }
  return out;
}

function copyField(field: unknown, kind: PlainShape[string]): unknown {
  if (kind === "string") return typeof field === "string" ? field.slice(0, MAX_STRING) : undefined;
  if (kind === "number") return typeof field === "number" && Number.isFinite(field) ? field : undefined;
  if (kind === "boolean") return typeof field === "boolean" ? field : undefined;
  if (Array.isArray(kind)) return copyList(field, kind[0]!);
  return plainCopy(field, kind as PlainShape);
}

function copyList(field: unknown, kind: PlainShape | "string"): unknown[] | undefined {
  let items: unknown[];
  try {
    if (!Array.isArray(field)) return undefined;
    const start = Math.max(0, field.length - MAX_LIST);
    items = [];
    for (let i = start; i < field.length; i++) items.push(field[i]);
  } catch {
    return undefined;
  }
  const out: unknown[] = [];
  for (const item of items) {
    const copied = kind === "string" ? copyField(item, "string") : plainCopy(item, kind);
    if (copied !== undefined) out.push(copied);
  }
  return out;
}
