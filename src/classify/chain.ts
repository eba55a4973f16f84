import { makeDiagnosis } from "../diagnosis/build.js";
import { RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import type { Diagnosis } from "../diagnosis/types.js";
import { safeGet } from "../util/headers.js";
import { excerpt } from "../util/redact.js";

/** Entries of an aggregate read (a chain has a handful; a hostile one may have millions). */
const MAX_ENTRIES = 16;
const MAX_LINES_SHOWN = 8;

/** One credential's failure in a chain. */
interface ChainEntry {
  error: unknown;
  /** The credential it came from, as the message names it (or as its words say). */
  name: string;
  message: string;
  /** Says nothing about this host: "is unavailable", a developer tool not installed. */
  noise: boolean;
  aadsts: boolean;
}

/**
 * An AggregateAuthenticationError (DefaultAzureCredential, ChainedTokenCredential) diagnosed from its `errors[]`:
 * the entry that matters here (workload identity's exchange when Entra answered, else managed identity) is
 * classified by `classifyOne`; the others become one evidence line each. Never from the concatenated message, never
 * from the "WorkloadIdentityCredential: is unavailable" noise. Undefined when `error` is no aggregate.
 */
export function classifyAggregateError(
  error: unknown,
  context: unknown,
  classifyOne: (error: unknown, context: Record<string, unknown>) => Diagnosis | undefined,
): Diagnosis | undefined {
  const entries = aggregateEntries(error);
  if (entries === undefined) return undefined;
  const chainName = safeName(safeGet(context, "credentialName")) ?? "ChainedTokenCredential";
  const pick =
    entries.find((e) => e.aadsts && !e.noise) ??
    entries.find((e) => !e.noise && /ManagedIdentity|WorkloadIdentity/.test(e.name)) ??
    entries.find((e) => !e.noise);
  const lines = [
    `chain: ${entries.length} credential${entries.length === 1 ? "" : "s"} failed${pick ? `; diagnosed from ${pick.name}` : "; none says anything about this host"}`,
  ];
  const others = entries.filter((e) => e !== pick);
  for (const entry of others.slice(0, MAX_LINES_SHOWN))
    lines.push(`chain: ${entry.name}: ${excerpt(firstLine(entry.message), 200)}${entry.noise ? " (not used here)" : ""}`);
  if (others.length > MAX_LINES_SHOWN) lines.push(`chain: … and ${others.length - MAX_LINES_SHOWN} more`);
  const diagnosis = pick !== undefined ? classifyOne(pick.error, entryContext(context, pick.name)) : undefined;
  if (diagnosis === undefined) {
    return makeDiagnosis("Unknown", {
      rule: ruleOf(RULE_SOURCES.tokenTime, "chain-unrecognised"),
      confidence: "low",
      summary: `${chainName} got no token from any of its ${entries.length} credentials, and no failure is one this library recognises`,
      evidence: lines,
      nextSteps: ["Run the doctor where the app runs: npx diagnostic-credential doctor"],
    });
  }
  return { ...diagnosis, summary: `${chainName}: ${diagnosis.summary}`, evidence: [...lines, ...diagnosis.evidence] };
}

/** The caller's context for one entry: its known fields (read once, guarded; never a spread of a foreign object) and the entry's name. */
function entryContext(context: unknown, credentialName: string): Record<string, unknown> {
  const out: Record<string, unknown> = { credentialName };
  for (const key of ["exchanges", "environment", "configuredIdentity", "scopes", "scopeFinding", "timedOutAfterMs", "workloadIdentity"]) {
    const value = safeGet(context, key);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** The entries of an aggregate (nested aggregates flattened, bounded), or undefined when it is none. */
function aggregateEntries(error: unknown): ChainEntry[] | undefined {
  const name = safeGet(error, "name");
  const errors = safeGet(error, "errors");
  if (!Array.isArray(errors) || (name !== "AggregateAuthenticationError" && name !== "AggregateError")) return undefined;
  const out: ChainEntry[] = [];
  const seen = new Set<unknown>([error]);
  const visit = (list: unknown[], depth: number) => {
    const count = Math.min(list.length, MAX_ENTRIES);
    for (let i = 0; i < count && out.length < MAX_ENTRIES; i++) {
      let item: unknown;
      try {
        item = list[i];
      } catch {
        continue;
      }
      if (seen.has(item)) continue;
      seen.add(item);
      const nested = safeGet(item, "errors");
      if (Array.isArray(nested) && depth < 3) visit(nested, depth + 1);
      else out.push(entryOf(item));
    }
  };
  visit(errors, 0);
  return out;
}

function entryOf(error: unknown): ChainEntry {
  const raw = typeof error === "string" ? error : safeGet(error, "message");
  const message = typeof raw === "string" ? raw.slice(0, 4000) : "";
  const aadsts = /AADSTS\d{5,7}/.test(message);
  const named = /^\s*([A-Za-z]{2,60}Credential)\b/.exec(message)?.[1] ?? KNOWN_WORDS.find(([words]) => words.test(message))?.[1];
  const name = named ?? (aadsts ? "WorkloadIdentityCredential (token exchange)" : (safeName(safeGet(error, "name")) ?? "Credential"));
  const noise =
    /is unavailable\.?\s/i.test(message) ||
    /(Azure CLI|Azure Developer CLI|PowerShell|azd)\b.{0,80}(not (be )?found|not installed|not logged in|please run)/i.test(message) ||
    /Visual Studio Code|broker/i.test(name);
  // The line shows the message without the name it starts with (it is already the line's label).
  const shown =
    named !== undefined && message.trimStart().startsWith(named)
      ? message
          .trimStart()
          .slice(named.length)
          .replace(/^[:\s-]+/, "")
      : message;
  return { error, name, message: shown, noise, aadsts };
}

/** Credentials whose messages do not start with their name, told by their words. */
const KNOWN_WORDS: ReadonlyArray<[RegExp, string]> = [
  [/managed identity|IMDS|IDENTITY_ENDPOINT/i, "ManagedIdentityCredential"],
  [/Azure Developer CLI|\bazd\b/i, "AzureDeveloperCliCredential"],
  [/Azure CLI|\baz login\b/i, "AzureCliCredential"],
  [/PowerShell/i, "AzurePowerShellCredential"],
  [/Visual Studio Code/i, "VisualStudioCodeCredential"],
  [/broker/i, "BrokerCredential"],
];

function safeName(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? excerpt(value, 80) : undefined;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/, 1)[0] ?? "";
}
