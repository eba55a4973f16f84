import type { HostEnvironment, PlatformInstance } from "../environment/hostEnvironment.js";
import { FEDERATED_CREDENTIAL_DEFAULTS, PLATFORM_KEYS, platformEntry, type PlatformEntry, type PlatformKey, type PlatformStep } from "../hosting/platforms.js";
import { checkedShellValue, validShellValue, type RefusedShellValue, type ShellValueKind } from "../util/shellSafe.js";

/**
 * The runbook's commands, filled in with what the process knows. A value the app cannot know (resource group,
 * subscription) stays a shell variable ("$RG") so the command can be pasted after setting it. Which commands: the
 * detected platform's (hosting/platforms.ts); when it is unknown, each candidate's, each named.
 */
export interface CommandContext {
  appName?: string;
  revision?: string;
  /** The resource group, when the caller knows it (else `"$RG"`). */
  resourceGroup?: string;
  hostKind?: HostEnvironment["hostKind"];
  /** The detected platform: its commands only. */
  platformKey?: PlatformKey;
  /** The platform is unknown: the ones it may be (default: every platform). */
  platformCandidates?: readonly PlatformKey[];
  /** Why the platform is unknown, for the step that lists the candidates. */
  platformReason?: string;
  /** The instance names (validated): pod, namespace, instance id. */
  instance?: PlatformInstance;
  principalId?: string;
  clientId?: string;
  resourceId?: string;
  /** Values that were not valid for their kind (from the environment or the caller): left as placeholders. */
  refused?: RefusedShellValue[];
  /**
   * AKS workload identity: the federated credential the pod's projected token matches (its claims), for the
   * platform's federated-credential command. Each value is validated when filled; one that is not valid keeps its default.
   */
  federatedCredential?: FederatedCredentialValues;
}

/** The projected token's `iss`, `sub`, `aud`, and a name for the credential (`<namespace>-<service account>`). */
export interface FederatedCredentialValues {
  name?: string;
  issuer?: string;
  subject?: string;
  audience?: string;
}

/** The kind each federated credential value must be (util/shellSafe.ts). */
const FEDERATED_KINDS: Readonly<Record<keyof typeof FEDERATED_CREDENTIAL_DEFAULTS, [keyof FederatedCredentialValues, ShellValueKind]>> = {
  federatedCredentialName: ["name", "resourceName"],
  issuer: ["issuer", "uri"],
  subject: ["subject", "subject"],
  audience: ["audience", "uri"],
};

/** The kind each command value must be (see util/shellSafe.ts). */
const CONTEXT_KINDS: Readonly<Record<"appName" | "revision" | "resourceGroup" | "principalId" | "clientId" | "resourceId", ShellValueKind>> = {
  appName: "resourceName",
  resourceGroup: "resourceGroup",
  revision: "resourceName",
  principalId: "guid",
  clientId: "guid",
  resourceId: "resourceId",
};

/** The instance names commands take (Kubernetes names and App Service instance ids fit `resourceName`). */
const INSTANCE_KINDS: ReadonlyArray<"instance" | "pod" | "namespace"> = ["instance", "pod", "namespace"];

/**
 * The values the commands need, each validated for its kind: an app name, revision, id or resource id that could
 * break out of its quotes (`"`, `$(…)`, a backtick) is dropped (the command keeps its placeholder) and listed in
 * `refused`, for the evidence.
 */
export function commandContextOf(env: HostEnvironment | undefined, extra: Partial<CommandContext> = {}): CommandContext {
  const context: CommandContext = { ...extra };
  if (env?.containerApp.name !== undefined && context.appName === undefined) context.appName = env.containerApp.name;
  if (env?.containerApp.revision !== undefined) context.revision = env.containerApp.revision;
  if (env !== undefined) context.hostKind = env.hostKind;
  if (env?.appServiceName !== undefined && context.appName === undefined) context.appName = env.appServiceName;
  if (env?.instance?.app !== undefined && context.appName === undefined) context.appName = env.instance.app;
  if (env?.platformKey !== undefined) context.platformKey = env.platformKey;
  else if (env?.platformCandidates !== undefined && env.platformCandidates.length > 0) context.platformCandidates = env.platformCandidates;
  if (env?.platformReason !== undefined && env.platformKey === undefined) context.platformReason = env.platformReason;
  const refused: RefusedShellValue[] = [...(context.refused ?? [])];
  for (const [key, kind] of Object.entries(CONTEXT_KINDS) as Array<[keyof typeof CONTEXT_KINDS, ShellValueKind]>) {
    if (context[key] !== undefined && checkedShellValue(key, context[key], kind, refused) === undefined) delete context[key];
  }
  const instance: PlatformInstance = {};
  for (const field of INSTANCE_KINDS) {
    const value = env?.instance?.[field];
    if (value !== undefined && checkedShellValue(field, value, "resourceName", refused) !== undefined) instance[field] = value;
  }
  if (Object.keys(instance).length > 0) context.instance = instance;
  if (refused.length > 0) context.refused = refused;
  return context;
}

/** A validated value (commandContextOf) in double quotes, or the shell variable the person sets. */
const quoted = (value: string | undefined, placeholder: string) => `"${value ?? placeholder}"`;

/**
 * The platforms whose commands a step gives: the detected one; for a context made before platforms were known (a
 * `hostKind` only), its platform; else the candidates (every platform when nothing is known).
 */
export function platformsOf(ctx: CommandContext): PlatformEntry[] {
  // A caller's context may hold any string: only the table's keys count.
  const known = (key: unknown): PlatformEntry | undefined => (PLATFORM_KEYS.includes(key as PlatformKey) ? platformEntry(key as PlatformKey) : undefined);
  const detected = known(ctx.platformKey) ?? known(ctx.hostKind);
  if (detected !== undefined) return [detected];
  const candidates = (Array.isArray(ctx.platformCandidates) ? ctx.platformCandidates : []).flatMap((key) => known(key) ?? []);
  return candidates.length > 0 ? candidates : PLATFORM_KEYS.map(platformEntry);
}

/** The user-assigned identity argument: its resource id, or the expression that finds it from a client id. */
function identityArgument(ctx: CommandContext): string {
  if (ctx.resourceId !== undefined) return `"${ctx.resourceId}"`;
  if (ctx.clientId !== undefined) return `"$(az identity list --query \"[?clientId=='${ctx.clientId}'].id\" --output tsv)"`;
  return '"$IDENTITY_RESOURCE_ID"';
}

/** The doctor's command line, run where the app runs (a scope that is not a plain https URL is left out). */
function doctorLine(scope = "https://management.azure.com/.default", url?: string): string {
  if (url !== undefined) {
    const checkedUrl = validShellValue(url, "url");
    return `npx diagnostic-credential doctor${checkedUrl !== undefined ? ` --url ${checkedUrl}` : ""}`;
  }
  const checked = validShellValue(scope, "url");
  return `npx diagnostic-credential doctor${checked !== undefined ? ` --scope ${checked}` : ""}`;
}

/** A platform's command template filled with validated values (see hosting/platforms.ts for the placeholders). */
export function fillCommand(template: string, ctx: CommandContext, scope?: string, url?: string): string {
  const values: Record<string, [string | undefined, string]> = {
    rg: [ctx.resourceGroup, "$RG"],
    app: [ctx.appName, "$APP_NAME"],
    revision: [ctx.revision, "$REVISION_NAME"],
    instance: [ctx.instance?.instance, "$INSTANCE_ID"],
    pod: [ctx.instance?.pod, "$POD_NAME"],
    namespace: [ctx.instance?.namespace, "$NAMESPACE"],
  };
  return template.replace(/\{(\w+?)(Bare)?\}/g, (whole, name: string, bare: string | undefined) => {
    if (name === "identity") return identityArgument(ctx);
    if (Object.hasOwn(FEDERATED_KINDS, name)) {
      const key = name as keyof typeof FEDERATED_KINDS;
      const [field, kind] = FEDERATED_KINDS[key];
      const value = validShellValue(ctx.federatedCredential?.[field], kind);
      return value !== undefined ? `"${value}"` : fillCommand(FEDERATED_CREDENTIAL_DEFAULTS[key], ctx);
    }
    if (name === "doctor") return doctorLine(scope, url);
    // The doctor's arguments after `npx` (a job's `--command "npx" --args …`, which az splits on spaces).
    if (name === "doctorArgs") return doctorLine(scope, url).replace(/^npx /, "");
    const value = values[name];
    if (value === undefined) return whole;
    return bare !== undefined ? (value[0] ?? value[1]) : quoted(value[0], value[1]);
  });
}

/** The platform's steps (its commands that come with a sentence). */
export type StepName = Exclude<keyof PlatformEntry["commands"], "principalId" | "outboundIps">;

/** One platform's step: its sentence (its own, or the usual one about its `noun`) and its command, filled. */
export function platformStep(entry: PlatformEntry, name: StepName, ctx: CommandContext, scope?: string, url?: string): Required<PlatformStep> | undefined {
  const step = entry.commands[name];
  return step === undefined ? undefined : { sentence: step.sentence ?? USUAL_SENTENCES[name](entry.noun), command: fillCommand(step.command, ctx, scope, url) };
}

/** The sentence of a step whose platform has no sentence of its own. */
const USUAL_SENTENCES: Readonly<Record<StepName, (noun: string) => string>> = {
  showIdentity: (noun) => `See which managed identities the ${noun} has`,
  assignSystemIdentity: (noun) => `Assign a system-assigned identity to the ${noun}`,
  assignUserIdentity: (noun) => `Attach the user-assigned identity the code asks for to the ${noun}`,
  restart: (noun) => `Restart the ${noun} so its instances request new tokens`,
  doctorInInstance: () => "Check from inside the host (environment, identity endpoint, a token request, as the app sees them)",
  listInstances: (noun) => `List the ${noun}'s instances, to compare this one with the others`,
};

/**
 * The next step for the detected platform; when it is unknown, one step that says so and gives each candidate's
 * command, named (never one platform's command alone). `sentence` replaces the platform's own when given.
 */
function stepFor(ctx: CommandContext, name: StepName, options: { sentence?: string; scope?: string; url?: string } = {}): string | undefined {
  const entries = platformsOf(ctx);
  const steps = entries.map((entry) => ({ entry, step: platformStep(entry, name, ctx, options.scope, options.url) })).filter((s) => s.step !== undefined);
  if (steps.length === 0) return undefined;
  if (entries.length === 1) return withCommand(options.sentence ?? steps[0]!.step!.sentence, steps[0]!.step!.command);
  const why = ctx.platformReason ?? "no platform variable is set";
  const sentence = `${(options.sentence ?? USUAL_SENTENCES[name]("host")).replace(/[\s:.]+$/, "")} (the hosting platform is unknown: ${why}; run the one for this host)`;
  return withCommand(sentence, steps.map(({ entry, step }) => `on ${entry.displayName}: ${step!.command}`).join(" | "));
}

/** The command alone, or the candidates' commands, named. */
function commandFor(ctx: CommandContext, name: StepName, scope?: string): string {
  const entries = platformsOf(ctx);
  const commands = entries.flatMap((entry) => {
    const step = platformStep(entry, name, ctx, scope);
    return step === undefined ? [] : [entries.length === 1 ? step.command : `on ${entry.displayName}: ${step.command}`];
  });
  return commands.join(" | ");
}

/**
 * The values of the host's commands for catalog and reasoning templates: `{showIdentityCommand}`,
 * `{principalIdAssignment}` (`PRINCIPAL_ID="$(…)"`), `{outboundIpsCommand}`; each the platform's, or every
 * candidate's, named.
 */
export function hostCommandValues(ctx: CommandContext): Record<string, string> {
  const entries = platformsOf(ctx);
  const each = (make: (entry: PlatformEntry) => string) =>
    entries.length === 1 ? make(entries[0]!) : entries.map((entry) => `on ${entry.displayName}: ${make(entry)}`).join(" | ");
  return {
    showIdentityCommand: showIdentityCommand(ctx),
    principalIdAssignment: each((entry) => `PRINCIPAL_ID="$(${fillCommand(entry.commands.principalId, ctx)})"`),
    outboundIpsCommand: each((entry) => fillCommand(entry.commands.outboundIps, ctx)),
  };
}

/** `az … identity show`: does the app have an identity, which one. */
export function showIdentityCommand(ctx: CommandContext): string {
  return commandFor(ctx, "showIdentity");
}

/** Assign the identity the code asks for (user-assigned when an id was configured, else system-assigned). */
export function assignIdentityCommand(ctx: CommandContext): string {
  return commandFor(ctx, ctx.resourceId || ctx.clientId ? "assignUserIdentity" : "assignSystemIdentity");
}

export function listRoleAssignmentsCommand(principalId: string | undefined): string {
  return `az role assignment list --assignee ${quoted(validShellValue(principalId, "guid"), "$PRINCIPAL_ID")} --all --output table`;
}

/** Fresh instances: a new revision or restart (Container Apps), restart (App Service, Functions, VM), rollout restart (AKS). */
export function restartRevisionCommand(ctx: CommandContext): string {
  return commandFor(ctx, "restart");
}

export function doctorInContainerCommand(ctx: CommandContext, scope = "https://management.azure.com/.default"): string {
  return commandFor(ctx, "doctorInInstance", scope);
}

/** How to select a user-assigned identity in code: the Container Apps docs require the client id. */
export function passClientIdInCode(clientId: string | undefined): string {
  const checked = validShellValue(clientId, "guid");
  return `Select the identity in code: new DiagnosticCredential(${checked ? `"${checked}"` : '"<client-id>"'}) (or { clientId } / { resourceId }); a standalone ManagedIdentityCredential does not read AZURE_CLIENT_ID`;
}

// ── Next steps ─────────────────────────────────────────────────────────────────────────────────────────────────
// A next step is one string: the sentence that says why, a colon, and the command (never a sentence in one step
// and its command in the next: a log line, a span event or a numbered list must not separate them).

/** One next step: `sentence: command`. */
export function withCommand(sentence: string, command: string): string {
  return `${sentence.replace(/[\s:.]+$/, "")}: ${command}`;
}

export function showIdentityStep(ctx: CommandContext, sentence?: string): string {
  return stepFor(ctx, "showIdentity", sentence !== undefined ? { sentence } : {})!;
}

export function assignIdentityStep(ctx: CommandContext): string {
  return stepFor(ctx, ctx.resourceId || ctx.clientId ? "assignUserIdentity" : "assignSystemIdentity")!;
}

export function listRoleAssignmentsStep(principalId: string | undefined): string {
  const what =
    principalId !== undefined
      ? "List the identity's role assignments (each must be at the target resource's scope or above it)"
      : "Once the app has an identity, list its role assignments (PRINCIPAL_ID: the principalId the identity show command prints)";
  return withCommand(what, listRoleAssignmentsCommand(principalId));
}

/**
 * Fresh instances, with the platform's command (H4 advice: a new revision or restart on Container Apps, a restart on
 * App Service and Functions, a rollout restart on AKS). `why`, when given, is the sentence instead of the platform's.
 */
export function restartRevisionStep(ctx: CommandContext, why?: string): string {
  return stepFor(ctx, "restart", why !== undefined ? { sentence: why } : {})!;
}

/** Run the doctor where the app runs; `url`: a dependency to probe instead of a scope. */
export function doctorInContainerStep(ctx: CommandContext, scope?: string, url?: string): string {
  return stepFor(ctx, "doctorInInstance", { ...(scope !== undefined ? { scope } : {}), ...(url !== undefined ? { url } : {}) })!;
}

/** The command that lists the instances (replicas, executions, pods, scale-set instances); empty where there is none. */
export function replicaListCommand(ctx: CommandContext): string {
  return commandFor(ctx, "listInstances");
}

/** The step that lists the instances to compare them, or undefined where the platform has no such list (a VM). */
export function listInstancesStep(ctx: CommandContext, why?: string): string | undefined {
  return stepFor(ctx, "listInstances", why !== undefined ? { sentence: why } : {});
}
