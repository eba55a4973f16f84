/**
 * Shared by the property tests (test/classify/fuzz.test.ts, test/fuzz/inputs.property.test.ts): the case budget and
 * hostile values — Proxies that throw on every trap, objects whose getters throw, error cycles, symbol keys, frozen
 * errors.
 *
 * fast-check prints and shrinks the values it generates, so a hostile value travels through it as a {@link Hostile}
 * marker and is built per case by a {@link materializer}.
 */
import { CredentialUnavailableError } from "@azure/identity";
import fc from "fast-check";
import { FULL } from "../load/helpers.js";

export { FULL };

/** Cases of a property file in all: ≈2,000 by default, ≈100,000 with FULL=1. */
export const FUZZ_TOTAL = FULL ? 100_000 : 2_000;

/** `numRuns` of a property that gets `share` of {@link FUZZ_TOTAL}, and at least `min`. */
export function fuzzRuns(share: number, min: number): number {
  return Math.max(min, Math.round(FUZZ_TOTAL * share));
}

export type HostileKind =
  /** A Proxy of a plain object that throws on every trap. */
  | "proxy"
  /** The same around a function: callable, `typeof` "function", and `apply` throws too. */
  | "callableProxy"
  /** An object whose `keys` are getters that throw. */
  | "getters"
  /** An Error that is its own `cause` and fills its own `errors`. */
  | "cycle"
  /** Symbol keys only, and a `Symbol.toPrimitive` that throws. */
  | "symbolKeys"
  /** A frozen CredentialUnavailableError. */
  | "frozenError"
  /** Whatever the materializer's `big` option builds (a large input the file holds once). */
  | "big";

/** A hostile value as fast-check sees it: built into the real thing by a {@link materializer}. */
export class Hostile {
  constructor(
    readonly kind: HostileKind,
    /** For "getters": the keys whose getters throw. */
    readonly keys: readonly PropertyKey[] = [],
  ) {}
}

/** A Hostile marker for a Proxy that throws on every trap. */
export const hostileProxy = (): Hostile => new Hostile("proxy");

/** A Hostile marker for an object whose `keys` throw when read. */
export const hostileGetters = (keys: readonly PropertyKey[]): Hostile => new Hostile("getters", keys);

/** Markers of the given kinds, `getters` with `getterKeys`. */
export function hostileMarker(kinds: readonly HostileKind[], getterKeys: readonly PropertyKey[] = []): fc.Arbitrary<Hostile> {
  return fc.constantFrom(...kinds).map((kind) => new Hostile(kind, kind === "getters" ? getterKeys : []));
}

/** The traps a {@link throwingProxy} throws from, and what each throws. */
const THROWING_TRAPS: ReadonlyArray<[keyof ProxyHandler<object>, string]> = [
  ["get", "get trap"],
  ["has", "has trap"],
  ["ownKeys", "ownKeys trap"],
  ["getOwnPropertyDescriptor", "gOPD trap"],
  ["getPrototypeOf", "getPrototypeOf trap"],
  ["apply", "apply trap"],
];

/** A Proxy of `target` whose every trap throws (get, has, ownKeys, getOwnPropertyDescriptor, getPrototypeOf, apply). */
export function throwingProxy(target: object = {}): object {
  const handler: ProxyHandler<object> = {};
  for (const [trap, message] of THROWING_TRAPS) {
    Object.assign(handler, {
      [trap]() {
        throw new Error(message);
      },
    });
  }
  return new Proxy(target, handler);
}

/** An object whose `keys` are getters that throw (enumerable, but for symbol keys). */
export function throwingGetters(keys: readonly PropertyKey[]): object {
  const object: Record<PropertyKey, unknown> = {};
  for (const key of keys) Object.defineProperty(object, key, { enumerable: typeof key !== "symbol", get: () => { throw new Error(`getter ${String(key)}`); } });
  return object;
}

function build(marker: Hostile, big: () => unknown): unknown {
  switch (marker.kind) {
    case "proxy":
      return throwingProxy();
    case "callableProxy":
      return throwingProxy(function () {} as object);
    case "getters":
      return throwingGetters(marker.keys);
    case "cycle": {
      const error = new Error("cycle") as Error & { cause?: unknown; errors?: unknown[] };
      error.cause = error;
      error.errors = [error, error];
      return error;
    }
    case "symbolKeys":
      return { [Symbol("x")]: 1, [Symbol.toPrimitive]: () => { throw new Error("toPrimitive"); } };
    case "frozenError":
      return Object.freeze(new CredentialUnavailableError("frozen"));
    case "big":
      return big();
  }
}

export interface MaterializeOptions {
  /** Nesting below this depth is passed as generated. */
  maxDepth: number;
  /** What a "big" marker becomes. */
  big?: () => unknown;
}

/**
 * Builds generated values for a case: every {@link Hostile} marker in them (in arrays, plain objects and
 * AggregateErrors, down to `maxDepth`) becomes the hostile value it stands for; everything else stays as generated.
 */
export function materializer(options: MaterializeOptions): (value: unknown) => unknown {
  const big = options.big ?? (() => undefined);
  const materialize = (value: unknown, depth: number): unknown => {
    if (value instanceof Hostile) return build(value, big);
    if (depth > options.maxDepth) return value;
    if (value instanceof AggregateError) return new AggregateError(value.errors.map((item: unknown) => materialize(item, depth + 1)), value.message);
    if (Array.isArray(value)) return value.map((item) => materialize(item, depth + 1));
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = materialize(item, depth + 1);
      return out;
    }
    return value;
  };
  return (value) => materialize(value, 0);
}
