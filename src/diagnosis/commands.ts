import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { checkedShellValue, validShellValue, type RefusedShellValue, type ShellValueKind } from "../util/shellSafe.js";

/**
 * The runbook's commands, filled in with what the process knows. A value the app cannot know (resource group,
 * subscription) stays a shell variable ("$RG") so the command can be pasted after setting it.
 */
export interface CommandContext {
  appName?: string;
  revision?: string;
  hostKind?: HostEnvironment["hostKind"];
  principalId?: string;
  clientId?: string;
  resourceId?: string;
  /** Values that were not valid for their kind (from the environment or the caller): left as placeholders. */
  refused?: RefusedShellValue[];
}

/** The kind each command value must be (see util/shellSafe.ts). */
const CONTEXT_KINDS: Readonly<Record<"appName" | "revision" | "principalId" | "clientId" | "resourceId", ShellValueKind>> = {
  appName: "resourceName",
  revision: "resourceName",
  principalId: "guid",
  clientId: "guid",
  resourceId: "resourceId",
};

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
  const refused: RefusedShellValue[] = [...(context.refused ?? [])];
  for (const [key, kind] of Object.entries(CONTEXT_KINDS) as Array<[keyof typeof CONTEXT_KINDS, ShellValueKind]>) {
    if (context[key] !== undefined && checkedShellValue(key, context[key], kind, refused) === undefined) delete context[key];
  }
  if (refused.length > 0) context.refused = refused;
  return context;
}

/** A validated value (commandContextOf) in double quotes, or the shell variable the person sets. */
const quoted = (value: string | undefined, placeholder: string) => `"${value ?? placeholder}"`;

/** `az … show --query identity`: does the app have an identity, which one. */
export function showIdentityCommand(ctx: CommandContext): string {
  if (ctx.hostKind === "app-service") return `az webapp identity show --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG"`;
  if (ctx.hostKind === "container-apps-job") return `az containerapp job identity show --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG"`;
  return `az containerapp show --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" --query identity --output json`;
}

/** Assign the identity the code asks for (user-assigned when an id was configured, else system-assigned). */
export function assignIdentityCommand(ctx: CommandContext): string {
  const which = ctx.resourceId
    ? `--user-assigned "${ctx.resourceId}"`
    : ctx.clientId
      ? `--user-assigned "$(az identity list --query \"[?clientId=='${ctx.clientId}'].id\" --output tsv)"`
      : "--system-assigned";
  if (ctx.hostKind === "app-service") return `az webapp identity assign --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" ${which}`;
  if (ctx.hostKind === "container-apps-job")
    return `az containerapp job identity assign --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" ${which}`;
  return `az containerapp identity assign --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" ${which}`;
}

export function listRoleAssignmentsCommand(principalId: string | undefined): string {
  return `az role assignment list --assignee ${quoted(validShellValue(principalId, "guid"), "$PRINCIPAL_ID")} --all --output table`;
}

export function restartRevisionCommand(ctx: CommandContext): string {
  if (ctx.hostKind === "app-service") return `az webapp restart --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG"`;
  return `az containerapp revision restart --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" --revision ${quoted(ctx.revision, "$REVISION_NAME")}`;
}

export function doctorInContainerCommand(ctx: CommandContext, scope = "https://management.azure.com/.default"): string {
  // Inside the quoted --command: a scope that is not a plain https URL is left out rather than quoted twice.
  const checked = validShellValue(scope, "url");
  return `az containerapp exec --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" --command "npx diagnostic-credential doctor${checked !== undefined ? ` --scope ${checked}` : ""}"`;
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

export function showIdentityStep(ctx: CommandContext): string {
  return withCommand(
    "See which managed identities the app has (the system-assigned principalId, the user-assigned identities and their client ids)",
    showIdentityCommand(ctx),
  );
}

export function assignIdentityStep(ctx: CommandContext): string {
  const what =
    ctx.resourceId || ctx.clientId ? "Attach the user-assigned identity the code asks for to the app" : "Assign a system-assigned identity to the app";
  return withCommand(what, assignIdentityCommand(ctx));
}

export function listRoleAssignmentsStep(principalId: string | undefined): string {
  const what =
    principalId !== undefined
      ? "List the identity's role assignments (each must be at the target resource's scope or above it)"
      : "Once the app has an identity, list its role assignments (PRINCIPAL_ID: the principalId the identity show command prints)";
  return withCommand(what, listRoleAssignmentsCommand(principalId));
}

export function restartRevisionStep(ctx: CommandContext, why = "Restart the revision so its replicas drop the cached token and request a new one"): string {
  return withCommand(why, restartRevisionCommand(ctx));
}

export function doctorInContainerStep(ctx: CommandContext, scope?: string): string {
  return withCommand(
    "Check from inside the container (environment, identity endpoint, a token request, as the app sees them)",
    doctorInContainerCommand(ctx, scope),
  );
}

export function replicaListCommand(ctx: CommandContext): string {
  return `az containerapp replica list --name ${quoted(ctx.appName, "$APP_NAME")} --resource-group "$RG" --revision ${quoted(ctx.revision, "$REVISION_NAME")} --output table`;
}
