import { randomUUID } from "node:crypto";

/**
 * Entra ID's error answers of the token endpoint, in its real shape (public reports quoted in
 * test/workload/fixtures.ts): `error`, `error_description` ending in Trace ID / Correlation ID / Timestamp,
 * `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
 */
export interface EntraErrorAnswer {
  /** HTTP status Entra sends with this code. */
  status: number;
  /** The OAuth `error`. */
  error: string;
  /** The AADSTS number. */
  code: number;
  /** The sentence after `AADSTS<code>: `. */
  text: string;
}

/** Facts the sentences quote. */
export interface EntraErrorFacts {
  clientId?: string;
  tenantId?: string;
  issuer?: string;
  subject?: string;
  audience?: string;
  issuedAt?: number;
  notBefore?: number;
  expiresAt?: number;
  now?: number;
  /** The resource asked for (AADSTS500011, AADSTS501051, AADSTS70011). */
  resource?: string;
  /** The calling identity's display name (AADSTS501051: the app's name for a system-assigned identity). */
  clientName?: string;
  /** The target app's display name (AADSTS501051). */
  resourceName?: string;
  /** The tenant's display name (AADSTS500011). */
  tenantName?: string;
}

const FIC_HINT =
  "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

const iso7 = (epochSeconds: number | undefined) =>
  epochSeconds === undefined ? "?" : new Date(epochSeconds * 1000).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");

/** The AADSTS answers the emulator gives, by code. */
export function entraError(code: number, facts: EntraErrorFacts = {}): EntraErrorAnswer {
  switch (code) {
    case 70021:
      return {
        status: 400,
        error: "invalid_request",
        code,
        text: `No matching federated identity record found for presented assertion. Assertion Issuer: '${facts.issuer}'. Assertion Subject: '${facts.subject}'. Assertion Audience: '${facts.audience}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation`,
      };
    case 700211:
      return {
        status: 400,
        error: "invalid_client",
        code,
        text: `No matching federated identity record found for presented assertion issuer '${facts.issuer}'. ${FIC_HINT}`,
      };
    case 700212:
      return {
        status: 400,
        error: "invalid_client",
        code,
        text: `No matching federated identity record found for presented assertion audience '${facts.audience}'. ${FIC_HINT}`,
      };
    case 700213:
      return {
        status: 400,
        error: "invalid_client",
        code,
        text: `No matching federated identity record found for presented assertion subject '${facts.subject}'. ${FIC_HINT}`,
      };
    case 700016:
      return {
        status: 400,
        error: "unauthorized_client",
        code,
        text: `Application with identifier '${facts.clientId}' was not found in the directory '${facts.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      };
    case 50020:
      return {
        status: 400,
        error: "invalid_grant",
        code,
        text: `User account '${facts.subject}' from identity provider '${facts.issuer}' does not exist in tenant '${facts.tenantId}' and cannot access the application '${facts.clientId}' in that tenant. The account needs to be added as an external user in the tenant first.`,
      };
    case 700024:
      return {
        status: 401,
        error: "invalid_client",
        code,
        text: `Client assertion is not within its valid time range. Current time: ${iso7(facts.now)}, assertion valid from ${iso7(facts.notBefore ?? facts.issuedAt)}, expiry time of assertion ${iso7(facts.expiresAt)}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .`,
      };
    case 70023:
      return {
        status: 400,
        error: "invalid_client",
        code,
        text: `External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00. Token issued at ${facts.issuedAt}. Token expires on ${facts.expiresAt}.`,
      };
    // login.microsoftonline.com/error?code=501051, quoted in azure-functions-host #9884.
    case 501051:
      return {
        status: 400,
        error: "invalid_grant",
        code,
        text: `Application '${facts.clientId}'(${facts.clientName}) is not assigned to a role for the application '${facts.resource}'(${facts.resourceName}).`,
      };
    // As relayed by IMDS: AzureAD/microsoft-authentication-library-for-dotnet #3979, Azure/azure-sdk-for-net #13481.
    case 500011:
      return {
        status: 400,
        error: "invalid_resource",
        code,
        text: `The resource principal named ${facts.resource} was not found in the tenant named ${facts.tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      };
    case 70011:
      return {
        status: 400,
        error: "invalid_scope",
        code,
        text: `The provided value for the input parameter 'scope' is not valid. The scope ${facts.resource} is not valid.`,
      };
    case 90061:
      return { status: 400, error: "invalid_request", code, text: "Request to External OIDC endpoint failed." };
    case 50027:
      return { status: 400, error: "invalid_request", code, text: "JWT token is invalid or malformed." };
    case 7000272:
      return {
        status: 401,
        error: "invalid_client",
        code,
        text: `The certificate used to sign the federated credential could not be found in the metadata of identity provider ${facts.issuer}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`,
      };
    case 90002:
      return {
        status: 400,
        error: "invalid_request",
        code,
        text: `Tenant '${facts.tenantId}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      };
    default:
      return { status: 400, error: "invalid_request", code, text: "The request is not valid." };
  }
}

/** Entra's `error_description`: the AADSTS sentence, then Trace ID, Correlation ID and Timestamp lines. */
export function entraErrorDescription(answer: EntraErrorAnswer, traceId: string, correlationId: string, timestamp: string): string {
  return `AADSTS${answer.code}: ${answer.text}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`;
}

/** Entra's timestamp format: `2026-12-01 10:00:00Z`. */
export const entraTimestamp = (now = new Date()): string =>
  now
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z");

/** The JSON body Entra sends for an error answer. */
export function entraErrorBody(answer: EntraErrorAnswer, correlationId: string = randomUUID(), now = new Date()): string {
  const traceId = randomUUID();
  const timestamp = entraTimestamp(now);
  return JSON.stringify({
    error: answer.error,
    error_description: entraErrorDescription(answer, traceId, correlationId, timestamp),
    error_codes: [answer.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${answer.code}`,
  });
}
