// What every fault kind does, as data: one entry per kind, read by the request pipeline stage by stage. An entry
// is called once, when the fault is set, so its random choices (another identity, another tenant) stay fixed for
// every request the fault applies to. Shape-specific bodies come from the shape (shapes/*), never from here.
import { randomBytes, randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { EmulatedApp } from "../emulatedApp.js";
import { randomChars } from "../emulatedApp.js";
import { legacyNoMsiAnswer } from "../shapes/appService.js";
import { entraError, entraErrorDescription, entraTimestamp, type EntraErrorFacts } from "../../entra/entraErrors.js";
import type { EndpointShape, EntraRefusal, IssuedToken, TokenAnswer } from "../shapes/endpointShape.js";
import type { RecordedIdentityRequest } from "../types.js";
import type { TokenPlan } from "../tokenMinter.js";
import type { IdentityEndpointFault, IdentityEndpointFaultKind } from "./faultTypes.js";

/** What happens on the connection before any answer: never answer, reset it, close it, or wait and then answer. */
export type ConnectionAct = { act: "hang" } | { act: "reset" } | { act: "close" } | { act: "delay"; ms: number };

/**
 * A fault's effects on one token request, stage by stage (in the order the pipeline reaches them). A stage
 * without an effect behaves as on a healthy endpoint.
 */
export interface FaultEffects {
  /** 1. On arrival: hang, reset, or delay. */
  connection?: ConnectionAct;
  /** 2. An answer in place of everything, before the shape checks the request. */
  preempt?: (shape: EndpointShape) => TokenAnswer;
  /** 3. An answer once the request passed the shape's checks, in place of the identity lookup. */
  refuse?: (shape: EndpointShape, request: RecordedIdentityRequest) => TokenAnswer;
  /** 4. The app seems to have no identity at all (the lookup then answers as the shape does for that). */
  hidesIdentities?: true;
  /** 5. What the token says instead of the healthy plan (never the body's `resource`/`client_id`). */
  bendToken?: (plan: TokenPlan) => TokenPlan;
  /** 6. An access token in place of the signed JWT. */
  accessToken?: () => string;
  /** 7. The success body in place of the shape's. */
  successBody?: (token: IssuedToken) => Record<string, unknown>;
}

/** An entry: the effects of one fault of its kind, made from the fault's fields and the app. */
type FaultEntry<K extends IdentityEndpointFaultKind> = (fault: Extract<IdentityEndpointFault, { kind: K }>, app: EmulatedApp) => FaultEffects;

/** One entry per fault kind; the compiler insists that none is missing. */
const FAULT_TABLE: { readonly [K in IdentityEndpointFaultKind]: FaultEntry<K> } = {
  // container-apps: 400 "No managed identity found for the app"; imds: 400 "Identity not found".
  "no-identity": () => ({ hidesIdentities: true }),

  // container-apps: 500 "An unexpected error occured…"; imds: 400 "Identity not found".
  "unknown-client-id": () => ({ refuse: (shape) => shape.unknownIdentity() }),

  // Both shapes: the old App Service body with capitalised keys.
  "legacy-no-msi": () => ({ refuse: () => legacyNoMsiAnswer() }),

  // Both shapes: 400 "Multiple user assigned identities exist…", in the shape's error format.
  "several-identities": () => ({ refuse: (shape) => shape.severalIdentities() }),

  // Both shapes: the status before any check; the given body, else the reason phrase in the shape's error format.
  status: (fault) => ({
    preempt: (shape) => {
      const answer =
        fault.body !== undefined ? { status: fault.status, body: fault.body } : shape.statusError(fault.status, STATUS_CODES[fault.status] ?? "Error");
      return { ...answer, headers: fault.headers };
    },
  }),

  // Both shapes: connection-level, no body at all.
  hang: () => ({ connection: { act: "hang" } }),
  reset: () => ({ connection: { act: "reset" } }),
  close: () => ({ connection: { act: "close" } }),

  // Entra's AADSTS answer, relayed in the shape's error format; the sentence names the request's identity and resource.
  "entra-error": (fault, app) => ({ refuse: (shape, request) => shape.entraRefusal(entraRefusal(fault.code, request, app, fault.facts)) }),
  // container-apps: the ambiguous 500; imds: Entra's AADSTS500011 naming the resource.
  "unknown-audience": (_fault, app) => ({ refuse: (shape, request) => shape.unknownAudience(entraRefusal(500011, request, app)) }),
  delay: (fault) => ({ connection: { act: "delay", ms: fault.ms } }),

  // Both shapes: the token's claims are wrong, the body is healthy.
  "wrong-audience": (fault) => ({ bendToken: (plan) => ({ ...plan, resource: fault.audience }) }),
  "wrong-identity": (fault, app) => {
    const other = fault.identity ?? app.unattachedUserAssigned(`uami-other-${randomChars(6)}`);
    return { bendToken: (plan) => ({ ...plan, identity: other }) };
  },
  "wrong-tenant": (fault) => {
    const tenantId = fault.tenantId ?? randomUUID();
    return { bendToken: (plan) => ({ ...plan, tenantId }) };
  },
  // `expires_on` stays in the future, so MSAL caches the dead token and hands it out.
  expired: (fault) => ({
    bendToken: (plan) => {
      const lifetimeSeconds = Math.min(plan.lifetimeSeconds, 3600);
      return { ...plan, lifetimeSeconds, issuedAt: plan.issuedAt - (fault.secondsAgo ?? 3600) - lifetimeSeconds };
    },
  }),
  "not-yet-valid": (fault) => ({ bendToken: (plan) => ({ ...plan, issuedAt: plan.issuedAt + (fault.secondsAhead ?? 600) }) }),

  // Both shapes: the same minimal body, whatever the shape's usual one.
  "expires-in-only": () => ({
    successBody: ({ accessToken, identity, resource, lifetimeSeconds }) => ({
      access_token: accessToken,
      expires_in: String(lifetimeSeconds),
      resource,
      token_type: "Bearer",
      client_id: identity.clientId,
    }),
  }),
  "opaque-token": () => ({ accessToken: () => randomBytes(96).toString("base64") }),
};

/** Entra's refusal of the token for `request`: the identity asked for (else the system-assigned one) and the resource. */
function entraRefusal(code: number, request: RecordedIdentityRequest, app: EmulatedApp, facts: EntraErrorFacts = {}): EntraRefusal {
  const identity = app.identities.userAssigned.find((u) => u.clientId === request.clientId) ?? app.identities.systemAssigned;
  const answer = entraError(code, {
    clientId: request.clientId ?? identity?.clientId,
    clientName: identity?.name ?? app.name,
    resource: request.resource,
    resourceName: request.resource,
    tenantName: "Contoso",
    ...facts,
  });
  return { answer, description: entraErrorDescription(answer, randomUUID(), randomUUID(), entraTimestamp()) };
}

/** The effects of `fault`, with its random choices made now. */
export function faultEffects(fault: IdentityEndpointFault, app: EmulatedApp): FaultEffects {
  // The table is keyed by kind, so the entry fits the fault; the compiler cannot follow that through a union.
  const entry = FAULT_TABLE[fault.kind] as FaultEntry<IdentityEndpointFaultKind>;
  return entry(fault, app);
}
