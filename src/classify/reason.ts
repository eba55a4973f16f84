/**
 * The classifier's reasoning, shared by HTTP answers (response.ts) and AMQP/database errors (amqp.ts).
 *
 * Evidence is weighed in this order, strongest first:
 *  1. the token that was sent (claims): a wrong audience → H3, an expired or not-yet-valid token → H4, a token of
 *     another tenant than the resource's → H4, a caller other than the configured identity → H4 (identity mix-up).
 *     Claims are facts about the request itself, so they decide whatever the body says (a firewall rejection seen
 *     together with a wrong audience is reported as H3, with the firewall in the evidence: both must be fixed and
 *     the audience is the app's own bug).
 *  2. the service's answer: the first matching fingerprint, in this order: the service's specific fingerprints, the
 *     generic specific ones, then the catch-alls (`fallback`: the service's, then the generic one). So a specific
 *     meaning in the words (issuer, audience, expiry…) wins over a service's "the token was refused" code.
 *  3. the status alone: 403 (or 401 from a service that uses 401 for missing permission) → H2, else unknown.
 * Confidence says how direct the evidence is: claims → high, a fingerprint → its own confidence, a bare status →
 * medium on a known service, low on an unknown host.
 */
import { DIAGNOSIS_CODES } from "../diagnosis/codes.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { excerpt, redact } from "../util/redact.js";
import type { Diagnosis, DiagnosisCheck, DiagnosisCode, DiagnosisIdentity, DiagnosisRule } from "../diagnosis/types.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import { GENERIC_FINGERPRINTS, GUID_PATTERN, SERVICE_CATALOG } from "../catalog/services.js";
import { audienceBelongsTo, catalogFor, cloudOf, normalizeAudience, planeOf, scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import type { ErrorFingerprint, FailureProtocol, ServiceDefinition, ServiceDefinitionInput } from "../catalog/types.js";
import { clientIdOf, decodeTokenClaims, describeClaims, identityOfClaims, tokenFactsOfClaims, type TokenClaims } from "../jwt/claims.js";
import { requiredNotBefore, type ChallengeInfo } from "./challenge.js";
import type { BodyFacts, ServiceErrorInfo } from "./errorBody.js";
import type { HeaderBag } from "../util/headers.js";
import { ACCESS_MODEL_DEFINITIONS } from "../catalog/accessModels.js";
import { fillTemplate, placeholderValues, roleAdvice, safeExec } from "./roleAdvice.js";
import { REQUEST_ID_EVIDENCE_HEADERS } from "../catalog/services.js";
import {
  commandContextOf,
  doctorInContainerStep,
  hostCommandValues,
  restartRevisionStep,
  showIdentityStep,
  type CommandContext,
} from "../diagnosis/commands.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { checkedShellValue, refusedValuesEvidence, type RefusedShellValue, type ShellValueKind } from "../util/shellSafe.js";

/** What the caller knows beyond the failure itself. Every field is optional. */
export interface ClassifyContext {
  /** The access token that was sent (the JWT, with or without "Bearer "). Read, never printed. */
  token?: string;
  /** Extra hosts/services, as the `services` option. */
  services?: ServiceDefinitionInput[];
  /** The identity the app is configured to use: a different caller is an identity mix-up (H4). */
  expectedIdentity?: {
    /** Client (application) id of the expected identity. */
    clientId?: string;
    /** Object (principal) id of the expected identity. */
    objectId?: string;
    /** ARM resource id of the expected user-assigned identity. */
    resourceId?: string;
  };
  /** The time of the failure, ms since epoch; default `Date.now()`. */
  now?: number;
  /** HTTP method of the request, when the response does not say. */
  method?: string;
  /** Allow personal identifiers of a user token (upn, name) in evidence. Default false. */
  includePersonalClaims?: boolean;
  /** The Container App, to fill `az` commands instead of `$APP_NAME` / `$RG` / `$REVISION_NAME`. */
  app?: {
    /** The Container App's name: replaces `$APP_NAME`. */
    name?: string;
    /** Its resource group: replaces `$RG`. */
    resourceGroup?: string;
    /** The revision: replaces `$REVISION_NAME`. */
    revision?: string;
  };
  /** The endpoint, when the failure itself does not name it (AMQP errors): `sb://ns.servicebus.windows.net/queue`. */
  url?: string;
  /**
   * The host's environment (`readHostEnvironment()`): the next steps give its platform's commands. Absent: the
   * platform is unknown and every platform's command is given, each named.
   */
  environment?: HostEnvironment;
}

/** One failure, normalised: what the reasoning reads. */
export interface Observation {
  protocol: FailureProtocol;
  status?: number;
  host?: string;
  path?: string;
  method?: string;
  error: ServiceErrorInfo;
  headers: HeaderBag;
  challenge?: ChallengeInfo;
  /** Folded text: messages, challenge description, body head. What fingerprints match. */
  text: string;
  /** The service's main message, for the evidence excerpt. */
  message?: string;
  facts: BodyFacts;
  /** SDK error names seen ("ServiceBusError"). */
  errorNames: string[];
  /** true: a token was sent; false: certainly none; undefined: not known. */
  tokenSent?: boolean;
  /** The token, when known from the request rather than the context. */
  token?: string;
}

const SKEW_MS = 5 * 60 * 1000;
const MAX_LINE = 600;
/** A next step holds a sentence and its command (three commands for a Graph app role): cut only past this. */
const MAX_STEP = 1_500;

interface Resolution {
  service?: ServiceDefinition;
  via: "host" | "audience" | "challenge" | "fingerprint" | "error-name" | "none";
  /** Other services the host may belong to, when the evidence could not tell them apart. */
  alternatives: ServiceDefinition[];
  note?: string;
}

interface FingerprintMatch {
  fingerprint: ErrorFingerprint;
  groups: Record<string, string>;
  service?: ServiceDefinition;
}

interface AudienceFinding {
  verdict: "ok" | "wrong" | "other-cloud" | "unjudged";
  aud: string;
  expected?: string;
  owner?: ServiceDefinition;
}

interface Findings {
  audience?: AudienceFinding;
  expired?: { exp: number; agoMs: number };
  notYetValid?: { nbf: number; aheadMs: number };
  tenant?: { token: string; resource: string };
  identity?: { field: string; expected: string; actual: string; source: "token" | "service" };
  /** The configured identity, compared and found the same (the first field compared). */
  identityMatched?: { field: string; expected: string; actual: string; source: "token" | "service" };
  callerDiffers?: { tokenOid: string; serviceOid: string };
}

/** Reasons about one observation. Throws only on a bug; callers wrap it. */
export function reason(obs: Observation, context: ClassifyContext = {}, given?: ServiceCatalog): Diagnosis | undefined {
  const catalog = given ?? catalogFor(Array.isArray(context.services) ? context.services : undefined);
  const now = typeof context.now === "number" && Number.isFinite(context.now) ? context.now : Date.now();
  const token = typeof context.token === "string" && context.token.length > 0 ? context.token : obs.token;
  const claims = decodeTokenClaims(token);
  const tokenSent = token !== undefined ? true : obs.tokenSent;

  const resolution = resolveService(obs, catalog, claims);
  const match = matchFingerprint(obs, resolution, catalog);
  if (match?.service !== undefined && resolution.service === undefined) {
    resolution.service = match.service;
    resolution.via = "fingerprint";
  }
  const service = resolution.service;

  // Key Vault's SDK sends its first request without a token on purpose and expects a 401 challenge back. When no
  // token was sent (or we cannot tell) and the answer says nothing beyond "no token", that 401 is normal: no diagnosis.
  if (
    obs.protocol === "http" &&
    obs.status === 401 &&
    service?.challengeFirst === true &&
    tokenSent !== true &&
    obs.challenge?.error === undefined &&
    (match === undefined || match.fingerprint.normalChallenge === true)
  ) {
    return undefined;
  }

  const findings = tokenFindings(obs, claims, resolution, catalog, context, now);
  const builder = new Builder(obs, context, catalog, resolution, claims, match, findings, token, now);
  return builder.build();
}

function resolveService(obs: Observation, catalog: ServiceCatalog, claims: TokenClaims | undefined): Resolution {
  const aud = claims?.aud !== undefined ? normalizeAudience(claims.aud) : undefined;
  const challengeResource = obs.challenge?.resource !== undefined ? normalizeAudience(obs.challenge.resource) : undefined;
  const candidates = obs.host !== undefined ? catalog.servicesForHost(obs.host) : [];
  if (candidates.length === 1) return { service: candidates[0], via: "host", alternatives: [] };
  if (candidates.length > 1) {
    let narrowed = [...candidates];
    let by: string | undefined;
    const narrow = (label: string, keep: (s: ServiceDefinition) => boolean) => {
      if (narrowed.length <= 1) return;
      const kept = narrowed.filter(keep);
      if (kept.length >= 1 && kept.length < narrowed.length) {
        narrowed = kept;
        by = label;
      }
    };
    if (aud !== undefined) narrow("the token's audience", (s) => audienceBelongsTo(s, aud));
    if (challengeResource !== undefined) narrow("the challenge's resource", (s) => audienceBelongsTo(s, challengeResource));
    const paths = [obs.path, obs.facts.entityUrl].filter((p): p is string => typeof p === "string");
    narrow("the request path", (s) => (s.pathHints ?? []).some((hint) => paths.some((p) => safeExec(hint, p) !== null)));
    narrow("the SDK error name", (s) => (s.errorNames ?? []).some((name) => obs.errorNames.includes(name)));
    const service = narrowed[0];
    const names = candidates.map((s) => s.name).join(" and ");
    const note =
      narrowed.length > 1
        ? `host ${obs.host} is shared by ${names}; nothing told them apart, assumed ${service?.name}`
        : `host ${obs.host} is shared by ${names}; ${service?.name} chosen by ${by}`;
    return { service, via: "host", alternatives: narrowed.length > 1 ? narrowed.slice(1) : [], note };
  }
  // Unknown host: what the service says it expects (the challenge) outranks what the app asked for (the token).
  if (challengeResource !== undefined) {
    const byChallenge = catalog.serviceForAudience(challengeResource);
    if (byChallenge !== undefined) return { service: byChallenge, via: "challenge", alternatives: [] };
  }
  if (obs.errorNames.length > 0) {
    const byName = catalog.services.find((s) => (s.errorNames ?? []).some((name) => obs.errorNames.includes(name)));
    if (byName !== undefined) return { service: byName, via: "error-name", alternatives: [] };
  }
  if (aud !== undefined && !GUID_PATTERN.test(aud)) {
    const byAudience = catalog.serviceForAudience(aud);
    if (byAudience !== undefined) return { service: byAudience, via: "audience", alternatives: [] };
  }
  return { via: "none", alternatives: [] };
}

interface Matched {
  groups: Record<string, string>;
  /** The text the message pattern matched, when it has one. */
  text?: string;
}

function fingerprintMatches(fp: ErrorFingerprint, obs: Observation): Matched | undefined {
  if (fp === null || typeof fp !== "object") return undefined;
  const protocols = Array.isArray(fp.protocols) ? fp.protocols : ["http"];
  if (!protocols.includes(obs.protocol)) return undefined;
  if (fp.status !== undefined) {
    const statuses = Array.isArray(fp.status) ? fp.status : [fp.status];
    if (obs.status === undefined || !statuses.includes(obs.status)) return undefined;
  }
  if (fp.errorCode !== undefined) {
    const wanted = (Array.isArray(fp.errorCode) ? fp.errorCode : [fp.errorCode]).map((c) => String(c).toLowerCase());
    if (!obs.error.codes.some((code) => wanted.includes(code.toLowerCase()))) return undefined;
  }
  if (fp.substatus !== undefined) {
    const wanted = Array.isArray(fp.substatus) ? fp.substatus.map(String) : [String(fp.substatus)];
    if (obs.error.substatus === undefined || !wanted.includes(obs.error.substatus)) return undefined;
  }
  if (fp.challengeError !== undefined && obs.challenge?.error?.toLowerCase() !== String(fp.challengeError).toLowerCase()) return undefined;
  const matched: Matched = { groups: {} };
  if (fp.message !== undefined) {
    if (!(fp.message instanceof RegExp)) return undefined;
    const found = safeExec(fp.message, obs.text);
    if (found === null) return undefined;
    matched.text = found[0];
    for (const [key, value] of Object.entries(found.groups ?? {})) if (typeof value === "string") matched.groups[key] = value;
  }
  return matched;
}

function isFallback(fp: ErrorFingerprint): boolean {
  return fp !== null && typeof fp === "object" && fp.fallback === true;
}

/** The first fingerprint of `fallback` kind (catch-alls, or specific ones) that matches. */
function firstMatch(fingerprints: readonly ErrorFingerprint[], obs: Observation, fallback: boolean): FingerprintMatch | undefined {
  for (const fingerprint of fingerprints) {
    if (isFallback(fingerprint) !== fallback) continue;
    const matched = fingerprintMatches(fingerprint, obs);
    if (matched !== undefined) return { fingerprint, groups: matched.groups };
  }
  return undefined;
}

/** Whether some generic fingerprint's message also matches this text: then it says nothing about which service spoke. */
function genericWording(text: string): boolean {
  return GENERIC_FINGERPRINTS.some((fp) => fp.message !== undefined && safeExec(fp.message, text) !== null);
}

/** Specific before catch-all: the service's specific, the generic specific, the service's fallbacks, the generic fallbacks. */
function orderedMatch(own: readonly ErrorFingerprint[], obs: Observation): FingerprintMatch | undefined {
  return (
    firstMatch(own, obs, false) ?? firstMatch(GENERIC_FINGERPRINTS, obs, false) ?? firstMatch(own, obs, true) ?? firstMatch(GENERIC_FINGERPRINTS, obs, true)
  );
}

function matchFingerprint(obs: Observation, resolution: Resolution, catalog: ServiceCatalog): FingerprintMatch | undefined {
  const service = resolution.service;
  if (service !== undefined) return orderedMatch(service.fingerprints, obs);
  // No host to go by: a service's own, distinctive words ("AKV10022", "<token-identified principal>", not "invalid
  // audience") name the service; then that service's fingerprints are matched in their order.
  for (const candidate of catalog.services) {
    for (const fingerprint of candidate.fingerprints) {
      if (fingerprint.message === undefined) continue;
      const matched = fingerprintMatches(fingerprint, obs);
      if (matched?.text === undefined || genericWording(matched.text)) continue;
      const inService = orderedMatch(candidate.fingerprints, obs);
      if (inService !== undefined) return { ...inService, service: candidate };
    }
  }
  return orderedMatch([], obs);
}

function expectedScope(catalog: ServiceCatalog, service: ServiceDefinition | undefined, host: string | undefined): string | undefined {
  if (service === undefined) return undefined;
  return host !== undefined && catalog.servicesForHost(host).includes(service) ? catalog.scopeForHost(host, service) : service.scope;
}

function tokenFindings(
  obs: Observation,
  claims: TokenClaims | undefined,
  resolution: Resolution,
  catalog: ServiceCatalog,
  context: ClassifyContext,
  now: number,
): Findings {
  const findings: Findings = {};
  const facts = obs.facts;
  if (claims !== undefined) {
    if (claims.aud !== undefined) findings.audience = judgeAudience(claims.aud, obs, resolution, catalog);
    if (claims.exp !== undefined && claims.exp * 1000 <= now) findings.expired = { exp: claims.exp, agoMs: now - claims.exp * 1000 };
    if (claims.nbf !== undefined && claims.nbf * 1000 > now + SKEW_MS) findings.notYetValid = { nbf: claims.nbf, aheadMs: claims.nbf * 1000 - now };
    const resourceTenant = obs.challenge?.tenantId ?? facts.resourceTenantId;
    if (claims.tid !== undefined && resourceTenant !== undefined && GUID_PATTERN.test(claims.tid) && GUID_PATTERN.test(resourceTenant)) {
      if (claims.tid.toLowerCase() !== resourceTenant.toLowerCase())
        findings.tenant = { token: claims.tid.toLowerCase(), resource: resourceTenant.toLowerCase() };
    }
    if (claims.oid !== undefined && facts.callerObjectId !== undefined && claims.oid.toLowerCase() !== facts.callerObjectId) {
      findings.callerDiffers = { tokenOid: claims.oid.toLowerCase(), serviceOid: facts.callerObjectId };
    }
  }
  const expected = context.expectedIdentity;
  if (expected !== null && typeof expected === "object") {
    const compare = (field: string, wanted: unknown, fromToken: string | undefined, fromService: string | undefined) => {
      if (findings.identity !== undefined || typeof wanted !== "string" || wanted.length === 0) return;
      const want = wanted.toLowerCase();
      if (fromToken !== undefined && fromToken.toLowerCase() !== want) findings.identity = { field, expected: wanted, actual: fromToken, source: "token" };
      else if (fromToken === undefined && fromService !== undefined && fromService.toLowerCase() !== want) {
        findings.identity = { field, expected: wanted, actual: fromService, source: "service" };
      } else if (findings.identityMatched === undefined && (fromToken ?? fromService) !== undefined) {
        findings.identityMatched = {
          field,
          expected: wanted,
          actual: (fromToken ?? fromService) as string,
          source: fromToken !== undefined ? "token" : "service",
        };
      }
    };
    compare("clientId", expected.clientId, claims !== undefined ? clientIdOf(claims) : undefined, facts.callerAppId);
    compare("objectId", expected.objectId, claims?.oid, facts.callerObjectId);
    compare("resourceId", expected.resourceId, claims?.xms_mirid, facts.callerMirid);
  }
  return findings;
}

function judgeAudience(aud: string, obs: Observation, resolution: Resolution, catalog: ServiceCatalog): AudienceFinding {
  const normalized = normalizeAudience(aud);
  const owner = catalog.serviceForAudience(normalized);
  // A service inferred from the token's own audience cannot judge that audience; other resolutions can.
  const service = resolution.via === "host" || resolution.via === "challenge" || resolution.via === "error-name" ? resolution.service : undefined;
  const challengeResource = obs.challenge?.resource !== undefined ? normalizeAudience(obs.challenge.resource) : undefined;
  if (challengeResource !== undefined && challengeResource.length > 0) {
    if (normalized === challengeResource || (service !== undefined && audienceBelongsTo(service, normalized))) return { verdict: "ok", aud };
    if (GUID_PATTERN.test(normalized) && owner === undefined) return { verdict: "unjudged", aud };
    const fromService = service !== undefined ? expectedScope(catalog, service, obs.host) : undefined;
    return { verdict: "wrong", aud, expected: fromService ?? `${challengeResource}/.default`, ...(owner ? { owner } : {}) };
  }
  if (service === undefined) return { verdict: "unjudged", aud };
  const scope = expectedScope(catalog, service, obs.host);
  if (audienceBelongsTo(service, normalized)) {
    // Accepted by the service in some cloud: is it this host's cloud?
    const expectedResource = scope !== undefined ? normalizeAudience(scopeToResource(scope)) : undefined;
    if (
      obs.host !== undefined &&
      expectedResource !== undefined &&
      normalized !== expectedResource &&
      !GUID_PATTERN.test(normalized) &&
      service.audiences.includes(normalized) &&
      cloudOf(expectedResource) === cloudOf(obs.host) &&
      cloudOf(normalized) !== cloudOf(obs.host)
    ) {
      return { verdict: "other-cloud", aud, ...(scope ? { expected: scope } : {}), owner: service };
    }
    return { verdict: "ok", aud };
  }
  if (GUID_PATTERN.test(normalized) && owner === undefined) return { verdict: "unjudged", aud };
  return { verdict: "wrong", aud, ...(scope ? { expected: scope } : {}), ...(owner ? { owner } : {}) };
}

type Confidence = Diagnosis["confidence"];
const LOWER: Record<Confidence, Confidence> = { high: "medium", medium: "low", low: "low" };

/** Assembles the Diagnosis: picks the conclusion, then writes summary, evidence and next steps. */
class Builder {
  private readonly evidence: string[] = [];
  private readonly steps: string[] = [];
  /** The structured twins of the check lines in `evidence`. */
  private readonly checks: DiagnosisCheck[] = [];
  /** The rule that decided: set by the conclusion. */
  private rule: DiagnosisRule | undefined;
  private readonly service: ServiceDefinition | undefined;
  private readonly head: string;
  private readonly values: Record<string, string | undefined>;
  /** Values kept out of the commands (not valid for their kind): named in the evidence (see util/shellSafe.ts). */
  private readonly refused: RefusedShellValue[] = [];

  constructor(
    private readonly obs: Observation,
    private readonly context: ClassifyContext,
    private readonly catalog: ServiceCatalog,
    private readonly resolution: Resolution,
    private readonly claims: TokenClaims | undefined,
    private readonly match: FingerprintMatch | undefined,
    private readonly findings: Findings,
    private readonly token: string | undefined,
    private readonly now: number,
  ) {
    this.service = resolution.service;
    const protocol = obs.protocol.toUpperCase();
    const label =
      obs.protocol === "http" ? String(obs.status ?? "HTTP failure") : obs.status !== undefined ? `${obs.status} (${protocol})` : `${protocol} login failure`;
    this.head = `${label} from ${obs.host ?? "unknown host"}`;
    this.values = {
      ...placeholderValues(
        {
          host: obs.host,
          principalId: this.principalId(),
          clientId: this.clientId(),
          identityName: this.identityName(),
          tenantId: claims?.tid,
          app: context.app,
        },
        this.refused,
      ),
      revision: this.checked("revision", context.app?.revision, "resourceName") ?? '"$REVISION_NAME"',
      ...this.checkedGroups(match?.groups),
    };
    // A caller that names the Container App (`app`) and no environment says the platform is Container Apps.
    this.commands = commandContextOf(context.environment, {
      ...(context.environment === undefined && context.app !== undefined ? { platformKey: "container-apps" as const } : {}),
      ...(context.app?.name !== undefined ? { appName: context.app.name } : {}),
      ...(context.app?.revision !== undefined ? { revision: context.app.revision } : {}),
      ...(context.app?.resourceGroup !== undefined ? { resourceGroup: context.app.resourceGroup } : {}),
    });
    // The host's commands (the platform's, or each candidate's): `{showIdentityCommand}` etc. in catalog templates.
    Object.assign(this.values, hostCommandValues(this.commands));
    // The instance names come from the environment only (the caller's `app` values are checked above).
    this.refused.push(...(this.commands.refused ?? []).filter((entry) => ["instance", "pod", "namespace"].includes(entry.name)));
  }

  /** The command context of the host (platform, app, instance), values validated; refused ones stay placeholders. */
  private readonly commands: CommandContext;

  private principalId(): string | undefined {
    return this.claims?.oid?.toLowerCase() ?? this.obs.facts.callerObjectId ?? this.context.expectedIdentity?.objectId;
  }

  private clientId(): string | undefined {
    return (this.claims ? clientIdOf(this.claims) : undefined) ?? this.obs.facts.callerAppId ?? this.context.expectedIdentity?.clientId;
  }

  private identityName(): string | undefined {
    const mirid = this.claims?.xms_mirid ?? this.obs.facts.callerMirid;
    const last = mirid
      ?.split("/")
      .filter((p) => p.length > 0)
      .pop();
    return last ?? this.context.app?.name;
  }

  build(): Diagnosis | undefined {
    this.collectEvidence();
    const { findings, match } = this;
    const fp = match?.fingerprint;
    const audience = findings.audience;
    if (audience !== undefined && (audience.verdict === "wrong" || audience.verdict === "other-cloud")) return this.wrongAudience(audience);
    if (findings.expired !== undefined) return this.expired(findings.expired);
    if (findings.notYetValid !== undefined) return this.notYetValid(findings.notYetValid);
    if (findings.tenant !== undefined) return this.wrongTenant(findings.tenant);
    if (findings.identity !== undefined) return this.identityMixup(findings.identity);
    if (this.obs.challenge?.error?.toLowerCase() === "insufficient_claims") return this.claimsChallenge();
    if (findings.callerDiffers !== undefined && fp?.code !== "NotAnIdentityProblem") return this.callerDiffers(findings.callerDiffers);
    if (fp !== undefined) return this.fromFingerprint(fp);
    return this.fromStatus();
  }

  // ── Conclusions ──────────────────────────────────────────────────────────────────────────────────────────────

  private wrongAudience(finding: AudienceFinding): Diagnosis {
    const displayName = this.service?.displayName ?? "the service";
    const expected = finding.expected;
    const otherCloud = finding.verdict === "other-cloud";
    const reason = otherCloud
      ? `token audience "${finding.aud}" is ${displayName}'s audience in another cloud (expected "${expected}")`
      : `token audience "${finding.aud}" is wrong for ${displayName}${expected ? ` (expected "${expected}")` : ""}`;
    this.evidence.push(`audience check: ${reason}`);
    this.checks.push({ kind: CHECK_KINDS.audience, ...(expected ? { expected } : {}), actual: finding.aud, verdict: "fail", confirmedBy: "token" });
    this.rule = ruleOf(RULE_SOURCES.claims, otherCloud ? "other-cloud-audience" : "wrong-audience");
    if (this.match && this.match.fingerprint.code !== "WrongAudience")
      this.evidence.push(`the service's answer (${this.match.fingerprint.id}) is explained by the wrong audience or comes after it`);
    if (expected) {
      this.steps.push(
        `Request the token for "${expected}"${otherCloud ? ` (this host is in the ${cloudOf(this.obs.host ?? "")} cloud)` : ""}: credential.getToken("${expected}"); scopeForUrl("https://${this.obs.host ?? "<host>"}/") returns it.`,
      );
    } else {
      this.steps.push(
        `Request the token for the audience the service names in its challenge (resource="${this.obs.challenge?.resource ?? "?"}") with "/.default" appended.`,
      );
    }
    if (finding.owner !== undefined && finding.owner !== this.service && !otherCloud) {
      this.steps.push(
        `The token's audience belongs to ${finding.owner.displayName}: a token, scope or client options meant for ${finding.owner.displayName} are being reused for ${this.obs.host ?? "this request"} (look for a shared token cache, a fixed Authorization header, or a hard-coded scope).`,
      );
    }
    this.doctorStep();
    const confidence: Confidence = this.resolution.via === "host" || this.obs.challenge?.resource !== undefined ? "high" : "medium";
    return this.finish("WrongAudience", confidence, reason);
  }

  private expired(expired: { exp: number; agoMs: number }): Diagnosis {
    const reason = `the token sent had expired at ${iso(expired.exp)} (${duration(expired.agoMs)} before the request)`;
    this.evidence.push(`lifetime check: ${reason}`);
    this.checks.push({
      kind: CHECK_KINDS.lifetime,
      expected: `valid at ${isoMs(this.now)}`,
      actual: `expired at ${iso(expired.exp)}`,
      verdict: "fail",
      confirmedBy: "token",
    });
    this.rule = ruleOf(RULE_SOURCES.claims, "expired");
    this.staleTokenSteps(true);
    return this.finish("StaleTokenOrIdentityMixup", expired.agoMs > SKEW_MS ? "high" : "medium", reason);
  }

  private notYetValid(finding: { nbf: number; aheadMs: number }): Diagnosis {
    const reason = `the token sent is not valid before ${iso(finding.nbf)} (${duration(finding.aheadMs)} after the request: a clock is off)`;
    this.evidence.push(`lifetime check: ${reason}`);
    this.checks.push({
      kind: CHECK_KINDS.lifetime,
      expected: `valid at ${isoMs(this.now)}`,
      actual: `not valid before ${iso(finding.nbf)}`,
      verdict: "fail",
      confirmedBy: "token",
    });
    this.rule = ruleOf(RULE_SOURCES.claims, "not-yet-valid");
    this.steps.push(
      "Compare the container's clock with the service's Date header (date -u inside the container); a clock ahead of real time mints, or judges, tokens wrongly.",
    );
    this.staleTokenSteps(false);
    return this.finish("StaleTokenOrIdentityMixup", "high", reason);
  }

  private wrongTenant(tenant: { token: string; resource: string }): Diagnosis {
    const reason = `the token is from tenant ${tenant.token} but ${this.obs.host ?? "the resource"} belongs to tenant ${tenant.resource}`;
    this.evidence.push(`tenant check: ${reason}`);
    this.checks.push({ kind: CHECK_KINDS.tenant, expected: tenant.resource, actual: tenant.token, verdict: "fail", confirmedBy: "token" });
    this.rule = ruleOf(RULE_SOURCES.claims, "wrong-tenant");
    this.steps.push(
      `A managed identity only gets tokens from its own tenant (${tenant.token}). Use a resource in that tenant, or an app registration in tenant ${tenant.resource} that trusts this identity through a federated identity credential.`,
    );
    this.steps.push(showIdentityStep(this.commands, "If several identities or credentials are configured, check which one this client uses"));
    return this.finish("StaleTokenOrIdentityMixup", "high", reason);
  }

  private identityMixup(identity: { field: string; expected: string; actual: string; source: "token" | "service" }): Diagnosis {
    const seen = identity.source === "token" ? "the token sent" : "the service";
    const reason = `request made as ${identity.field} ${identity.actual} (${seen}) but the app is configured for ${identity.field} ${identity.expected}`;
    this.evidence.push(`identity check: ${reason}`);
    this.checks.push({
      kind: CHECK_KINDS.identity,
      expected: `${identity.field}=${identity.expected}`,
      actual: `${identity.field}=${identity.actual}`,
      verdict: "fail",
      confirmedBy: identity.source === "token" ? "token" : "answer",
    });
    this.rule = ruleOf(RULE_SOURCES.claims, "identity-mixup");
    const expected = this.context.expectedIdentity ?? {};
    if (typeof expected.clientId === "string") {
      this.steps.push(
        `Select the configured identity explicitly: new DiagnosticCredential("${expected.clientId}") (a standalone ManagedIdentityCredential does not read AZURE_CLIENT_ID; without a client id it uses the system-assigned identity).`,
      );
    } else {
      this.steps.push(
        "Select the configured identity explicitly (pass its client id, resource id or object id to the credential); without one the system-assigned identity is used.",
      );
    }
    this.steps.push(showIdentityStep(this.commands, "List the identities attached to the app"));
    this.steps.push(
      "If several clients or credentials are built, make sure they all use the same credential instance; a token cached for one identity is not valid as another.",
    );
    this.staleTokenSteps(false);
    return this.finish("StaleTokenOrIdentityMixup", "high", reason);
  }

  private callerDiffers(differs: { tokenOid: string; serviceOid: string }): Diagnosis {
    const reason = `the service saw principal ${differs.serviceOid} but the token given for diagnosis is principal ${differs.tokenOid}`;
    this.evidence.push(`identity check: ${reason}`);
    this.checks.push({
      kind: CHECK_KINDS.identity,
      expected: `objectId=${differs.tokenOid}`,
      actual: `objectId=${differs.serviceOid}`,
      verdict: "fail",
      confirmedBy: "answer",
    });
    this.rule = ruleOf(RULE_SOURCES.claims, "caller-differs");
    this.steps.push("Several identities are in use: make every client use the same credential instance, and check which identity each client is built with.");
    this.steps.push(showIdentityStep(this.commands, "List the identities attached to the app"));
    return this.finish("StaleTokenOrIdentityMixup", "medium", reason);
  }

  /**
   * A CAE claims challenge (`error="insufficient_claims"`). Decision: H4, not unknown. The token is well formed and
   * was accepted once; the service has since revoked it (identity disabled or deleted, credentials changed, a
   * location policy) and wants a newer token. That is a stale token by definition. A managed identity cannot
   * answer: the pipeline retries with `claims`, ManagedIdentityCredential ignores them and returns the same cached
   * token, so the failure repeats until the token expires or the replica restarts. High confidence when the
   * challenge's required `nbf` is after the token's `iat` (the token provably predates the revocation).
   */
  private claimsChallenge(): Diagnosis {
    const required = requiredNotBefore(this.obs.challenge?.claimsDecoded);
    let confidence: Confidence = "medium";
    // The catalog's claims-challenge fingerprint when it is the one that matched; else the challenge itself decided.
    const fp = this.match?.fingerprint;
    this.rule =
      fp !== undefined && String(fp.challengeError).toLowerCase() === "insufficient_claims"
        ? fingerprintRule(fp, this.service)
        : ruleOf(RULE_SOURCES.challenge, "insufficient-claims");
    const check: DiagnosisCheck = { kind: CHECK_KINDS.claimsChallenge, verdict: "unknown", confirmedBy: "answer" };
    if (required !== undefined) {
      check.expected = `issued after ${iso(required)}`;
      this.evidence.push(`claims challenge requires a token issued after ${iso(required)}`);
      if (this.claims?.iat !== undefined) {
        check.actual = `issued at ${iso(this.claims.iat)}`;
        check.confirmedBy = "token";
        if (this.claims.iat < required) {
          this.evidence.push(`the token sent was issued at ${iso(this.claims.iat)}, before that: it was revoked after issue`);
          confidence = "high";
          check.verdict = "fail";
        } else {
          this.evidence.push(`the token sent was issued at ${iso(this.claims.iat)}, after that`);
          check.verdict = "pass";
        }
      }
    }
    this.checks.push(check);
    const until = this.claims?.exp !== undefined ? ` (the cached token expires at ${iso(this.claims.exp)})` : "";
    this.steps.push(
      `A managed identity cannot answer a claims challenge: its token cannot be refreshed on demand, so the call keeps failing until the cached token expires${until} or the instance restarts.`,
    );
    this.steps.push(restartRevisionStep(this.commands, "Restart to drop the cached token"));
    this.steps.push(
      "Find out why the token was revoked: the identity's service-principal sign-in logs in Microsoft Entra ID (disabled or deleted identity, changed credentials, a location or network policy).",
    );
    return this.finish(
      "StaleTokenOrIdentityMixup",
      confidence,
      "claims challenge (CAE insufficient_claims): the service revoked the token and wants a newer one, which a managed identity cannot supply on demand",
    );
  }

  private fromFingerprint(fp: ErrorFingerprint): Diagnosis {
    const code = fp.code;
    let confidence: Confidence = fp.confidence;
    this.rule = fingerprintRule(fp, this.service);
    // Role advice depends on knowing the service for sure; a service inferred without its host caps a H2 at medium.
    if (code === "RoleMissingOrWrongScope" && (this.resolution.via === "fingerprint" || this.resolution.via === "audience")) {
      if (confidence === "high") confidence = "medium";
    }
    for (const template of fp.nextSteps ?? []) this.steps.push(fillTemplate(template, this.values));
    const audience = this.findings.audience;
    const tokenLooksRight = audience?.verdict === "ok" && this.findings.expired === undefined;
    if (code === "WrongAudience" && audience?.verdict === "ok") {
      this.evidence.push("the token given for diagnosis has the right audience: the request may have carried another token");
      confidence = LOWER[confidence];
    } else if (code === "WrongAudience" && audience === undefined) {
      // No token read: the service's answer is the audience check.
      const scope = expectedScope(this.catalog, this.service, this.obs.host);
      this.checks.push({ kind: CHECK_KINDS.audience, ...(scope ? { expected: scope } : {}), verdict: "fail", confirmedBy: "answer" });
    }
    if (code === "RoleMissingOrWrongScope") {
      if (fp.skipRoleAdvice === true || this.service === undefined) {
        // The fix is not a role (an access policy, a control-plane operation): no role check; the rule says what.
        if (this.service === undefined) this.roleCheck(undefined);
        const propagation = this.service?.propagation ?? "up to ~10 minutes";
        this.steps.push(`Propagation delay: ${propagation}. Retry after that before concluding the change did not work.`);
        return this.finish(code, confidence, `${fp.meaning}${this.codeTag()}`);
      }
      return this.missingRole(confidence, fp.meaning);
    }
    if (code === "WrongAudience") {
      const scope = expectedScope(this.catalog, this.service, this.obs.host);
      if (scope)
        this.steps.push(`Request the token for "${scope}": credential.getToken("${scope}"); scopeForUrl("https://${this.obs.host ?? "<host>"}/") returns it.`);
      if (this.claims === undefined)
        this.steps.push(
          "Pass the token that was sent (context.token, or use diagnosticPolicy) to confirm: the diagnosis then compares its audience and expiry with what the service expects.",
        );
      this.doctorStep();
    } else if (code === "StaleTokenOrIdentityMixup") {
      if (tokenLooksRight)
        this.evidence.push("the token given for diagnosis is unexpired and has the right audience: the request may have carried another (older) token");
      this.staleTokenSteps(true);
    } else if (code === "NotAnIdentityProblem") {
      this.steps.push("Not an identity problem: the identity and its roles need no change for this failure.");
    } else if (code === "Unknown") {
      this.unknownSteps();
    }
    const tag = code === "NotAnIdentityProblem" ? ` (not an identity problem)${this.codeTag()}` : this.codeTag();
    return this.finish(code, confidence, `${fp.meaning}${tag}`);
  }

  private fromStatus(): Diagnosis {
    const service = this.service;
    const audienceOk = this.findings.audience?.verdict === "ok";
    if (this.obs.status === 403 || (this.obs.status === 401 && service?.unauthorizedMeansForbidden === true)) {
      this.rule = ruleOf(
        RULE_SOURCES.status,
        service === undefined ? "forbidden-unknown-host" : this.obs.status === 401 ? "unauthorized-means-forbidden" : "forbidden",
      );
      if (service === undefined) {
        this.roleCheck(undefined);
        this.evidence.push("unknown host: the status alone suggests an authorization failure");
        this.steps.push(
          "Grant the identity the service's least-privilege data role at the exact resource scope (not a control-plane role such as Owner or Contributor), then wait for propagation (up to ~10 minutes).",
        );
        this.steps.push("Tell the classifier about this host (services: [{ name, hosts: [...] }]) for a precise role and command.");
        return this.finish("RoleMissingOrWrongScope", "low", `authenticated but not authorized (no more detail from an unknown service)${this.codeTag()}`);
      }
      const confidence: Confidence = this.claims === undefined ? (this.obs.status === 403 ? "medium" : "low") : audienceOk ? "medium" : "low";
      const meaning =
        this.obs.status === 401
          ? `${service.displayName} answers 401 when the caller lacks permission`
          : "the service saw the identity and refused the operation";
      return this.missingRole(confidence, meaning);
    }
    // A 401 from a service that means "bad token" by it, and nothing told which part of the token.
    this.rule = ruleOf(RULE_SOURCES.status, "unexplained");
    if (audienceOk && this.findings.expired === undefined) {
      this.evidence.push("the token sent has the right audience and is unexpired: the service refused it for another reason (tenant, signature, revocation)");
    }
    this.unknownSteps();
    const confidence: Confidence = this.claims !== undefined && audienceOk ? "medium" : "low";
    return this.finish("Unknown", service === undefined ? "low" : confidence, `the service refused the token without saying why${this.codeTag()}`);
  }

  private missingRole(confidence: Confidence, meaning: string): Diagnosis {
    const service = this.service as ServiceDefinition;
    const principalId = this.principalId();
    const advice = roleAdvice({
      service,
      alternatives: this.resolution.alternatives,
      facts: this.obs.facts,
      text: this.obs.text,
      ...(this.obs.host !== undefined ? { host: this.obs.host } : {}),
      ...(this.obs.path !== undefined ? { path: this.obs.path } : {}),
      ...(this.obs.method !== undefined ? { method: this.obs.method } : {}),
      ...(principalId !== undefined ? { principalId } : {}),
      ...(this.clientId() !== undefined ? { clientId: this.clientId() as string } : {}),
      ...(this.identityName() !== undefined ? { identityName: this.identityName() as string } : {}),
      ...(this.context.app !== undefined ? { app: this.context.app } : {}),
      hostCommands: hostCommandValues(this.commands),
    });
    this.steps.push(...advice.steps);
    this.refused.push(...(advice.scope.refused ?? []));
    if (this.obs.facts.noAssignment === true) this.evidence.push("the service found no role assignment for the caller on this resource");
    // The scope only when it is a literal one: not a command that looks it up, not a placeholder.
    const literalScope = ACCESS_MODEL_DEFINITIONS[service.accessModel].scoped && /^\/[^$<>]*$/.test(advice.scope.scope) ? ` at ${advice.scope.scope}` : "";
    this.roleCheck(advice.role !== undefined ? `${advice.role.role}${literalScope}` : undefined);
    if (advice.role !== undefined) {
      const model = ACCESS_MODEL_DEFINITIONS[service.accessModel];
      const at = model.scoped ? ` at ${advice.scope.scope}` : "";
      this.evidence.push(`least-privilege ${model.grantNoun} for this operation: "${advice.role.role}"${at}`);
      if (advice.computed !== undefined) this.evidence.push(`why "${advice.role.role}": ${advice.computed.why}`);
    }
    if (advice.linked !== undefined) this.evidence.push(`linked scope: the action \`${advice.linked.action}\` was denied on ${advice.linked.scope}`);
    if (this.claims?.roles !== undefined && this.claims.roles.length > 0) this.evidence.push(`token roles claim: ${this.claims.roles.slice(0, 10).join(", ")}`);
    const who = principalId !== undefined ? `identity ${principalId}` : "the identity";
    const role = advice.role !== undefined ? `"${advice.role.role}"` : planeOf(service) === "control" ? "a role" : "a data-plane role";
    const where = ACCESS_MODEL_DEFINITIONS[service.accessModel].scoped ? ` on ${advice.scope.label}` : "";
    const summary = `${who} lacks ${role}${where}: ${meaning}${this.codeTag()}`;
    return this.finish("RoleMissingOrWrongScope", confidence, summary);
  }

  /** The role check of a H2: the service refused; what it or the token says the caller has. */
  private roleCheck(expected: string | undefined): void {
    const roles = this.claims?.roles;
    const actual =
      this.obs.facts.noAssignment === true
        ? "no role assignment"
        : roles !== undefined && roles.length > 0
          ? `roles: ${roles.slice(0, 10).join(", ")}`
          : undefined;
    this.checks.push({
      kind: CHECK_KINDS.role,
      ...(expected !== undefined ? { expected } : {}),
      ...(actual !== undefined ? { actual } : {}),
      verdict: "fail",
      confirmedBy: "answer",
    });
  }

  // ── Shared steps ─────────────────────────────────────────────────────────────────────────────────────────────

  private staleTokenSteps(includeCache: boolean): void {
    if (includeCache) {
      this.steps.push(
        "Do not keep a token string or a fixed Authorization header: let each SDK client call getToken per request (it refreshes 5 minutes before expiry); a token held across an identity or role change is stale.",
      );
    }
    this.steps.push(restartRevisionStep(this.commands, "If only some instances fail, restart them to drop the stale token"));
  }

  private doctorStep(): void {
    this.steps.push(doctorInContainerStep(this.commands, undefined, this.obs.host !== undefined ? `https://${this.obs.host}/` : undefined));
  }

  private unknownSteps(): void {
    if (this.claims === undefined) {
      this.steps.push(
        "Pass the token that was sent (context.token, or use diagnosticPolicy) so the diagnosis can compare its audience, expiry and tenant with what the service expects.",
      );
    }
    const scope = expectedScope(this.catalog, this.service, this.obs.host);
    if (scope) this.steps.push(`The token must be requested for "${scope}" and be unexpired when sent.`);
    this.doctorStep();
  }

  private codeTag(): string {
    const code = this.errorCode();
    return code !== undefined ? ` [${code}]` : "";
  }

  private errorCode(): string | undefined {
    return this.obs.error.codes.find((c) => !/^\d+$/.test(c));
  }

  // ── Evidence ─────────────────────────────────────────────────────────────────────────────────────────────────

  private collectEvidence(): void {
    const { obs } = this;
    const what = obs.method !== undefined || obs.path !== undefined ? ` (${[obs.method, obs.path].filter(Boolean).join(" ")})` : "";
    this.evidence.push(
      `${obs.protocol === "http" ? "HTTP" : obs.protocol.toUpperCase()} ${obs.status ?? "failure"} from ${obs.host ?? "an unknown host"}${what}`,
    );
    const service = this.service;
    if (service !== undefined) {
      const via: Record<Resolution["via"], string> = {
        host: "its host",
        audience: "the token's audience (host not in the catalog)",
        challenge: "the challenge's resource (host not in the catalog)",
        fingerprint: "its error text (host not in the catalog)",
        "error-name": "the SDK error name",
        none: "",
      };
      this.evidence.push(`service: ${service.displayName} (${service.name}), recognised by ${via[this.resolution.via]}`);
    } else {
      this.evidence.push("service: not in the catalog (classified from generic evidence)");
    }
    if (this.resolution.note) this.evidence.push(this.resolution.note);
    if (obs.error.codes.length > 0) {
      this.evidence.push(`service error code: ${obs.error.codes.slice(0, 4).join(" / ")}`);
      const keyedOn = this.match?.fingerprint.errorCode;
      const expected = keyedOn === undefined ? undefined : Array.isArray(keyedOn) ? keyedOn.join(" | ") : String(keyedOn);
      this.checks.push({
        kind: CHECK_KINDS.serviceCode,
        ...(expected !== undefined ? { expected } : {}),
        actual: obs.error.codes.slice(0, 4).join(" / "),
        verdict: this.match !== undefined ? "fail" : "unknown",
        confirmedBy: "answer",
      });
    }
    if (obs.error.substatus !== undefined) this.evidence.push(`x-ms-substatus: ${obs.error.substatus}`);
    const message = obs.message ?? obs.error.messages[0];
    if (message) this.evidence.push(`service message: ${excerpt(message, 300)}`);
    if (this.match) this.evidence.push(`recognised answer ${this.match.fingerprint.id}: ${this.match.fingerprint.meaning}`);
    const challenge = obs.challenge;
    if (challenge !== undefined) {
      const parts: string[] = [];
      const add = (key: string, value: string | undefined) => {
        // Redacted before it is cut: a cut token or secret is no longer recognised.
        if (value !== undefined) parts.push(`${key}=${JSON.stringify(excerpt(value, 200))}`);
      };
      add("error", challenge.error);
      add("error_description", challenge.errorDescription);
      add("resource", challenge.resource);
      add("authorization", challenge.authorizationUri);
      add("scope", challenge.scope);
      add("service", challenge.service);
      if (challenge.claims !== undefined) parts.push("claims=<claims challenge>");
      this.evidence.push(`WWW-Authenticate (${challenge.schemes.join(", ") || "no scheme"}): ${parts.join(", ") || "no parameters"}`);
    }
    if (this.claims !== undefined) {
      this.evidence.push(describeClaims(this.claims, { includePersonal: this.context.includePersonalClaims === true }));
      const audience = this.findings.audience;
      if (audience?.verdict === "ok") {
        this.evidence.push(`audience check: "${audience.aud}" is accepted by ${service?.displayName ?? "the service"}`);
        const scope = expectedScope(this.catalog, service, obs.host);
        this.checks.push({ kind: CHECK_KINDS.audience, ...(scope ? { expected: scope } : {}), actual: audience.aud, verdict: "pass", confirmedBy: "token" });
      }
      if (audience?.verdict === "unjudged") {
        this.evidence.push(`audience check: "${audience.aud}" could not be compared (no known expected audience)`);
        this.checks.push({ kind: CHECK_KINDS.audience, actual: audience.aud, verdict: "unknown", confirmedBy: "token" });
      }
      if (this.claims.exp !== undefined && this.findings.expired === undefined && this.findings.notYetValid === undefined) {
        this.checks.push({
          kind: CHECK_KINDS.lifetime,
          expected: `valid at ${isoMs(this.now)}`,
          actual: `expires ${iso(this.claims.exp)}`,
          verdict: "pass",
          confirmedBy: "token",
        });
      }
      if (this.claims.exp !== undefined && this.findings.expired === undefined)
        this.evidence.push(`lifetime check: unexpired at the time of the failure (expires ${iso(this.claims.exp)})`);
      const resourceTenant = obs.challenge?.tenantId ?? obs.facts.resourceTenantId;
      if (
        this.findings.tenant === undefined &&
        this.claims.tid !== undefined &&
        resourceTenant !== undefined &&
        GUID_PATTERN.test(this.claims.tid) &&
        GUID_PATTERN.test(resourceTenant)
      ) {
        this.checks.push({
          kind: CHECK_KINDS.tenant,
          expected: resourceTenant.toLowerCase(),
          actual: this.claims.tid.toLowerCase(),
          verdict: "pass",
          confirmedBy: "token",
        });
      }
    } else if (this.token !== undefined) {
      this.evidence.push("the token sent is not a readable JWT: its audience and expiry could not be checked");
    } else if (obs.tokenSent === false) {
      this.evidence.push("no token was sent with the request");
    }
    const matched = this.findings.identity === undefined ? this.findings.identityMatched : undefined;
    if (matched !== undefined) {
      this.checks.push({
        kind: CHECK_KINDS.identity,
        expected: `${matched.field}=${matched.expected}`,
        actual: `${matched.field}=${matched.actual}`,
        verdict: "pass",
        confirmedBy: matched.source === "token" ? "token" : "answer",
      });
    }
    const facts = obs.facts;
    if (facts.callerObjectId !== undefined || facts.callerAppId !== undefined) {
      this.evidence.push(
        `caller seen by the service: ${[facts.callerObjectId && `oid=${facts.callerObjectId}`, facts.callerAppId && `appid=${facts.callerAppId}`].filter(Boolean).join(" ")}`,
      );
    }
    if (facts.actions.length > 0) this.evidence.push(`operation named by the service: ${facts.actions.slice(0, 3).join(", ")}`);
    if (facts.resources.length > 0) this.evidence.push(`resource named by the service: ${facts.resources[0]}`);
    if (facts.entityUrl !== undefined) this.evidence.push(`entity: ${facts.entityUrl}`);
    // The service's own evidence headers (catalog), then the first request id (one is enough).
    for (const header of this.service?.evidenceHeaders ?? []) {
      const value = obs.headers.get(header);
      if (value !== undefined && value.length > 0) this.evidence.push(`${header}: ${value.slice(0, 200)}`);
    }
    for (const header of REQUEST_ID_EVIDENCE_HEADERS) {
      const value = obs.headers.get(header);
      if (value !== undefined && value.length > 0) {
        this.evidence.push(`${header}: ${value.slice(0, 200)}`);
        break;
      }
    }
  }

  // ── Output ───────────────────────────────────────────────────────────────────────────────────────────────────

  private identity(): DiagnosisIdentity | undefined {
    if (this.claims !== undefined) return identityOfClaims(this.claims);
    const facts = this.obs.facts;
    if (facts.callerObjectId === undefined && facts.callerAppId === undefined) return undefined;
    const identity: DiagnosisIdentity = { kind: "unknown" };
    if (facts.callerObjectId !== undefined) identity.objectId = facts.callerObjectId;
    if (facts.callerAppId !== undefined) identity.clientId = facts.callerAppId;
    if (facts.callerMirid !== undefined) {
      identity.resourceId = facts.callerMirid;
      identity.kind = /\/microsoft\.managedidentity\/userassignedidentities\//i.test(facts.callerMirid) ? "user-assigned" : "system-assigned";
    }
    return identity;
  }

  /** `value` when it is a valid value of `kind` for a command; else undefined, and it is named in the evidence. */
  private checked(name: string, value: string | undefined, kind: ShellValueKind): string | undefined {
    return checkedShellValue(name, value, kind, this.refused);
  }

  /** The fingerprint's named groups (text from the service's answer) that are plain words. */
  private checkedGroups(groups: Record<string, string | undefined> | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(groups ?? {})) {
      const valid = this.checked(name, value, "word");
      if (valid !== undefined) out[name] = valid;
    }
    return out;
  }

  private finish(code: DiagnosisCode, confidence: Confidence, headline: string): Diagnosis {
    const refusedLine = refusedValuesEvidence(this.refused);
    if (refusedLine !== undefined && !this.evidence.includes(refusedLine)) this.evidence.push(refusedLine);
    const clean = scrubberFor(this.token);
    const line = (text: string, max = MAX_LINE) => {
      const one = clean(text).replace(/[\r\n]+/g, " ");
      return one.length > max ? `${one.slice(0, max - 1)}…` : one;
    };
    const identity = this.identity();
    const errorCode = this.errorCode();
    const tokenFacts = this.claims !== undefined ? tokenFactsOfClaims(this.claims) : undefined;
    return makeDiagnosis(code, {
      title: DIAGNOSIS_CODES[code].title,
      confidence,
      summary: line(`${this.head}: ${headline}`),
      evidence: this.evidence.map((text) => line(text)),
      nextSteps: this.steps.map((step) => line(step, MAX_STEP)),
      ...(this.service !== undefined ? { service: this.service.name } : {}),
      ...(this.obs.status !== undefined ? { status: this.obs.status } : {}),
      ...(errorCode !== undefined ? { errorCode: clean(errorCode) } : {}),
      ...(identity !== undefined ? { identity } : {}),
      ...(tokenFacts !== undefined ? { token: tokenFacts } : {}),
      ...(this.rule !== undefined ? { rule: this.rule } : {}),
      checks: this.checks.map((check) => ({
        ...check,
        ...(check.expected !== undefined ? { expected: clean(check.expected) } : {}),
        ...(check.actual !== undefined ? { actual: clean(check.actual) } : {}),
      })),
    });
  }
}

/** Built-in fingerprints (the merged catalog keeps these objects): the others came through the `services` option. */
const BUILT_IN_FINGERPRINTS: ReadonlySet<ErrorFingerprint> = new Set(SERVICE_CATALOG.flatMap((service) => service.fingerprints));

/** The rule of a fingerprint: its id, and the catalog entry it lives in. */
function fingerprintRule(fp: ErrorFingerprint, service: ServiceDefinition | undefined): DiagnosisRule {
  if (GENERIC_FINGERPRINTS.includes(fp)) return { id: fp.id, source: RULE_SOURCES.genericCatalog };
  const prefix = BUILT_IN_FINGERPRINTS.has(fp) ? RULE_SOURCES.catalogPrefix : RULE_SOURCES.servicesOptionPrefix;
  return { id: fp.id, source: `${prefix}${service?.name ?? "unknown"}` };
}

/**
 * Redaction plus removal of the token that was sent, in pieces too (a body could echo a signature on its own, or cut
 * short), for one token and many texts: the token is split once.
 */
function scrubberFor(token: string | undefined): (text: string) => string {
  const raw = typeof token === "string" && token.length > 0 ? (token.startsWith("Bearer ") ? token.slice(7) : token) : "";
  const segments = raw.split(".").filter((segment) => segment.length >= 8);
  return (text) => {
    let out = redact(String(text));
    for (const segment of segments) {
      if (out.includes(segment)) out = out.split(segment).join("[redacted]");
    }
    return segments.length > 0 && out.length >= MIN_RUN ? removeSegmentRuns(out, segments) : out;
  };
}

/** Shortest piece of a segment removed. Any such piece holds a 16-character window of the text taken every 8 characters. */
const MIN_RUN = 24;
const WINDOW = 16;
/** Ids, hashes and names (lower-case hex and hyphens) are no base64url a token echo is made of, in practice. */
const HEX_RUN = /^[0-9a-f-]+$/;

/** A base64url character: what token segments are made of. */
function isTokenChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 45 || code === 95;
}

/**
 * Removes every piece of 24 or more characters of a token segment: a signature cut short (an error code kept to 128
 * characters, a body excerpt) is no longer whole, but still must not be printed. One pass over the text; only runs
 * of token characters that long are compared with the segments.
 */
function removeSegmentRuns(text: string, segments: readonly string[]): string {
  let out: string | undefined;
  let copied = 0;
  let runStart = -1;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && isTokenChar(text.charCodeAt(i))) {
      if (runStart < 0) runStart = i;
      continue;
    }
    if (runStart >= 0 && i - runStart >= MIN_RUN) {
      const run = text.slice(runStart, i);
      const clean = HEX_RUN.test(run) ? run : runWithoutSegments(run, segments);
      if (clean !== run) {
        out = `${out ?? ""}${text.slice(copied, runStart)}${clean}`;
        copied = i;
      }
    }
    runStart = -1;
  }
  return out === undefined ? text : `${out}${text.slice(copied)}`;
}

function runWithoutSegments(run: string, segments: readonly string[]): string {
  for (let i = 0; i + WINDOW <= run.length; i += WINDOW / 2) {
    const window = run.slice(i, i + WINDOW);
    for (const segment of segments) {
      const at = segment.indexOf(window);
      if (at < 0) continue;
      // Extend the match both ways as far as the run and the segment agree.
      let start = i;
      let from = at;
      while (start > 0 && from > 0 && run[start - 1] === segment[from - 1]) {
        start--;
        from--;
      }
      let end = i + WINDOW;
      let to = at + WINDOW;
      while (end < run.length && to < segment.length && run[end] === segment[to]) {
        end++;
        to++;
      }
      if (end - start < MIN_RUN) continue;
      return `${run.slice(0, start)}[redacted]${runWithoutSegments(run.slice(end), segments)}`;
    }
  }
  return run;
}

function iso(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return Number.isNaN(date.getTime()) ? String(epochSeconds) : date.toISOString().replace(".000Z", "Z");
}

/** An instant in ms since epoch, as `iso` writes seconds. */
function isoMs(epochMs: number): string {
  return iso(Math.floor(epochMs / 1000));
}

function duration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}
