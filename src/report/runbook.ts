/**
 * The runbook as data: its decision flow (one entry per question, the check kinds that answer it) and its "Evidence
 * to collect" table (one row per piece of evidence, the check kinds and evidence lines that fill it, the command that
 * collects it by hand). The incident report reads only these tables: a new check kind is one more name in a row.
 */
import { CHECK_KINDS } from "../diagnosis/findings.js";
import type { Hypothesis } from "../diagnosis/types.js";
import { doctorInContainerCommand, listRoleAssignmentsCommand, replicaListCommand, showIdentityCommand, type CommandContext } from "../diagnosis/commands.js";
import type { ReportFacts } from "./types.js";

/** One question of the runbook's decision flow (`graph TD`, section 1). */
export interface FlowQuestion {
  /** The runbook's node id. */
  id: string;
  question: string;
  /** The hypothesis a "wrong" answer points to. */
  hypothesis: Hypothesis;
  /** The answer that means the layer is broken ("No", except "Token cache or identity mix-up?" where it is "Yes"). */
  failAnswer: "Yes" | "No";
  /** The runbook's remedy node for the broken answer. */
  fix: { id: string; text: string };
  /** Check kinds that answer the question. */
  kinds: readonly string[];
  /** A token was read: the question is answered "fine" (an identity exists, has a principal, the endpoint answered). */
  answeredByToken?: boolean;
  /** A check of these kinds passes the question when this holds, whatever its own verdict (the endpoint answered 400 for H1: it is reachable). */
  passesWhen?: (check: { kind: string; actual?: string }) => boolean;
}

/** The runbook's flow, in its order; the start node `A` and the end node `N` (every layer fine) are in the renderer. */
export const DECISION_FLOW: readonly FlowQuestion[] = [
  {
    id: "B",
    question: "Identity assigned to the app?",
    hypothesis: "H1",
    failAnswer: "No",
    fix: { id: "C", text: "Assign system or user-assigned identity" },
    kinds: [CHECK_KINDS.identityAssignment, CHECK_KINDS.identityVariables],
    answeredByToken: true,
  },
  {
    id: "D",
    question: "Principal ID visible and active?",
    hypothesis: "H1",
    failAnswer: "No",
    fix: { id: "E", text: "Wait for propagation or recreate revision" },
    kinds: ["principal"],
    answeredByToken: true,
  },
  {
    id: "F",
    question: "RBAC role exists at exact target scope?",
    hypothesis: "H2",
    failAnswer: "No",
    fix: { id: "G", text: "Grant least-privilege role at exact scope" },
    kinds: [CHECK_KINDS.role, CHECK_KINDS.denyAssignment, CHECK_KINDS.accessModel],
  },
  {
    id: "H",
    question: "Token audience/scope correct?",
    hypothesis: "H3",
    failAnswer: "No",
    fix: { id: "I", text: "Fix SDK resource URI or .default scope" },
    kinds: [CHECK_KINDS.audience, CHECK_KINDS.scope],
  },
  {
    id: "J",
    question: "Token cache or identity mix-up?",
    hypothesis: "H4",
    failAnswer: "Yes",
    fix: { id: "K", text: "Restart replica and clear stale token path" },
    kinds: [CHECK_KINDS.lifetime, CHECK_KINDS.tenant, CHECK_KINDS.identity, CHECK_KINDS.claimsChallenge],
  },
  {
    id: "L",
    question: "Identity endpoint reachable in container?",
    hypothesis: "H5",
    failAnswer: "No",
    fix: { id: "M", text: "Check runtime path and platform constraints" },
    kinds: [CHECK_KINDS.identityEndpoint],
    answeredByToken: true,
    passesWhen: (check) => /^HTTP \d/.test(check.actual ?? ""),
  },
];

/** One row of the runbook's "Evidence to collect", widened to what the library checks. */
export interface EvidenceRow {
  label: string;
  /** Check kinds whose results fill the row. */
  kinds: readonly string[];
  /** Evidence lines that fill it (their start). */
  lines: readonly string[];
  /** Facts the row shows besides checks: from the environment and the diagnoses' own fields. */
  facts?: (input: ReportFacts) => string[];
  /** What the row needs to be checked at all, for the "not checked" reason. */
  needs?: "token" | "answer";
  /** The command that collects it by hand. */
  command?: (ctx: CommandContext, principalId: string | undefined) => string;
}

export const EVIDENCE_ROWS: readonly EvidenceRow[] = [
  {
    label: "Identity source and platform",
    kinds: [CHECK_KINDS.identityVariables],
    lines: ["identity source:"],
    facts: ({ environment: env, diagnoses }) => {
      const seen = diagnoses.find((d) => d.platform !== undefined)?.platform;
      const name = env?.platform ?? seen?.name;
      const key = env?.platformKey ?? seen?.key;
      const candidates = env?.platformCandidates ?? seen?.candidates ?? [];
      const instance = { ...seen?.instance, ...env?.instance };
      const app = env?.containerApp;
      const where = app?.jobName ?? app?.name ?? env?.appServiceName;
      return [
        env?.source !== undefined ? `identity source ${env.source}${env.sourceReason ? ` (${env.sourceReason})` : ""}` : "",
        name !== undefined
          ? `platform ${name}${key !== undefined ? ` (${key})` : candidates.length > 0 ? `: one of ${candidates.join(", ")}` : ""}`
          : env?.hostKind !== undefined
            ? `platform ${env.hostKind}`
            : "",
        Object.keys(instance).length > 0
          ? `instance: ${Object.entries(instance)
              .map(([field, value]) => `${field} ${value}`)
              .join(", ")}`
          : where !== undefined
            ? [`app ${where}`, app?.revision && `revision ${app.revision}`, app?.replica && `replica ${app.replica}`].filter(Boolean).join(", ")
            : "",
      ];
    },
    command: (ctx) => showIdentityCommand(ctx),
  },
  {
    label: "Identity asked for and token identity",
    kinds: [CHECK_KINDS.identityAssignment, CHECK_KINDS.identity],
    lines: ["identity requested:", "caller seen by the service:"],
    facts: ({ environment, identities }) => {
      const asked = environment?.configuredIdentity;
      const id = asked?.clientId ?? asked?.resourceId ?? asked?.objectId;
      return [
        asked !== undefined ? `asked for: ${id !== undefined ? `user-assigned ${id}` : "system-assigned"}` : "",
        ...identities.map(
          (i) => `identity: ${[i.kind, i.clientId && `clientId ${i.clientId}`, i.objectId && `objectId ${i.objectId}`].filter(Boolean).join(", ")}`,
        ),
      ];
    },
    command: (ctx) => showIdentityCommand(ctx),
  },
  {
    label: "Principal ID",
    kinds: ["principal"],
    lines: [],
    facts: ({ identities }) => identities.map((i) => (i.objectId !== undefined ? `objectId ${i.objectId}` : "")),
    needs: "token",
    command: (ctx) => showIdentityCommand(ctx),
  },
  {
    label: "Role assignments (role and scope advice)",
    kinds: [CHECK_KINDS.role, CHECK_KINDS.denyAssignment, CHECK_KINDS.accessModel],
    lines: ["least-privilege role", "operation named by the service:"],
    needs: "answer",
    command: (_ctx, principalId) => listRoleAssignmentsCommand(principalId),
  },
  {
    label: "Audience and scope",
    kinds: [CHECK_KINDS.audience, CHECK_KINDS.scope],
    lines: [],
    needs: "token",
  },
  {
    label: "Token lifetime, tenant and cache",
    kinds: [CHECK_KINDS.lifetime, CHECK_KINDS.tenant, CHECK_KINDS.claimsChallenge],
    lines: [],
    needs: "token",
    command: (ctx) => replicaListCommand(ctx),
  },
  {
    label: "Identity endpoint exchanges",
    kinds: [CHECK_KINDS.identityEndpoint],
    lines: ["identity endpoint:"],
    command: (ctx) => doctorInContainerCommand(ctx),
  },
  {
    label: "Target-service answer",
    kinds: [CHECK_KINDS.serviceCode],
    lines: ["service message:", "recognised answer"],
    facts: ({ diagnoses }) =>
      diagnoses.map((d) => (d.status !== undefined ? `HTTP ${d.status}${d.errorCode ? ` ${d.errorCode}` : ""}${d.service ? ` from ${d.service}` : ""}` : "")),
    needs: "answer",
  },
];

/** The runbook's "Competing Hypotheses" table: typical evidence for and against each hypothesis. */
export const RUNBOOK_HYPOTHESES: Readonly<Record<Hypothesis, { title: string; for: string; against: string }>> = {
  H1: {
    title: "Identity not assigned",
    for: "az containerapp show has empty identity, missing principalId, or no user-assigned identity reference",
    against: "principalId exists and the app can request a token",
  },
  H2: {
    title: "RBAC role missing or wrong scope",
    for: "403 from target resource, role assigned only at subscription or sibling scope, recent change still propagating",
    against: "Correct role exists at exact target scope and propagation time has passed",
  },
  H3: {
    title: "Wrong token audience/scope",
    for: "Token acquired, but target rejects with auth error; SDK uses incorrect resource URI or .default scope",
    against: "Resource URI matches service endpoint and token works in a known-good sample",
  },
  H4: {
    title: "Token caching issues",
    for: "Error appears after identity swap, role change, revision deployment, or long runtime; restart temporarily fixes it",
    against: "Fresh replica still fails with same token path and same identity",
  },
  H5: {
    title: "IMDS endpoint unreachable",
    for: "CredentialUnavailable, timeout, or connection errors before token issuance",
    against: "Another replica or fresh restart can retrieve tokens successfully",
  },
};
