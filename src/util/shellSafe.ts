/**
 * Values that reach a next step's command come from places the library does not control: a service's error body
 * (Key Vault's `Resource: '…'`, ARM's `over scope '…'`), a token's claims, the environment, the caller's context.
 * A person pastes those commands into a shell. Each value is therefore validated for its kind before it is put in a
 * command: a value of the kind never holds a shell metacharacter (no quote, `$`, backtick, backslash, `!`, `;`, `|`,
 * `&`, `<`, `>`, whitespace or control character), so it is safe bare or inside the double quotes the templates put
 * around it (POSIX). A value that fails is replaced by a placeholder (`<scope>`) and the caller says why in the
 * evidence.
 */

/** The kinds of values commands take. */
export type ShellValueKind = "guid" | "resourceId" | "resourceName" | "resourceGroup" | "host" | "roleName" | "word" | "url" | "k8sName" | "uri" | "subject";

/**
 * What each kind allows. Resource ids and names: Azure's naming rules (letters, digits, `-`, `_`, `.`, `(`, `)`), no
 * whitespace or metacharacters; role names may hold spaces (inside double quotes); `word`: a named group of a
 * fingerprint (a permission, an entity name).
 */
const PATTERNS: Readonly<Record<ShellValueKind, RegExp>> = {
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  resourceId: /^\/[A-Za-z0-9/._()-]{1,1024}$/,
  resourceName: /^[A-Za-z0-9][A-Za-z0-9._()-]{0,259}$/,
  resourceGroup: /^[A-Za-z0-9._()-]{1,90}$/,
  host: /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/,
  roleName: /^[A-Za-z0-9][A-Za-z0-9 ._()/-]{0,127}$/,
  word: /^[A-Za-z0-9._/-]{1,256}$/,
  url: /^https:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?(\/[A-Za-z0-9._~/%-]*)?$/,
  // Kubernetes namespace / service account (DNS-1123 subdomain).
  k8sName: /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/,
  // A federated credential's audience (`api://AzureADTokenExchange`) or issuer: any scheme, no metacharacter.
  uri: /^[A-Za-z][A-Za-z0-9+.-]{0,20}:\/\/[A-Za-z0-9._~/%:-]{1,1000}$/,
  // A federated credential's subject (`system:serviceaccount:<ns>:<sa>`, `repo:org/name:ref:…`).
  subject: /^[A-Za-z0-9._:/@-]{1,600}$/,
};

/** The value when it is a valid value of `kind`, else undefined. */
export function validShellValue(value: unknown, kind: ShellValueKind): string | undefined {
  return typeof value === "string" && PATTERNS[kind].test(value) ? value : undefined;
}

/**
 * The value when it is a valid value of `kind`; otherwise undefined, and `{ name, kind }` is added to `refused` (for
 * the evidence line). An absent value is neither.
 */
export function checkedShellValue(name: string, value: string | undefined, kind: ShellValueKind, refused: RefusedShellValue[]): string | undefined {
  if (value === undefined) return undefined;
  const valid = validShellValue(value, kind);
  if (valid === undefined) refused.push({ name, kind });
  return valid;
}

/** A value refused for a command, and why: the evidence line that says so. */
export interface RefusedShellValue {
  /** The placeholder's name (`scope`, `principalId`). */
  name: string;
  kind: ShellValueKind;
}

/** The evidence line for refused values: which placeholders were left unfilled and why (never the value itself). */
export function refusedValuesEvidence(refused: readonly RefusedShellValue[]): string | undefined {
  if (refused.length === 0) return undefined;
  const names = [...new Set(refused.map((entry) => `<${entry.name}> (not a valid ${entry.kind})`))];
  return `command values left as placeholders: ${names.join(", ")}: the value seen could not be put safely in a shell command`;
}
