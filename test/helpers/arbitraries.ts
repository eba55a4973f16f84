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
  for (const key of keys)
    Object.defineProperty(object, key, {
      enumerable: typeof key !== "symbol",
      get: () => {
        throw new Error(`getter ${String(key)}`);
      },
    });
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
      return {
        [Symbol("x")]: 1,
        [Symbol.toPrimitive]: () => {
          throw new Error("toPrimitive");
        },
      };
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
    if (value instanceof AggregateError)
      return new AggregateError(
        value.errors.map((item: unknown) => materialize(item, depth + 1)),
        value.message,
      );
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

// ── secrets as they reach a log line (issue 15) ─────────────────────────────────────────────────────────────────
/**
 * A secret placed in text the way a service, an SDK or a log pipeline may pass it on: a JWT in some encoding, an
 * opaque bearer value with whatever closes it, or a registered secret (IDENTITY_HEADER, an opaque token the smoke
 * test got) — whole, or cut short as a truncated echo leaves it.
 */
export interface EmbeddedSecret {
  kind: "jwt" | "bearer" | "identity-header" | "opaque-token";
  /** The text as embedded. */
  text: string;
  /** The secret before encoding and cutting (what must be registered, for the registered kinds). */
  secret: string;
  /** Strings of which no run of {@link LEAK_RUN} characters may reach any output: the secret as embedded and raw. */
  material: string[];
  /** How it was encoded and cut (for the failure message). */
  how: string;
}

/** A leak is any run of this many characters of a secret's material. */
export const LEAK_RUN = 12;

/** Every run of `length` characters of `text`. */
export function runsOf(text: string, length = LEAK_RUN): string[] {
  const runs: string[] = [];
  for (let i = 0; i + length <= text.length; i++) runs.push(text.slice(i, i + length));
  return runs;
}

/** The first run of a secret's material found in `output`, or undefined. */
export function leakedRun(output: string, secret: EmbeddedSecret): string | undefined {
  for (const material of secret.material) for (const run of runsOf(material)) if (output.includes(run)) return run;
  return undefined;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const segmentBytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const JWT_HEADERS = ["eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6IkwxS2ZLRklfam5YYndXYzIyeFp4dzFzVUhIMCJ9"];
/** How a JWT's base64 may come: url-safe, standard (`+` `/` `=`), standard in JSON with `\/`, or URL-encoded. */
const BASE64_FORMS = ["url", "standard", "json-slash", "url-encoded"] as const;
/** What may stand between segments: a dot, encoded, or with a line break before or after it. */
const JWT_DOTS = [".", "%2E", "%2e", "&#46;", "&#x2E;", "\\u002e", ".\n", "\n.", ".\r\n    ", ".\\n", ".\\r\\n", "\r\n."];
/** How `eyJ` may start. */
const JWT_STARTS = ["eyJ", "\\u0065yJ", "e\\u0079J", "ey\\u004a", "\\u0065\\u0079\\u004A"];

function encodeBase64(segment: string, form: (typeof BASE64_FORMS)[number]): string {
  if (form === "url") return segment;
  const standard = segment.replace(/-/g, "+").replace(/_/g, "/");
  if (form === "standard") return standard;
  if (form === "json-slash") return standard.replace(/\//g, "\\/");
  return standard.replace(/\+/g, "%2B").replace(/\//g, "%2F").replace(/=/g, "%3D");
}

const jwtSecret: fc.Arbitrary<EmbeddedSecret> = fc
  .record({
    header: fc.constantFrom(...JWT_HEADERS),
    payload: segmentBytes(20, 400).map((bytes) => `eyJ${b64url(bytes)}`),
    signature: segmentBytes(32, 256).map(b64url),
    padding: fc.constantFrom("", "=", "=="),
    form: fc.constantFrom(...BASE64_FORMS),
    dot: fc.constantFrom(...JWT_DOTS),
    start: fc.constantFrom(...JWT_STARTS),
    /** Keep this share of the token (a truncated echo), or all of it. */
    keep: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  })
  .map(({ header, payload, signature, padding, form, dot, start, keep }) => {
    const raw = `${header}.${payload}.${signature}${padding}`;
    const kept = keep === undefined ? raw : raw.slice(0, Math.max(3, Math.floor(raw.length * keep)));
    const text =
      start +
      kept
        .slice(3)
        .split(".")
        .map((segment) => encodeBase64(segment, form))
        .join(dot);
    // The header (algorithm, key id) is public: the payload and the signature are what must not leak.
    const [, ...secretSegments] = kept.split(".");
    const firstDot = text.indexOf(dot);
    const material = [
      ...(firstDot === -1 ? [] : [text.slice(firstDot + dot.length)]),
      ...secretSegments.map((segment) => encodeBase64(segment, form === "url" ? "url" : "standard")),
    ];
    return {
      kind: "jwt" as const,
      text,
      secret: raw,
      material,
      how: `jwt ${form} dot=${JSON.stringify(dot)} start=${start} kept=${kept.length}/${raw.length}`,
    };
  });

/** Characters of an opaque bearer value (RFC 6750 b64token). */
const TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
/** What may follow a bearer value. */
const BEARER_CLOSERS = [" ", "\n", ",", ";", '"', "'", ")", "}", "]", ">", "<", "\\", "&", "|", ":", "*", "\\n", '\\"'];

const bearerSecret: fc.Arbitrary<EmbeddedSecret> = fc
  .record({
    value: fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 16, maxLength: 200 }),
    padding: fc.constantFrom("", "=", "=="),
    scheme: fc.constantFrom("Bearer ", "bearer ", "BEARER  ", "Bearer\t", "Bearer%20"),
    jsonSlash: fc.boolean(),
    closer: fc.constantFrom(...BEARER_CLOSERS),
    keep: fc.option(fc.nat(), { nil: undefined }),
  })
  // Below 16 characters a bearer value is not told apart from prose ("Bearer authentication"): cuts keep at least that.
  .map(({ value, padding, scheme, jsonSlash, closer, keep }) => {
    const kept = keep === undefined ? `${value}${padding}` : value.slice(0, 16 + (keep % (value.length - 15)));
    const embedded = jsonSlash ? kept.replace(/\//g, "\\/") : kept;
    return {
      kind: "bearer" as const,
      text: `${scheme}${embedded}${closer}`,
      secret: kept,
      material: [embedded, kept],
      how: `bearer ${JSON.stringify(scheme)} closer=${JSON.stringify(closer)} kept=${kept.length}`,
    };
  });

/** How a registered secret may be cut: whole, a prefix (with or without "…"), a suffix, a middle part. */
const registeredSecret = (kind: "identity-header" | "opaque-token", value: fc.Arbitrary<string>): fc.Arbitrary<EmbeddedSecret> =>
  fc.record({ value, cut: fc.constantFrom("whole", "prefix", "prefix…", "suffix", "middle"), a: fc.nat(), b: fc.nat() }).map(({ value, cut, a, b }) => {
    const length = LEAK_RUN + (a % (value.length - LEAK_RUN + 1));
    const start = b % (value.length - length + 1);
    const part =
      cut === "whole"
        ? value
        : cut.startsWith("prefix")
          ? value.slice(0, length)
          : cut === "suffix"
            ? value.slice(value.length - length)
            : value.slice(start, start + length);
    const text = cut === "prefix…" ? `${part}…` : part;
    return { kind, text, secret: value, material: [part], how: `${kind} ${cut} ${part.length}/${value.length}` };
  });

/**
 * IDENTITY_HEADER values: a fixed pool of the shapes platforms use (a process has one or two; registering a new one
 * per case would grow the registry, which is never pruned, by thousands in a FULL run).
 */
const IDENTITY_HEADER_POOL = Array.from({ length: 24 }, (_, i) => {
  const bytes = new Uint8Array(16 + i).map((_, j) => (Math.imul(i * 131 + j + 7, 2654435761) >>> 13) & 0xff);
  const hex = Buffer.from(bytes).toString("hex");
  if (i % 3 === 0) return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return i % 3 === 1 ? hex : b64url(bytes);
});
const identityHeader = fc.constantFrom(...IDENTITY_HEADER_POOL);
const opaqueToken = segmentBytes(24, 300).map((bytes) => `t${b64url(bytes)}`);

/** Any secret of the kinds above, embedded as generated. Register the registered kinds before use ({@link EmbeddedSecret.kind}). */
export const embeddedSecret: fc.Arbitrary<EmbeddedSecret> = fc.oneof(
  { weight: 3, arbitrary: jwtSecret },
  { weight: 2, arbitrary: bearerSecret },
  { weight: 2, arbitrary: registeredSecret("identity-header", identityHeader) },
  { weight: 2, arbitrary: registeredSecret("opaque-token", opaqueToken) },
);

/** Inputs that once leaked or stalled (issue 15), for the fuzz corpora. */
export const HARDENING_CORPUS = [
  "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.\nc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl",
  "eyJhbGciOiJSUzI1NiJ9%2EeyJhdWQiOiJ4In0%2Ec2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl",
  "eyJhbGciOiJSUzI1NiJ9&#46;eyJhdWQiOiJ4In0&#46;c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl",
  "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ+/x4In0=.c2lnbm+/F0dXJl==",
  "\\u0065yJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl",
  "(Bearer abcdefghijklmnopqrstuvwxyz0123)",
  "{Bearer abcdefghijklmnopqrstuvwxyz0123}",
  "resource principal named ".repeat(40),
  "<<Code a".repeat(40),
  "<![CDATA[".repeat(40),
];
