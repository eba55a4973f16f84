/**
 * Every fingerprint in the catalog has a sample answer here, and the sample must be recognised as that
 * fingerprint with that fingerprint's code. A new fingerprint without a sample fails the coverage test.
 */
import { describe, expect, it } from "vitest";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import { classifyResponse, type ClassifyContext } from "../../src/classify/response.js";
import { GENERIC_FINGERPRINTS, SERVICE_CATALOG } from "../../src/catalog/services.js";
import { DIAGNOSIS_CODES } from "../../src/diagnosis/codes.js";
import type { Diagnosis, ResponseLike } from "../../src/diagnosis/types.js";

const j = (value: unknown) => JSON.stringify(value);
const azure = (code: string, message: string, inner?: string) => j({ error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });
const xml = (code: string, message: string, detail?: string) =>
  `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message>${detail ? `<AuthenticationErrorDetail>${detail}</AuthenticationErrorDetail>` : ""}</Error>`;
const sbXml = (detail: string) => `<Error><Code>401</Code><Detail>${detail}</Detail></Error>`;
const KV = "https://kv.vault.azure.net/secrets/s";
const HSM = "https://hsm.managedhsm.azure.net/keys/k";
const ST = "https://st.blob.core.windows.net/c/b";
const SB = "https://ns.servicebus.windows.net/q/messages";
const EH = "https://ns.servicebus.windows.net/hub/partitions/0/messages";
const COSMOS = "https://acct.documents.azure.com/dbs/d";
const GRAPH = "https://graph.microsoft.com/v1.0/users";
const ARM = "https://management.azure.com/subscriptions/0d0d0d0d-0000-1111-2222-333333333333?api-version=2022-12-01";
const APPCS = "https://cs.azconfig.io/kv";
const OAI = "https://oai.openai.azure.com/openai/deployments/d/chat/completions";
const EG = "https://topic.westeurope-1.eventgrid.azure.net/api/events";
const MON = "https://dce.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/dcr-0011/streams/Custom-X";
const ACR = "https://reg.azurecr.io/v2/app/manifests/1";
const SRCH = "https://srch-orders.search.windows.net/indexes/all-documents-index?api-version=2021-04-30-Preview";
const LA = "https://api.loganalytics.io/v1/workspaces/0b0b0b0b-1111-2222-3333-444444444444/query";
const FOUNDRY = "https://orders-resource.services.ai.azure.com/api/projects/orders/assistants?api-version=v1";
const ADX = "https://adx-orders.westeurope.kusto.windows.net/v2/rest/query";
const SIGR = "https://sig-orders.service.signalr.net/api/hubs/chat/groups/g1/:send?api-version=2022-06-01";
const WPS = "https://wps-orders.webpubsub.azure.com/api/hubs/chat/groups/g1/:send?api-version=2024-01-01";
const BATCH = "https://batch-orders.westeurope.batch.azure.com/jobs?api-version=2024-07-01.20.0";
const EGNS = "https://egns.westeurope-1.eventgrid.azure.net/topics/orders:publish?api-version=2023-11-01";

type Sample = { http: ResponseLike; context?: ClassifyContext } | { error: unknown; context?: ClassifyContext };

const messaging = (prefix: "servicebus" | "eventhubs"): Record<string, Sample> => {
  const url = prefix === "servicebus" ? SB : EH;
  return {
    [`${prefix}.ip-filter`]: { http: { url, status: 401, body: sbXml("Ip has been prevented to connect to the endpoint.") } },
    [`${prefix}.claims-required`]: {
      error: {
        name: prefix === "servicebus" ? "ServiceBusError" : "MessagingError",
        code: prefix === "servicebus" ? "UnauthorizedAccess" : "UnauthorizedError",
        message: `Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://ns.servicebus.windows.net/${prefix === "servicebus" ? "q" : "hub/partitions/0"}'.`,
      },
    },
    [`${prefix}.operation-unauthorized`]: {
      http: {
        url,
        status: 401,
        body: sbXml("SubCode=40100: Unauthorized : Unauthorized access for 'Send' operation on endpoint 'sb://ns.servicebus.windows.net/q'."),
      },
    },
    [`${prefix}.invalid-audience`]: { http: { url, status: 401, body: sbXml("InvalidAudience: The token audience is invalid.") } },
    [`${prefix}.expired`]: { http: { url, status: 401, body: sbXml("ExpiredToken: The token is expired.") } },
    [`${prefix}.invalid-issuer`]: { http: { url, status: 401, body: sbXml("InvalidIssuer: Token issuer is invalid.") } },
    [`${prefix}.invalid-signature`]: { http: { url, status: 401, body: sbXml("InvalidSignature: The token has an invalid signature.") } },
    [`${prefix}.foreign-tenant`]: { http: { url, status: 401, body: sbXml("SubCode=40100: Unauthorized. TrackingId:1") } },
    // The management client's answer to a token with Send/Listen only (Azure/azure-sdk-for-net#20485).
    [`${prefix}.claim-empty`]: {
      http: {
        url: prefix === "servicebus" ? "https://ns.servicebus.windows.net/$Resources/queues" : "https://ns.servicebus.windows.net/hub/consumergroups/cg",
        status: 401,
        body: sbXml(
          "claim is empty or token is invalid. TrackingId:7b487659-cd9d-4ad1-ae79-117899444f5b_G18, SystemTracker:ns.servicebus.windows.net:$Resources/queues",
        ),
      },
    },
  };
};

const SAMPLES: Record<string, Sample> = {
  ...messaging("servicebus"),
  ...messaging("eventhubs"),
  "generic.insufficient-claims": {
    http: { url: "https://api.contoso.example/x", status: 401, headers: { "www-authenticate": 'Bearer error="insufficient_claims", claims="e30="' } },
  },
  "generic.audience": { http: { url: "https://api.contoso.example/x", status: 401, body: "Invalid audience" } },
  "generic.expired": { http: { url: "https://api.contoso.example/x", status: 401, body: "The token is expired" } },
  "generic.issuer": { http: { url: "https://api.contoso.example/x", status: 401, body: "Invalid issuer" } },
  "generic.tenant": { http: { url: "https://api.contoso.example/x", status: 401, body: "Tenant mismatch" } },
  "generic.signature": { http: { url: "https://api.contoso.example/x", status: 401, body: "Signature validation failed" } },
  "generic.network": { http: { url: "https://api.contoso.example/x", status: 403, body: "Blocked by the firewall" } },
  "generic.permission": { http: { url: "https://api.contoso.example/x", status: 403, body: "You do not have the required permissions" } },
  "generic.invalid-token": { http: { url: "https://api.contoso.example/x", status: 401, headers: { "www-authenticate": 'Bearer error="invalid_token"' } } },
  "keyvault.forbidden-by-firewall": { http: { url: KV, status: 403, body: azure("Forbidden", "Client address is not authorized", "ForbiddenByFirewall") } },
  "keyvault.firewall-message": {
    http: { url: KV, status: 403, body: azure("Forbidden", "Client address is not authorized and caller is not a trusted service.") },
  },
  "keyvault.forbidden-by-connection": { http: { url: KV, status: 403, body: azure("Forbidden", "x", "ForbiddenByConnection") } },
  "keyvault.private-link-message": {
    http: {
      url: KV,
      status: 403,
      body: azure("Forbidden", "Public network access is disabled and request is not from a trusted service nor via an approved private link."),
    },
  },
  "keyvault.forbidden-by-rbac": { http: { url: KV, status: 403, body: azure("Forbidden", "x", "ForbiddenByRbac") } },
  "keyvault.rbac-message": { http: { url: KV, status: 403, body: azure("Forbidden", "Caller is not authorized to perform action on resource.") } },
  "keyvault.access-policy": {
    http: {
      url: KV,
      status: 403,
      body: azure("Forbidden", "The user, group or application 'appid=x' does not have keys unwrapKey permission on key vault 'kv'.", "AccessDenied"),
    },
  },
  "keyvault.access-denied": { http: { url: KV, status: 403, body: azure("Forbidden", "Access denied.", "AccessDenied") } },
  "keyvault.audience": { http: { url: KV, status: 401, body: azure("Unauthorized", "AKV10022: Invalid audience.") } },
  "keyvault.issuer": { http: { url: KV, status: 401, body: azure("Unauthorized", "AKV10032: Invalid issuer.") } },
  "keyvault.missing-token": {
    http: { url: KV, status: 401, body: azure("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.") },
    context: { token: "opaque-token" },
  },
  "managedhsm.forbidden": { http: { url: HSM, status: 403, body: azure("Forbidden", "Caller is not authorized to perform action on resource.") } },
  "managedhsm.firewall": { http: { url: HSM, status: 403, body: azure("Forbidden", "x", "ForbiddenByFirewall") } },
  "managedhsm.missing-token": {
    http: { url: HSM, status: 401, body: azure("Unauthorized", "Request is missing a Bearer or PoP token.") },
    context: { token: "opaque-token" },
  },
  "storage.permission-mismatch": { http: { url: ST, status: 403, headers: { "x-ms-error-code": "AuthorizationPermissionMismatch" } } },
  "storage.permission-mismatch-message": {
    http: { url: ST, status: 403, body: "This request is not authorized to perform this operation using this permission." },
  },
  "storage.source-ip-mismatch": { http: { url: ST, status: 403, headers: { "x-ms-error-code": "AuthorizationSourceIPMismatch" } } },
  "storage.protocol-mismatch": { http: { url: ST, status: 403, headers: { "x-ms-error-code": "AuthorizationProtocolMismatch" } } },
  "storage.key-auth-not-permitted": { http: { url: ST, status: 403, headers: { "x-ms-error-code": "KeyBasedAuthenticationNotPermitted" } } },
  "storage.audience": {
    http: {
      url: ST,
      status: 401,
      body: xml("InvalidAuthenticationInfo", "Server failed to authenticate the request.", "Audience validation failed. Audience did not match."),
    },
  },
  "storage.expired": {
    http: {
      url: ST,
      status: 401,
      body: xml("InvalidAuthenticationInfo", "Server failed to authenticate the request.", "Lifetime validation failed. The token is expired."),
    },
  },
  "storage.issuer": {
    http: {
      url: ST,
      status: 401,
      body: xml("InvalidAuthenticationInfo", "Server failed to authenticate the request.", "Issuer validation failed. Issuer did not match."),
    },
  },
  "storage.sas-or-shared-key": {
    http: {
      url: ST,
      status: 403,
      body: xml("AuthenticationFailed", "Server failed to authenticate the request.", "Signature did not match. String to sign used was r"),
    },
  },
  "storage.authorization-failure": { http: { url: ST, status: 403, headers: { "x-ms-error-code": "AuthorizationFailure" } } },
  "storage.invalid-authentication-info": { http: { url: ST, status: 401, headers: { "x-ms-error-code": "InvalidAuthenticationInfo" } } },
  "storage.no-authentication-information": { http: { url: ST, status: 401, headers: { "x-ms-error-code": "NoAuthenticationInformation" } } },
  "cosmos.firewall": {
    http: {
      url: COSMOS,
      status: 403,
      body: j({
        code: "Forbidden",
        message: "Request originated from IP 1.2.3.4 through public internet. This is blocked by your Cosmos DB account firewall settings.",
      }),
    },
  },
  "cosmos.rbac-substatus": { http: { url: COSMOS, status: 403, headers: { "x-ms-substatus": "5301" } } },
  "cosmos.rbac-message": {
    http: { url: COSMOS, status: 403, body: j({ code: "Forbidden", message: "principal [x] does not have required RBAC permissions to perform action [y]" }) },
  },
  "cosmos.control-plane-operation": { http: { url: COSMOS, status: 403, headers: { "x-ms-substatus": "5300" } } },
  "cosmos.local-auth-disabled": {
    http: {
      url: COSMOS,
      status: 401,
      body: j({ code: "Unauthorized", message: "Local Authorization is disabled. Use an AAD token to authorize all requests." }),
    },
  },
  "cosmos.foreign-tenant": {
    http: {
      url: COSMOS,
      status: 401,
      body: j({
        code: "Unauthorized",
        message:
          "Request blocked by Auth acct : Provided AAD token was issued by a tenant [0b0b0b0b-1111-2222-3333-444444444444] that does not own this account [acct].",
      }),
    },
  },
  "cosmos.key-auth": {
    http: { url: COSMOS, status: 401, body: j({ code: "Unauthorized", message: "The input authorization token can't serve the request." }) },
  },
  "graph.audience": { http: { url: GRAPH, status: 401, body: azure("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.") } },
  "graph.expired": { http: { url: GRAPH, status: 401, body: azure("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.") } },
  "graph.request-denied": {
    http: { url: GRAPH, status: 403, body: azure("Authorization_RequestDenied", "Insufficient privileges to complete the operation.") },
  },
  "graph.no-roles": { http: { url: GRAPH, status: 403, body: azure("AccessDenied", "Either scp or roles claim need to be present in the token.") } },
  "graph.access-denied": { http: { url: GRAPH, status: 403, body: azure("ErrorAccessDenied", "Access is denied.") } },
  "graph.invalid-token": {
    http: { url: GRAPH, status: 401, body: azure("InvalidAuthenticationToken", "CompactToken parsing failed with error code: 80049217") },
  },
  "arm.audience": {
    http: {
      url: ARM,
      status: 401,
      body: azure("InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource 'x'."),
    },
  },
  "arm.expired": {
    http: { url: ARM, status: 401, body: azure("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.") },
  },
  "arm.tenant": { http: { url: ARM, status: 401, body: azure("InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer.") } },
  "arm.authorization-failed": { http: { url: ARM, status: 403, body: azure("AuthorizationFailed", "does not have authorization") } },
  "arm.policy": { http: { url: ARM, status: 403, body: azure("RequestDisallowedByPolicy", "disallowed by policy") } },
  "arm.invalid-token": { http: { url: ARM, status: 401, body: azure("InvalidAuthenticationToken", "The access token is invalid.") } },
  "appconfig.wrong-issuer": {
    http: {
      url: APPCS,
      status: 401,
      headers: { "www-authenticate": 'HMAC-SHA256, Bearer error="invalid_token", error_description="The access token is from the wrong issuer"' },
    },
  },
  "appconfig.forbidden": {
    http: { url: APPCS, status: 403, body: j({ title: "Forbidden", detail: "The principal making the request does not have the required permissions" }) },
  },
  "appconfig.token-failed-validation": {
    http: {
      url: APPCS,
      status: 401,
      headers: { "www-authenticate": 'HMAC-SHA256, Bearer error="invalid_token", error_description="Authorization token failed validation"' },
    },
  },
  "sql.firewall": {
    error: { code: "ELOGIN", message: "Client with IP address '1.2.3.4' is not allowed to access the server." },
    context: { url: "mssql://sql-orders.database.windows.net" },
  },
  "sql.token-expired": { error: { code: "ELOGIN", message: "Login failed for user '<token-identified principal>'. The access token has expired." } },
  "sql.not-configured": { error: { code: "ELOGIN", message: "The server is not currently configured to accept this token." } },
  "sql.login-failed": { error: { code: "ELOGIN", message: "Login failed for user '<token-identified principal>'." } },
  "postgres.no-hba-entry": { error: { code: "28000", message: 'no pg_hba.conf entry for host "1.2.3.4", user "id-orders", database "orders", SSL on' } },
  "postgres.password-failed": {
    error: { code: "28P01", message: 'password authentication failed for user "id-orders"' },
    context: { url: "postgres://pg-orders.postgres.database.azure.com:5432/orders" },
  },
  "mysql.access-denied": {
    error: { code: "ER_ACCESS_DENIED_ERROR", message: "Access denied for user 'id-orders'@'1.2.3.4' (using password: YES)" },
    context: { url: "mysql://my-orders.mysql.database.azure.com:3306/orders" },
  },
  "redis.noperm": { error: { name: "ReplyError", message: "NOPERM this user has no permissions to run the 'set' command" } },
  "redis.wrongpass": { error: { name: "ReplyError", message: "WRONGPASS invalid username-password pair or user is disabled." } },
  "openai.firewall": { http: { url: OAI, status: 403, body: azure("403", "Access denied due to Virtual Network/Firewall rules.") } },
  "openai.private-endpoint": { http: { url: OAI, status: 403, body: azure("403", "Traffic is not from an approved private endpoint.") } },
  "openai.key-auth-disabled": {
    http: { url: OAI, status: 403, body: azure("AuthenticationTypeDisabled", "Key based authentication is disabled for this resource.") },
  },
  "openai.lacks-data-action": {
    http: { url: OAI, status: 401, body: azure("401", "The principal `x` lacks the required data action `y` to perform `POST /openai` operation.") },
  },
  "openai.permission-denied": { http: { url: OAI, status: 401, body: azure("PermissionDenied", "Denied.") } },
  "openai.principal-no-access": { http: { url: OAI, status: 401, body: azure("401", "Principal does not have access to API/Operation.") } },
  "openai.token-invalid": {
    http: {
      url: OAI,
      status: 401,
      body: azure("401", "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."),
    },
  },
  "eventgrid.quota": { http: { url: EG, status: 403, body: azure("Forbidden", "Quota exceeded.") } },
  "eventgrid.forbidden": { http: { url: EG, status: 403 } },
  "eventgrid.unauthorized-permission": { http: { url: EG, status: 401, body: azure("Unauthorized", "The principal is not authorized to publish.") } },
  "monitor.dcr-access": {
    http: {
      url: MON,
      status: 403,
      body: azure(
        "OperationFailed",
        "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id 'dcr-0011'.",
      ),
    },
  },
  "acr.firewall": {
    http: {
      url: ACR,
      status: 403,
      body: j({ errors: [{ code: "DENIED", message: "client with IP '1.2.3.4' is not allowed access. Refer https://aka.ms/acr/firewall" }] }),
    },
  },
  "acr.unauthorized": { http: { url: ACR, status: 401, body: j({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }) } },
  "acr.denied": { http: { url: ACR, status: 403, body: j({ errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] }) } },
  // microsoft/sample-app-aoai-chatGPT#624: API keys disabled, a token without a Search role.
  "search.authorization-failed": { http: { url: SRCH, status: 403, body: j({ error: { code: "", message: "Authorization failed." } }) } },
  // Azure/azure-sdk-for-net#37173 (troubleshooting guide) and microsoft/foundry-dev-tools#734.
  "loganalytics.insufficient-access": {
    http: {
      url: LA,
      status: 403,
      body: j({
        error: {
          message: "The provided credentials have insufficient access to perform the requested operation",
          code: "InsufficientAccessError",
          correlationId: "19312810-2150-47d2-ac01-70c07fd11088",
        },
      }),
    },
  },
  "loganalytics.token-refused": {
    http: { url: LA, status: 401, body: j({ error: { message: "Valid authentication was not provided", code: "AuthorizationRequiredError" } }) },
  },
  // davrous/AzureAgentToM365#3, microsoft/ai-agent-evals#43: agent reads with "Cognitive Services OpenAI User" only.
  "aifoundry.lacks-data-action": {
    http: {
      url: FOUNDRY,
      status: 401,
      body: j({
        error: {
          code: "PermissionDenied",
          message:
            "The principal `90ae6d27-5ebe-4011-ac3f-cb35e8e456b0` lacks the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/read` to perform `GET /api/projects/{projectName}/assistants` operation. For instructions on granting the necessary permissions, see https://aka.ms/FoundryPermissions.",
        },
      }),
    },
  },
  "aifoundry.permission-denied": { http: { url: FOUNDRY, status: 401, body: j({ error: { code: "PermissionDenied", message: "Denied." } }) } },
  // microsoft/delta-kusto#155 (KustoRequestDeniedException, UnauthorizedDatabaseAccessException).
  "kusto.database-access": {
    http: {
      url: ADX,
      status: 403,
      body: j({
        error: {
          code: "Forbidden",
          message: "Caller is not authorized to perform this action",
          "@type": "Kusto.DataNode.Exceptions.UnauthorizedDatabaseAccessException",
          "@message":
            "Principal 'aadapp=a1b2c3d4-0000-4000-8000-000000000001;0b0b0b0b-1111-2222-3333-444444444444' is not authorized to read database 'orders'.",
        },
      }),
    },
  },
  // MicrosoftDocs/azure-docs#35201.
  "kusto.operation": {
    http: {
      url: ADX,
      status: 403,
      body: j({
        error: {
          code: "Forbidden",
          message: "Caller is not authorized to perform this action",
          "@type": "Kusto.Common.Svc.Exceptions.UnauthorizedOperationException",
          "@message":
            "Principal 'aadapp=a1b2c3d4-0000-4000-8000-000000000001;0b0b0b0b' is not authorized to perform operation 'VersionShowCommand' on 'https://adx-orders.westeurope.kusto.windows.net:443/'.",
        },
      }),
    },
  },
  "kusto.caller-not-authorized": {
    http: { url: ADX, status: 403, body: j({ error: { code: "Forbidden", message: "Caller is not authorized to perform this action" } }) },
  },
  // microsoft/aspire#8382: a Web PubSub send with a control-plane role only.
  "signalr.permission-required": {
    http: {
      url: SIGR,
      status: 403,
      body: j({
        code: "Error.Forbidden",
        message: "Microsoft.SignalRService/SignalR/group/send/action permission is required to access this API. Please check your role assignments.",
      }),
    },
  },
  "webpubsub.permission-required": {
    http: {
      url: WPS,
      status: 403,
      body: j({
        code: "Error.Forbidden",
        message: "Microsoft.SignalRService/WebPubSub/group/send/action permission is required to access this API. Please check your role assignments.",
      }),
    },
  },
  // Azure/BatchExplorer#2203.
  "batch.authorization-failure": {
    http: {
      url: BATCH,
      status: 403,
      body: j({
        "odata.metadata": "https://batch-orders.westeurope.batch.azure.com/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
        code: "AuthorizationFailure",
        message: { lang: "en-US", value: "This request is not authorized to perform this operation.\nRequestId:61056696-c076-4df2-a1f0-d3de71a1be98" },
      }),
    },
  },
  "batch.authentication-failed": {
    http: {
      url: BATCH,
      status: 401,
      body: j({ code: "AuthenticationFailed", message: { lang: "en-US", value: "Server failed to authenticate the request." } }),
    },
  },
  "eventgridnamespaces.quota": {
    http: { url: EGNS, status: 403, body: j({ error: { code: "Forbidden", message: "The namespace quota has been exceeded." } }) },
  },
  "eventgridnamespaces.forbidden": { http: { url: EGNS, status: 403 } },
  "eventgridnamespaces.unauthorized": {
    http: { url: EGNS, status: 401, body: j({ error: { code: "Unauthorized", message: "The principal is not authorized to publish to this topic." } }) },
  },
};

const ALL = [
  ...SERVICE_CATALOG.flatMap((s) => s.fingerprints.map((f) => ({ service: s.name, fingerprint: f }))),
  ...GENERIC_FINGERPRINTS.map((f) => ({ service: undefined, fingerprint: f })),
];

function classify(sample: Sample): Diagnosis | undefined {
  const context = { now: Date.UTC(2025, 4, 1), ...(sample.context ?? {}) };
  return "http" in sample ? classifyResponse(sample.http, context) : classifyAmqpError(sample.error, context);
}

describe("every catalog fingerprint is recognised from its sample", () => {
  it("every fingerprint has a sample, every sample a fingerprint", () => {
    const ids = ALL.map((entry) => entry.fingerprint.id);
    expect(ids.filter((id) => !(id in SAMPLES))).toEqual([]);
    expect(Object.keys(SAMPLES).filter((id) => !ids.includes(id))).toEqual([]);
  });

  it.each(ALL.map((entry) => [entry.fingerprint.id, entry] as const))("%s", (id, entry) => {
    const sample = SAMPLES[id];
    expect(sample).toBeDefined();
    const d = classify(sample as Sample);
    const context = `\n${JSON.stringify(d, null, 2)}`;
    expect(d, context).toBeDefined();
    // The fingerprint decided, and the rule names its catalog entry.
    expect(d?.rule, context).toEqual({ id, source: entry.service !== undefined ? `catalog:${entry.service}` : "catalog:generic" });
    expect(d?.code, context).toBe(entry.fingerprint.code);
    expect(d?.hypothesis).toBe(DIAGNOSIS_CODES[entry.fingerprint.code].hypothesis);
    if (entry.service !== undefined) expect(d?.service, context).toBe(entry.service);
  });
});
