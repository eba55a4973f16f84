/**
 * Failure shapes from ../shared/research/service-errors.md, with the variants real services produce: CRLF vs LF,
 * XML vs JSON, reworded messages, header-only HEAD answers, sovereign hosts, casing. Each case says what the
 * classifier must conclude. Tokens are generated per case (see helpers.ts).
 */
import type { Diagnosis, DiagnosisCheck, ResponseLike } from "../../src/diagnosis/types.js";
import { classifyResponse, type ClassifyContext } from "../../src/classify/response.js";
import { CLIENT_ID, NOW, OID, OTHER_OID, OTHER_TENANT, SUB, TENANT, makeToken, type TokenOptions } from "./helpers.js";

export interface Expectation {
  hypothesis: "H1" | "H2" | "H3" | "H4" | "H5" | "not-identity" | "unknown" | undefined;
  confidence?: "high" | "medium" | "low";
  service?: string;
  /** The catalog fingerprint that decided: the diagnosis's `rule.id`. */
  fingerprint?: string;
  /** The rule that decided, when it is not a fingerprint: `claims.wrong-tenant`, `status.forbidden`. */
  rule?: string;
  /** Checks the diagnosis must carry, each matched on the fields given. */
  checks?: Array<Partial<DiagnosisCheck> & Pick<DiagnosisCheck, "kind" | "verdict">>;
  errorCode?: string;
  /** A next step must contain each of these. */
  steps?: string[];
  /** No next step may contain any of these. */
  absentFromSteps?: string[];
  /** The summary must contain each of these. */
  summary?: string[];
  /** Some evidence line must contain each of these. */
  evidence?: string[];
}

export interface Shape {
  name: string;
  response: ResponseLike;
  /** Token to generate and pass as context.token; omitted = no token in context. */
  token?: TokenOptions;
  context?: Omit<ClassifyContext, "token">;
  expect: Expectation;
}

const json = (value: unknown) => JSON.stringify(value);
const KV = "https://kv-orders.vault.azure.net/secrets/db-password?api-version=7.5";
const KV_SCOPE = `/subscriptions/${SUB}/resourcegroups/rg-orders/providers/microsoft.keyvault/vaults/kv-orders`;
const KV_CHALLENGE = `Bearer authorization="https://login.windows.net/${TENANT}", resource="https://vault.azure.net"`;
const STORAGE_CHALLENGE = `Bearer authorization_uri=https://login.microsoftonline.com/${TENANT}/oauth2/authorize resource_id=https://storage.azure.com`;

export function keyVaultRbacMessage(eol = "\r\n", oid = OID, action = "Microsoft.KeyVault/vaults/secrets/getSecret/action"): string {
  return [
    "Caller is not authorized to perform action on resource.",
    "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
    `Caller: appid=${CLIENT_ID};oid=${oid};iss=https://sts.windows.net/${TENANT}/;xms_mirid=/subscriptions/${SUB}/resourcegroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`,
    `Action: '${action}'`,
    `Resource: '${KV_SCOPE}/secrets/db-password'`,
    "Assignment: (not found)",
    "DenyAssignmentId: null",
    "DecisionReason: null ",
    "Vault: kv-orders;location=westeurope",
    "",
  ].join(eol);
}

const storageXml = (code: string, message: string, detail?: string) =>
  `\uFEFF<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:5a8e0b4c-e01e-0042-4a7b-6fd5c3000000\nTime:2025-05-01T12:00:00.0000000Z</Message>${detail ? `<AuthenticationErrorDetail>${detail}</AuthenticationErrorDetail>` : ""}</Error>`;

const arm403 = (action: string, scope: string) =>
  json({
    error: {
      code: "AuthorizationFailed",
      message: `The client '${CLIENT_ID}' with object id '${OID}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    },
  });

const CAE_CLAIMS = Buffer.from(json({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.UTC(2025, 4, 1, 11, 55) / 1000)) } } })).toString(
  "base64",
);

export const SHAPES: Shape[] = [
  // ── Key Vault ────────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "keyvault 401 AKV10022 wrong audience (token for ARM)",
    response: {
      url: KV,
      status: 401,
      headers: { "www-authenticate": KV_CHALLENGE },
      body: json({
        error: { code: "Unauthorized", message: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/." },
      }),
    },
    token: { aud: "https://management.azure.com/" },
    expect: {
      hypothesis: "H3",
      confidence: "high",
      service: "keyvault",
      errorCode: "Unauthorized",
      steps: ["https://vault.azure.net/.default", "Azure Resource Manager"],
    },
  },
  {
    name: "keyvault 401 AKV10022 without a token in context (fingerprint only)",
    response: {
      url: KV,
      status: 401,
      headers: { "WWW-Authenticate": KV_CHALLENGE },
      body: json({
        error: { code: "Unauthorized", message: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://myconfig.azconfig.io." },
      }),
    },
    expect: { hypothesis: "H3", confidence: "high", service: "keyvault", fingerprint: "keyvault.audience" },
  },
  {
    name: "keyvault 401 AKV10032 invalid issuer (token of another tenant)",
    response: {
      url: KV,
      status: 401,
      headers: { "www-authenticate": KV_CHALLENGE },
      body: json({
        error: {
          code: "Unauthorized",
          message: `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${TENANT}/, found https://sts.windows.net/${OTHER_TENANT}/.`,
        },
      }),
    },
    token: { tid: OTHER_TENANT },
    expect: {
      hypothesis: "H4",
      confidence: "high",
      service: "keyvault",
      rule: "claims.wrong-tenant",
      checks: [{ kind: "tenant", verdict: "fail", actual: OTHER_TENANT, expected: TENANT, confirmedBy: "token" }],
      summary: [OTHER_TENANT, TENANT],
    },
  },
  {
    name: "keyvault 401 AKV10032 without token",
    response: {
      url: KV,
      status: 401,
      headers: { "www-authenticate": KV_CHALLENGE },
      body: json({ error: { code: "Unauthorized", message: "AKV10032: Invalid issuer." } }),
    },
    expect: { hypothesis: "H4", confidence: "high", service: "keyvault", fingerprint: "keyvault.issuer" },
  },
  {
    name: "keyvault 403 ForbiddenByRbac (CRLF)",
    response: {
      url: KV,
      status: 403,
      method: "GET",
      body: json({ error: { code: "Forbidden", message: keyVaultRbacMessage("\r\n"), innererror: { code: "ForbiddenByRbac" } } }),
    },
    token: {},
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "keyvault",
      errorCode: "ForbiddenByRbac",
      fingerprint: "keyvault.forbidden-by-rbac",
      steps: [
        `az role assignment create --assignee-object-id ${OID} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User" --scope "${KV_SCOPE}"`,
        "Propagation delay: up to ~10 minutes",
        "control-plane",
        'Grant the least-privilege data-plane role "Key Vault Secrets User"',
      ],
      checks: [
        { kind: "role", verdict: "fail", actual: "no role assignment", confirmedBy: "answer" },
        { kind: "audience", verdict: "pass" },
        { kind: "lifetime", verdict: "pass" },
      ],
    },
  },
  {
    name: "keyvault 403 RBAC message reworded, LF, no innererror, no token: principal from the body",
    response: {
      url: KV,
      status: 403,
      body: json({ error: { code: "Forbidden", message: keyVaultRbacMessage("\n").replace("Caller is not authorized", "caller is NOT authorized") } }),
    },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "keyvault",
      fingerprint: "keyvault.rbac-message",
      steps: [`--assignee-object-id ${OID}`, KV_SCOPE],
    },
  },
  {
    name: "keyvault 403 setSecret needs Secrets Officer",
    response: {
      url: KV,
      status: 403,
      method: "PUT",
      body: json({
        error: {
          code: "Forbidden",
          message: keyVaultRbacMessage("\r\n", OID, "Microsoft.KeyVault/vaults/secrets/setSecret/action"),
          innererror: { code: "ForbiddenByRbac" },
        },
      }),
    },
    token: {},
    expect: { hypothesis: "H2", service: "keyvault", steps: ['--role "Key Vault Secrets Officer"'] },
  },
  {
    name: "keyvault 403 key decrypt needs Crypto User",
    response: {
      url: "https://kv-orders.vault.azure.net/keys/cmk/0123/decrypt?api-version=7.5",
      status: 403,
      method: "POST",
      body: json({
        error: {
          code: "Forbidden",
          message: keyVaultRbacMessage("\r\n", OID, "Microsoft.KeyVault/vaults/keys/decrypt/action"),
          innererror: { code: "ForbiddenByRbac" },
        },
      }),
    },
    token: {},
    expect: { hypothesis: "H2", service: "keyvault", steps: ['--role "Key Vault Crypto User"'] },
  },
  {
    name: "keyvault 403 access-policy vault (AccessDenied)",
    response: {
      url: KV,
      status: 403,
      body: json({
        error: {
          code: "Forbidden",
          message: `The user, group or application 'appid=${CLIENT_ID};oid=${OID};iss=https://sts.windows.net/${TENANT}/' does not have secrets get permission on key vault 'kv-orders;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
          innererror: { code: "AccessDenied" },
        },
      }),
    },
    token: {},
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "keyvault",
      fingerprint: "keyvault.access-policy",
      steps: [`az keyvault set-policy --name kv-orders --object-id ${OID} --secret-permissions get list`],
    },
  },
  {
    name: "keyvault 403 ForbiddenByFirewall",
    response: {
      url: KV,
      status: 403,
      headers: { "x-ms-keyvault-network-info": "conn_type=Ipv4;addr=20.1.2.3;act_addr_fam=InterNetwork;" },
      body: json({
        error: {
          code: "Forbidden",
          message:
            "Client address is not authorized and caller is not a trusted service.\r\nClient address: 20.1.2.3\r\nCaller: appid=…;oid=…\r\nVault: kv-orders;location=westeurope",
          innererror: { code: "ForbiddenByFirewall" },
        },
      }),
    },
    token: {},
    expect: {
      hypothesis: "not-identity",
      confidence: "high",
      service: "keyvault",
      errorCode: "ForbiddenByFirewall",
      evidence: ["x-ms-keyvault-network-info"],
      steps: ["az keyvault network-rule add --name kv-orders"],
    },
  },
  {
    name: "keyvault 403 ForbiddenByConnection (private link)",
    response: {
      url: KV,
      status: 403,
      body: json({
        error: {
          code: "Forbidden",
          message:
            "Public network access is disabled and request is not from a trusted service nor via an approved private link.\r\nCaller: appid=…\r\nVault: kv-orders;location=westeurope",
          innererror: { code: "ForbiddenByConnection" },
        },
      }),
    },
    expect: { hypothesis: "not-identity", confidence: "high", service: "keyvault" },
  },
  {
    name: "keyvault first 401 challenge without a token is normal",
    response: {
      url: KV,
      status: 401,
      headers: { "www-authenticate": KV_CHALLENGE },
      body: json({ error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } }),
    },
    expect: { hypothesis: undefined },
  },
  {
    name: "keyvault first 401 challenge, HEAD, no body, known to carry no token",
    response: { url: KV, status: 401, method: "HEAD", headers: { "www-authenticate": KV_CHALLENGE } },
    expect: { hypothesis: undefined },
  },
  {
    name: "keyvault 401 missing token although a token was sent (proxy stripped it)",
    response: {
      url: KV,
      status: 401,
      headers: { "www-authenticate": KV_CHALLENGE },
      body: json({ error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } }),
    },
    token: {},
    expect: { hypothesis: "unknown", confidence: "medium", service: "keyvault", fingerprint: "keyvault.missing-token" },
  },
  {
    name: "keyvault China host with the public audience → other cloud",
    response: {
      url: "https://kv-cn.vault.azure.cn/secrets/x",
      status: 401,
      body: json({ error: { code: "Unauthorized", message: "AKV10022: Invalid audience. Expected https://vault.azure.cn, found: https://vault.azure.net." } }),
    },
    token: { aud: "https://vault.azure.net" },
    expect: { hypothesis: "H3", confidence: "high", service: "keyvault", summary: ["another cloud"], steps: ["https://vault.azure.cn/.default"] },
  },
  {
    name: "keyvault US Gov host, RBAC 403, scope from host",
    response: {
      url: "https://kv-gov.vault.usgovcloudapi.net/secrets/x",
      status: 403,
      body: json({ error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } } }),
    },
    token: { aud: "https://vault.usgovcloudapi.net" },
    expect: { hypothesis: "H2", confidence: "high", service: "keyvault", steps: ['--scope "$(az keyvault show --name kv-gov --query id --output tsv)"'] },
  },
  {
    name: "keyvault casing: header names upper case, code lower case",
    response: {
      url: "HTTPS://KV-ORDERS.VAULT.AZURE.NET/secrets/x",
      status: 403,
      headers: { "X-MS-REQUEST-ID": "r-1", "Content-Type": "application/json" },
      body: json({ ERROR: { CODE: "forbidden", MESSAGE: "caller is not authorized to perform action on resource.", InnerError: { Code: "forbiddenbyrbac" } } }),
    },
    token: {},
    expect: { hypothesis: "H2", confidence: "high", service: "keyvault", errorCode: "forbiddenbyrbac", evidence: ["x-ms-request-id: r-1"] },
  },
  {
    name: "managed HSM 403 → local RBAC command",
    response: {
      url: "https://hsm-orders.managedhsm.azure.net/keys/cmk/wrapkey",
      status: 403,
      method: "POST",
      body: json({ error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource." } }),
    },
    token: { aud: "https://managedhsm.azure.net" },
    expect: { hypothesis: "H2", service: "managedhsm", steps: ["az keyvault role assignment create --hsm-name hsm-orders", "Managed HSM Crypto User"] },
  },

  // ── Storage ──────────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "storage 401 audience (XML + unquoted challenge) with a Graph token",
    response: {
      url: "https://storders.blob.core.windows.net/invoices/2025/05.pdf",
      status: 401,
      headers: { "x-ms-error-code": "InvalidAuthenticationInfo", "www-authenticate": STORAGE_CHALLENGE },
      body: storageXml(
        "InvalidAuthenticationInfo",
        "Authentication information is not given in the correct format. Check the value of Authorization header.",
        "Audience validation failed. Audience did not match.",
      ),
    },
    token: { aud: "https://graph.microsoft.com" },
    expect: { hypothesis: "H3", confidence: "high", service: "storage", steps: ["https://storage.azure.com/.default", "Microsoft Graph"] },
  },
  {
    name: "storage 401 audience without token (fingerprint)",
    response: {
      url: "https://storders.blob.core.windows.net/invoices",
      status: 401,
      headers: { "x-ms-error-code": "InvalidAuthenticationInfo", "www-authenticate": STORAGE_CHALLENGE },
      body: storageXml("InvalidAuthenticationInfo", "Server failed to authenticate the request.", "Audience validation failed. Audience did not match."),
    },
    expect: { hypothesis: "H3", confidence: "high", service: "storage", fingerprint: "storage.audience" },
  },
  {
    name: "storage 401 expired (claims)",
    response: {
      url: "https://storders.blob.core.windows.net/invoices",
      status: 401,
      headers: { "x-ms-error-code": "InvalidAuthenticationInfo" },
      body: storageXml("InvalidAuthenticationInfo", "Server failed to authenticate the request.", "Lifetime validation failed. The token is expired."),
    },
    token: { aud: "https://storage.azure.com", exp: -3600, iat: -90_000, nbf: -90_000 },
    expect: { hypothesis: "H4", confidence: "high", service: "storage", summary: ["expired", "60 min before the request"] },
  },
  {
    name: "storage 401 expired without token (fingerprint)",
    response: {
      url: "https://storders.queue.core.windows.net/jobs/messages",
      status: 401,
      headers: { "x-ms-error-code": "InvalidAuthenticationInfo" },
      body: storageXml("InvalidAuthenticationInfo", "Server failed to authenticate the request.", "Lifetime validation failed. The token is expired."),
    },
    expect: { hypothesis: "H4", confidence: "high", service: "storage", fingerprint: "storage.expired" },
  },
  {
    name: "storage 401 NoAuthenticationInformation",
    response: {
      url: "https://storders.blob.core.windows.net/invoices",
      status: 401,
      headers: { "x-ms-error-code": "NoAuthenticationInformation", "www-authenticate": STORAGE_CHALLENGE },
      body: storageXml(
        "NoAuthenticationInformation",
        "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
      ),
    },
    expect: { hypothesis: "unknown", confidence: "medium", service: "storage", fingerprint: "storage.no-authentication-information" },
  },
  {
    name: "storage 403 AuthorizationPermissionMismatch GET blob → Blob Data Reader",
    response: {
      url: "https://storders.blob.core.windows.net/invoices/a.pdf",
      status: 403,
      method: "GET",
      headers: { "x-ms-error-code": "AuthorizationPermissionMismatch" },
      body: storageXml("AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission."),
    },
    token: { aud: "https://storage.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "storage",
      errorCode: "AuthorizationPermissionMismatch",
      steps: [
        '--role "Storage Blob Data Reader"',
        '--scope "$(az storage account show --name storders --query id --output tsv)"',
        "up to 30 minutes",
        '"Storage Account Contributor"',
      ],
    },
  },
  {
    name: "storage 403 PUT blob → Blob Data Contributor",
    response: {
      url: "https://storders.blob.core.windows.net/invoices/a.pdf",
      status: 403,
      method: "PUT",
      headers: { "x-ms-error-code": "AuthorizationPermissionMismatch" },
      body: storageXml("AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission."),
    },
    token: { aud: "https://storage.azure.com" },
    expect: { hypothesis: "H2", service: "storage", steps: ['--role "Storage Blob Data Contributor"'] },
  },
  {
    name: "storage HEAD 403: header only, no body",
    response: {
      url: "https://storders.blob.core.windows.net/invoices/a.pdf",
      status: 403,
      method: "HEAD",
      headers: { "x-ms-error-code": "AuthorizationPermissionMismatch", "x-ms-request-id": "5a8e0b4c" },
    },
    expect: { hypothesis: "H2", confidence: "high", service: "storage", steps: ['"Storage Blob Data Reader"', "PRINCIPAL_ID="] },
  },
  {
    name: "storage dfs JSON body (ADLS Gen2)",
    response: {
      url: "https://stlake.dfs.core.windows.net/raw/2025?resource=filesystem",
      status: 403,
      body: json({
        error: {
          code: "AuthorizationPermissionMismatch",
          message: "This request is not authorized to perform this operation using this permission.\nRequestId:1\nTime:2",
        },
      }),
    },
    token: { aud: "https://storage.azure.com" },
    expect: { hypothesis: "H2", confidence: "high", service: "storage" },
  },
  {
    name: "storage queue send → Queue Data Message Sender",
    response: {
      url: "https://storders.queue.core.windows.net/jobs/messages",
      status: 403,
      method: "POST",
      headers: { "x-ms-error-code": "AuthorizationPermissionMismatch" },
    },
    token: { aud: "https://storage.azure.com" },
    expect: { hypothesis: "H2", service: "storage", steps: ['"Storage Queue Data Message Sender"'] },
  },
  {
    name: "storage table GET → Table Data Reader, China cloud host",
    response: {
      url: "https://storders.table.core.chinacloudapi.cn/Orders()",
      status: 403,
      method: "GET",
      body: json({
        "odata.error": {
          code: "AuthorizationPermissionMismatch",
          message: { lang: "en-US", value: "This request is not authorized to perform this operation using this permission." },
        },
      }),
    },
    token: { aud: "https://storage.azure.com" },
    expect: { hypothesis: "H2", service: "storage", steps: ['"Storage Table Data Reader"'] },
  },
  {
    name: "storage 403 AuthorizationFailure → firewall, medium",
    response: {
      url: "https://storders.blob.core.windows.net/invoices",
      status: 403,
      headers: { "x-ms-error-code": "AuthorizationFailure" },
      body: storageXml("AuthorizationFailure", "This request is not authorized to perform this operation."),
    },
    token: { aud: "https://storage.azure.com" },
    expect: { hypothesis: "not-identity", confidence: "medium", service: "storage" },
  },
  {
    name: "storage emulator host added through services",
    response: { url: "https://127.0.0.1:10000/devstoreaccount1/invoices", status: 403, headers: { "x-ms-error-code": "AuthorizationPermissionMismatch" } },
    token: { aud: "https://storage.azure.com" },
    context: { services: [{ name: "storage", hosts: ["127.0.0.1:10000"] }] },
    expect: { hypothesis: "H2", service: "storage" },
  },
  {
    name: "storage account-specific audience is accepted",
    response: { url: "https://storders.blob.core.windows.net/invoices", status: 403, headers: { "x-ms-error-code": "AuthorizationPermissionMismatch" } },
    token: { aud: "https://storders.blob.core.windows.net" },
    expect: { hypothesis: "H2", service: "storage", checks: [{ kind: "audience", verdict: "pass", confirmedBy: "token" }] },
  },

  // ── Service Bus / Event Hubs (REST) ──────────────────────────────────────────────────────────────────────────
  {
    name: "servicebus REST 401 = missing Send permission",
    response: {
      url: "https://sb-orders.servicebus.windows.net/orders/messages",
      status: 401,
      method: "POST",
      body: "<Error><Code>401</Code><Detail>SubCode=40100: Unauthorized : Unauthorized access for 'Send' operation on endpoint 'sb://sb-orders.servicebus.windows.net/orders'. Tracking Id: 1a2b</Detail></Error>",
    },
    token: { aud: "https://servicebus.azure.net" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "servicebus",
      steps: ['"Azure Service Bus Data Sender"', `--scope "$(az servicebus namespace list --query "[?name=='sb-orders'].id" --output tsv)"`],
    },
  },
  {
    name: "servicebus REST 401 foreign tenant",
    response: {
      url: "https://sb-orders.servicebus.windows.net/orders/messages",
      status: 401,
      body: "<Error><Code>401</Code><Detail>SubCode=40100: Unauthorized. TrackingId:1a2b, SystemTracker:sb-orders.servicebus.windows.net:orders</Detail></Error>",
    },
    expect: { hypothesis: "H4", confidence: "medium", service: "servicebus", fingerprint: "servicebus.foreign-tenant" },
  },
  {
    name: "servicebus REST 401 IP filter",
    response: {
      url: "https://sb-orders.servicebus.windows.net/orders/messages",
      status: 401,
      body: "<Error><Code>401</Code><Detail>Ip has been prevented to connect to the endpoint. For more information see: Virtual Network service endpoints: Event Hubs: https://go.microsoft.com/fwlink/?linkid=2044192 ... IP Filters: ... TrackingId:1</Detail></Error>",
    },
    token: { aud: "https://servicebus.azure.net" },
    expect: { hypothesis: "not-identity", confidence: "high", service: "servicebus" },
  },
  {
    name: "eventhubs REST 401 told apart by the token's audience",
    response: {
      url: "https://eh-telemetry.servicebus.windows.net/devices/messages",
      status: 401,
      method: "POST",
      body: "<Error><Code>401</Code><Detail>SubCode=40100: Unauthorized : Unauthorized access for 'Send' operation on endpoint 'sb://eh-telemetry.servicebus.windows.net/devices'.</Detail></Error>",
    },
    token: { aud: "https://eventhubs.azure.net" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "eventhubs",
      steps: ['"Azure Event Hubs Data Sender"'],
      evidence: ["chosen by the token's audience"],
    },
  },
  {
    name: "eventhubs told apart by the path (/partitions/)",
    response: {
      url: "https://eh-telemetry.servicebus.windows.net/devices/partitions/0/messages",
      status: 401,
      method: "POST",
      body: "<Error><Code>401</Code><Detail>Unauthorized access for 'Send' operation on endpoint.</Detail></Error>",
    },
    expect: { hypothesis: "H2", service: "eventhubs", evidence: ["chosen by the request path"] },
  },
  {
    name: "servicebus/eventhubs ambiguous: assumed Service Bus, Event Hubs named as the alternative",
    response: {
      url: "https://ns-shared.servicebus.windows.net/orders/messages",
      status: 401,
      method: "POST",
      body: "<Error><Code>401</Code><Detail>Unauthorized access for 'Send' operation on endpoint 'sb://ns-shared.servicebus.windows.net/orders'.</Detail></Error>",
    },
    expect: { hypothesis: "H2", service: "servicebus", evidence: ["nothing told them apart"], steps: ['"Azure Event Hubs Data Sender" instead'] },
  },
  {
    name: "servicebus 401 with a valid token and no detail → H2 (401 means forbidden)",
    response: { url: "https://sb-orders.servicebus.windows.net/orders/messages/head", status: 401, method: "DELETE" },
    token: { aud: "https://servicebus.azure.net" },
    expect: { hypothesis: "H2", confidence: "medium", service: "servicebus", steps: ['"Azure Service Bus Data Receiver"'] },
  },

  // ── Cosmos DB ────────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "cosmos 403 substatus 5301 readMetadata → Data Reader via cosmosdb sql role assignment",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs/orders/colls/items/docs",
      status: 403,
      headers: { "x-ms-substatus": "5301" },
      body: json({
        code: "Forbidden",
        message: `Request blocked by Auth cosmos-orders : Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/]. Learn more: https://aka.ms/cosmos-native-rbac.\r\nActivityId: 1, Microsoft.Azure.Documents.Common/2.14.0`,
      }),
    },
    token: { aud: "https://cosmos-orders.documents.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "cosmos",
      fingerprint: "cosmos.rbac-substatus",
      steps: [
        `az cosmosdb sql role assignment create --account-name cosmos-orders --resource-group "$RG" --role-definition-id 00000000-0000-0000-0000-000000000001 --principal-id ${OID} --scope "/"`,
        "not an Azure RBAC role",
      ],
    },
  },
  {
    name: "cosmos 403 items/create → Data Contributor (message only, no substatus)",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs/orders/colls/items/docs",
      status: 403,
      method: "POST",
      body: json({
        code: "Forbidden",
        message: `Request blocked by Auth cosmos-orders : Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create] on resource [dbs/orders/colls/items].`,
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: { hypothesis: "H2", service: "cosmos", steps: ["00000000-0000-0000-0000-000000000002"] },
  },
  {
    name: "cosmos 403 substatus 5301 items/read on a container → --scope of that container, account-wide as the alternative",
    response: {
      url: "https://cosmos-shop.documents.azure.com/dbs/shop/colls/orders/docs/o-1",
      status: 403,
      method: "GET",
      headers: { "x-ms-substatus": "5301" },
      body: json({
        code: "Forbidden",
        message: `Request blocked by Auth cosmos-shop : Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read] on resource [dbs/shop/colls/orders]. Learn more: https://aka.ms/cosmos-native-rbac.\r\nActivityId: 1, Microsoft.Azure.Documents.Common/2.14.0`,
      }),
    },
    token: { aud: "https://cosmos-shop.documents.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "cosmos",
      fingerprint: "cosmos.rbac-substatus",
      steps: [
        `az cosmosdb sql role assignment create --account-name cosmos-shop --resource-group "$RG" --role-definition-id 00000000-0000-0000-0000-000000000001 --principal-id ${OID} --scope "/dbs/shop/colls/orders"`,
        '--scope "/" ',
        "whole account cosmos-shop",
      ],
      summary: ["dbs/shop/colls/orders"],
    },
  },
  {
    name: 'cosmos 403 resource quoted with a leading slash (/dbs/shop) → --scope "/dbs/shop"',
    response: {
      url: "https://cosmos-shop.documents.azure.com/dbs/shop/colls",
      status: 403,
      headers: { "x-ms-substatus": "5301" },
      body: json({
        code: "Forbidden",
        message: `Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/dbs/shop].`,
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: { hypothesis: "H2", service: "cosmos", steps: ['--scope "/dbs/shop"', '--scope "/" '] },
  },
  {
    name: "cosmos 403 resource [/] → account scope, no narrower alternative",
    response: {
      url: "https://cosmos-shop.documents.azure.com/dbs",
      status: 403,
      headers: { "x-ms-substatus": "5301" },
      body: json({
        code: "Forbidden",
        message: `Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/].`,
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: {
      hypothesis: "H2",
      service: "cosmos",
      steps: ['--principal-id 11111111-2222-3333-4444-555555555555 --scope "/"'],
      absentFromSteps: ['--scope "//', "Alternative:"],
    },
  },
  {
    name: "cosmos 403 resource with shell metacharacters is not pasted into the command",
    response: {
      url: "https://cosmos-shop.documents.azure.com/dbs",
      status: 403,
      headers: { "x-ms-substatus": "5301" },
      body: json({
        code: "Forbidden",
        message: `Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [dbs/x"; rm -rf ~; echo "/colls/$(id)].`,
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: { hypothesis: "H2", service: "cosmos", steps: [`--principal-id ${OID} --scope "/"`], absentFromSteps: ["rm -rf", "$(id)"] },
  },
  {
    // Wording from an integration test, not yet confirmed against the docs (see the fingerprint's comment).
    name: "cosmos 401 AAD token issued by a tenant that does not own the account → H4 wrong tenant",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs/orders/colls/items/docs",
      status: 401,
      body: json({
        code: "Unauthorized",
        message: `Request blocked by Auth cosmos-orders : Provided AAD token was issued by a tenant [${OTHER_TENANT}] that does not own this account [cosmos-orders].\r\nActivityId: 1, Microsoft.Azure.Documents.Common/2.14.0`,
      }),
    },
    expect: { hypothesis: "H4", confidence: "high", service: "cosmos", fingerprint: "cosmos.foreign-tenant", steps: [OTHER_TENANT] },
  },
  {
    name: "cosmos 401 foreign tenant, reworded (Entra, no brackets, LF) with the token of that tenant",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs",
      status: 401,
      body: json({
        code: "Unauthorized",
        message: `Request blocked by Auth cosmos-orders :\nProvided Entra token was issued by tenant ${OTHER_TENANT} which does not own the account cosmos-orders.`,
      }),
    },
    token: { aud: "https://cosmos.azure.com", tid: OTHER_TENANT },
    expect: { hypothesis: "H4", confidence: "high", service: "cosmos", fingerprint: "cosmos.foreign-tenant" },
  },
  {
    name: "cosmos 403 firewall",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs",
      status: 403,
      body: json({
        code: "Forbidden",
        message:
          "Request originated from IP 20.1.2.3 through public internet. This is blocked by your Cosmos DB account firewall settings. More info: https://aka.ms/cosmosdb-tsg-forbidden\r\nActivityId: 1",
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: { hypothesis: "not-identity", confidence: "high", service: "cosmos" },
  },
  {
    name: "cosmos 403 substatus 5300 (control-plane operation)",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs",
      status: 403,
      method: "POST",
      headers: { "x-ms-substatus": "5300" },
      body: json({
        code: "Forbidden",
        message: "Request blocked by Auth cosmos-orders : The given request [POST /dbs] cannot be authorized by AAD token in data plane.",
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "medium",
      service: "cosmos",
      fingerprint: "cosmos.control-plane-operation",
      steps: ["az cosmosdb sql container create"],
    },
  },
  {
    name: "cosmos 401 MAC signature (key auth, not the managed identity)",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs",
      status: 401,
      body: json({
        code: "Unauthorized",
        message:
          "The input authorization token can't serve the request. The wrong key is being used or the expected payload is not built as per the protocol. For more info: https://aka.ms/cosmosdb-tsg-mac-signature",
      }),
    },
    expect: { hypothesis: "not-identity", service: "cosmos" },
  },

  // ── Microsoft Graph ──────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "graph 401 invalid audience (token for Key Vault)",
    response: {
      url: "https://graph.microsoft.com/v1.0/users",
      status: 401,
      headers: {
        "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      },
      body: json({
        error: {
          code: "InvalidAuthenticationToken",
          message: "Access token validation failure. Invalid audience.",
          innerError: { date: "2025-05-01T12:00:00", "request-id": "r", "client-request-id": "c" },
        },
      }),
    },
    token: { aud: "https://vault.azure.net" },
    expect: { hypothesis: "H3", confidence: "high", service: "graph", steps: ["https://graph.microsoft.com/.default"] },
  },
  {
    name: "graph 401 expired (fingerprint)",
    response: {
      url: "https://graph.microsoft.com/v1.0/users",
      status: 401,
      body: json({ error: { code: "InvalidAuthenticationToken", message: "Lifetime validation failed, the token is expired." } }),
    },
    expect: { hypothesis: "H4", confidence: "high", service: "graph", fingerprint: "graph.expired" },
  },
  {
    name: "graph 401 InvalidAuthenticationToken 'Invalid issuer', no token → H4 medium (issuer wording beats Graph's catch-all)",
    response: {
      url: "https://graph.microsoft.com/v1.0/users",
      status: 401,
      body: json({
        error: {
          code: "InvalidAuthenticationToken",
          message: "Access token validation failure. Invalid issuer.",
          innerError: { date: "2025-05-01T12:00:00", "request-id": "r", "client-request-id": "c" },
        },
      }),
    },
    expect: { hypothesis: "H4", confidence: "medium", service: "graph", errorCode: "InvalidAuthenticationToken", fingerprint: "generic.issuer" },
  },
  {
    name: "graph 401 'Invalid issuer', token of another tenant, challenge with the common authority → H4 medium",
    response: {
      url: "https://graph.microsoft.com/v1.0/users",
      status: 401,
      headers: {
        "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      },
      body: json({ error: { code: "InvalidAuthenticationToken", message: "Access token validation failure. Invalid issuer." } }),
    },
    token: { aud: "https://graph.microsoft.com", tid: OTHER_TENANT },
    expect: { hypothesis: "H4", confidence: "medium", service: "graph", fingerprint: "generic.issuer" },
  },
  {
    name: "graph 401 'Invalid issuer', token's tid differs from the challenge's tenant → H4 high",
    response: {
      url: "https://graph.microsoft.com/v1.0/users",
      status: 401,
      headers: {
        "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/${TENANT}/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
      },
      body: json({ error: { code: "InvalidAuthenticationToken", message: "Access token validation failure. Invalid issuer." } }),
    },
    token: { aud: "https://graph.microsoft.com", tid: OTHER_TENANT },
    expect: {
      hypothesis: "H4",
      confidence: "high",
      service: "graph",
      rule: "claims.wrong-tenant",
      checks: [{ kind: "tenant", verdict: "fail", actual: OTHER_TENANT, expected: TENANT, confirmedBy: "token" }],
      summary: [OTHER_TENANT, TENANT],
    },
  },
  {
    name: "graph 401 InvalidAuthenticationToken without a specific reason stays unknown (catch-all)",
    response: {
      url: "https://graph.microsoft.com/v1.0/me",
      status: 401,
      body: json({ error: { code: "InvalidAuthenticationToken", message: "IDX14100: JWT is not well formed, there are no dots (.)." } }),
    },
    expect: { hypothesis: "unknown", service: "graph", fingerprint: "graph.invalid-token" },
  },
  {
    name: "graph 403 Authorization_RequestDenied → app-role assignment",
    response: {
      url: "https://graph.microsoft.com/v1.0/users?$select=id",
      status: 403,
      method: "GET",
      body: json({
        error: {
          code: "Authorization_RequestDenied",
          message: "Insufficient privileges to complete the operation.",
          innerError: { date: "2025-05-01T12:00:00" },
        },
      }),
    },
    token: { aud: "https://graph.microsoft.com", extra: { roles: ["Group.Read.All"] } },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "graph",
      // The endpoint names the permission (GET /users → User.Read.All) and its app role id is filled in.
      steps: [`https://graph.microsoft.com/v1.0/servicePrincipals/${OID}/appRoleAssignments`, 'APP_ROLE_ID="df021288-bdef-4463-88db-98f22de89214"'],
      checks: [{ kind: "role", verdict: "fail", actual: "roles: Group.Read.All" }],
    },
  },
  {
    name: "graph 403 no roles claim at all",
    response: {
      url: "https://graph.microsoft.com/v1.0/groups",
      status: 403,
      body: json({ error: { code: "AccessDenied", message: "Either scp or roles claim need to be present in the token." } }),
    },
    token: { aud: "00000003-0000-0000-c000-000000000000", ver: "2.0" },
    expect: { hypothesis: "H2", confidence: "high", service: "graph", fingerprint: "graph.no-roles", steps: ["GroupMember.Read.All"] },
  },
  {
    name: "graph US Gov host",
    response: {
      url: "https://graph.microsoft.us/v1.0/users",
      status: 403,
      body: json({ error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } }),
    },
    token: { aud: "https://graph.microsoft.us" },
    expect: { hypothesis: "H2", service: "graph", steps: ["https://graph.microsoft.us/v1.0/servicePrincipals"] },
  },

  // ── Resource Manager ─────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "arm 401 InvalidAuthenticationTokenAudience",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}/resourcegroups?api-version=2021-04-01`,
      status: 401,
      headers: {
        "www-authenticate": `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The access token has been obtained for wrong audience or resource 'https://vault.azure.net'."`,
      },
      body: json({
        error: {
          code: "InvalidAuthenticationTokenAudience",
          message:
            "The access token has been obtained for wrong audience or resource 'https://vault.azure.net'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
        },
      }),
    },
    token: { aud: "https://vault.azure.net" },
    expect: { hypothesis: "H3", confidence: "high", service: "arm", steps: ["https://management.azure.com/.default"] },
  },
  {
    name: "arm 401 ExpiredAuthenticationToken (fingerprint)",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}?api-version=2022-12-01`,
      status: 401,
      body: json({
        error: {
          code: "ExpiredAuthenticationToken",
          message: "The access token expiry UTC time '5/1/2025 11:00:00 AM' is earlier than current UTC time '5/1/2025 12:00:00 PM'.",
        },
      }),
    },
    expect: { hypothesis: "H4", confidence: "high", service: "arm", fingerprint: "arm.expired" },
  },
  {
    name: "arm 401 InvalidAuthenticationTokenTenant: tenant from the message",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}?api-version=2022-12-01`,
      status: 401,
      body: json({
        error: {
          code: "InvalidAuthenticationTokenTenant",
          message: `The access token is from the wrong issuer 'https://sts.windows.net/${OTHER_TENANT}/'. It must match the tenant 'https://sts.windows.net/${TENANT}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${TENANT}' to get the token.`,
        },
      }),
    },
    token: { aud: "https://management.azure.com", tid: OTHER_TENANT },
    expect: { hypothesis: "H4", confidence: "high", service: "arm", rule: "claims.wrong-tenant", checks: [{ kind: "tenant", verdict: "fail" }] },
  },
  {
    name: "arm 403 AuthorizationFailed read → Reader at the quoted scope",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders?api-version=2022-03-01`,
      status: 403,
      method: "GET",
      body: arm403("Microsoft.Web/sites/read", `/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders`),
    },
    token: { aud: "https://management.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "arm",
      steps: [`--role "Reader" --scope "/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders"`],
    },
  },
  {
    name: "arm 403 AuthorizationFailed: control-plane wording (no 'data-plane' role, no control-plane warning)",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders?api-version=2022-03-01`,
      status: 403,
      method: "GET",
      body: arm403("Microsoft.Web/sites/read", `/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders`),
    },
    token: { aud: "https://management.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "arm",
      steps: ['Grant the least-privilege role "Reader" at the exact scope'],
      absentFromSteps: ["data-plane", "control-plane", "data access"],
    },
  },
  {
    name: "arm 401 InvalidAuthenticationToken with 'Invalid issuer' wording → H4 (issuer beats ARM's catch-all)",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}?api-version=2022-12-01`,
      status: 401,
      body: json({ error: { code: "InvalidAuthenticationToken", message: "The access token is invalid. Invalid issuer." } }),
    },
    expect: { hypothesis: "H4", confidence: "medium", service: "arm", fingerprint: "generic.issuer" },
  },
  {
    name: "arm 403 AuthorizationFailed write → Website Contributor (the role made for web apps, not Contributor)",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders/restart?api-version=2022-03-01`,
      status: 403,
      method: "POST",
      body: arm403("Microsoft.Web/sites/restart/action", `/subscriptions/${SUB}/resourceGroups/rg-orders/providers/Microsoft.Web/sites/app-orders`),
    },
    token: { aud: "https://management.core.windows.net/" },
    expect: { hypothesis: "H2", service: "arm", steps: ['--role "Website Contributor"'] },
  },
  {
    name: "arm 403 RequestDisallowedByPolicy",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x?api-version=2023-01-01`,
      status: 403,
      body: json({ error: { code: "RequestDisallowedByPolicy", message: "Resource 'x' was disallowed by policy." } }),
    },
    token: { aud: "https://management.azure.com" },
    expect: { hypothesis: "not-identity", confidence: "high", service: "arm" },
  },
  {
    name: "arm China host with the public audience → other cloud",
    response: {
      url: `https://management.chinacloudapi.cn/subscriptions/${SUB}?api-version=2022-12-01`,
      status: 401,
      body: json({
        error: {
          code: "InvalidAuthenticationTokenAudience",
          message: "The access token has been obtained for wrong audience or resource 'https://management.azure.com'.",
        },
      }),
    },
    token: { aud: "https://management.azure.com" },
    expect: { hypothesis: "H3", confidence: "high", service: "arm", steps: ["https://management.chinacloudapi.cn/.default"] },
  },

  // ── App Configuration ────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "appconfig 401 HMAC + Bearer challenge, no body, token for Key Vault",
    response: {
      url: "https://appcs-orders.azconfig.io/kv?api-version=2023-11-01",
      status: 401,
      headers: { "www-authenticate": 'HMAC-SHA256, Bearer error="invalid_token", error_description="Authorization token failed validation"' },
    },
    token: { aud: "https://vault.azure.net" },
    expect: { hypothesis: "H3", confidence: "high", service: "appconfig", steps: ["https://appconfig.azure.com/.default"] },
  },
  {
    name: "appconfig 401 generic challenge without token → unknown",
    response: {
      url: "https://appcs-orders.azconfig.io/kv",
      status: 401,
      headers: { "www-authenticate": 'HMAC-SHA256, Bearer error="invalid_token", error_description="Authorization token failed validation"' },
    },
    expect: { hypothesis: "unknown", service: "appconfig", fingerprint: "appconfig.token-failed-validation" },
  },
  {
    name: "appconfig 401 wrong issuer",
    response: {
      url: "https://appcs-orders.azconfig.io/kv",
      status: 401,
      headers: {
        "www-authenticate":
          'HMAC-SHA256, Bearer error="invalid_token", error_description="The access token is from the wrong issuer. It must match the AAD tenant associated with this configuration store."',
      },
    },
    expect: { hypothesis: "H4", confidence: "high", service: "appconfig" },
  },
  {
    name: "appconfig 403 → App Configuration Data Reader",
    response: {
      url: "https://appcs-orders.azconfig.io/kv/feature?api-version=2023-11-01",
      status: 403,
      method: "GET",
      body: json({
        type: "https://azconfig.io/errors/forbidden",
        title: "Forbidden",
        detail: "The principal making the request doesn't have the required permissions to perform this operation.",
        status: 403,
      }),
    },
    token: { aud: "https://appconfig.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "appconfig",
      steps: ['"App Configuration Data Reader"', "up to 15 minutes", '"App Configuration Contributor"'],
    },
  },

  // ── Azure OpenAI ─────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "openai 401 ambiguous token message without token → H3 low",
    response: {
      url: "https://oai-orders.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
      status: 401,
      body: json({
        error: {
          code: "401",
          message: "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
        },
      }),
    },
    expect: { hypothesis: "H3", confidence: "low", service: "openai" },
  },
  {
    name: "openai 401 ambiguous message, the token decides: expired",
    response: {
      url: "https://oai-orders.openai.azure.com/openai/deployments/gpt/chat/completions",
      status: 401,
      body: json({
        error: {
          code: "401",
          message: "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.",
        },
      }),
    },
    token: { aud: "https://cognitiveservices.azure.com", exp: -900 },
    expect: { hypothesis: "H4", confidence: "high", service: "openai" },
  },
  {
    name: "openai 401 PermissionDenied → Cognitive Services OpenAI User",
    response: {
      url: "https://oai-orders.openai.azure.com/openai/deployments/gpt/chat/completions",
      status: 401,
      method: "POST",
      body: json({ error: { code: "PermissionDenied", message: "Principal does not have access to API/Operation." } }),
    },
    token: { aud: "https://cognitiveservices.azure.com" },
    expect: { hypothesis: "H2", confidence: "high", service: "openai", steps: ['"Cognitive Services OpenAI User"', '"Cognitive Services Contributor"'] },
  },
  {
    name: "openai 401 lacks data action, principal from the message",
    response: {
      url: "https://oai-orders.openai.azure.com/openai/deployments/gpt/chat/completions",
      status: 401,
      body: json({
        error: {
          code: "PermissionDenied",
          message: `The principal \`${OID}\` lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action\` to perform \`POST /openai/deployments/{deployment-id}/chat/completions\` operation.`,
        },
      }),
    },
    expect: { hypothesis: "H2", confidence: "high", service: "openai", steps: [`--assignee-object-id ${OID}`] },
  },
  {
    name: "openai 403 VNet/firewall",
    response: {
      url: "https://oai-orders.openai.azure.com/openai/deployments/gpt/chat/completions",
      status: 403,
      body: json({ error: { code: "403", message: "Access denied due to Virtual Network/Firewall rules." } }),
    },
    token: { aud: "https://cognitiveservices.azure.com" },
    expect: { hypothesis: "not-identity", confidence: "high", service: "openai" },
  },
  {
    name: "openai 403 private endpoint",
    response: {
      url: "https://oai-orders.cognitiveservices.azure.com/openai/deployments/gpt/embeddings",
      status: 403,
      body: json({ error: { code: "403", message: "Traffic is not from an approved private endpoint." } }),
    },
    expect: { hypothesis: "not-identity", confidence: "high", service: "openai" },
  },

  // ── Event Grid ───────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "eventgrid 401 with a valid token → H2 (401 means forbidden)",
    response: {
      url: "https://egt-orders.westeurope-1.eventgrid.azure.net/api/events?api-version=2018-01-01",
      status: 401,
      method: "POST",
      body: json({ error: { code: "Unauthorized", message: "The request authorization failed." } }),
    },
    token: { aud: "https://eventgrid.azure.net" },
    expect: { hypothesis: "H2", confidence: "medium", service: "eventgrid", steps: ['"EventGrid Data Sender"'] },
  },
  {
    name: "eventgrid namespace 403 quota → not identity",
    response: {
      url: "https://egns.westeurope-1.eventgrid.azure.net/topics/orders:publish?api-version=2023-11-01",
      status: 403,
      body: json({ error: { code: "Forbidden", message: "Publishing is not allowed: the namespace quota has been exceeded." } }),
    },
    token: { aud: "https://eventgrid.azure.net" },
    expect: { hypothesis: "not-identity", confidence: "high", service: "eventgridnamespaces" },
  },
  {
    name: "eventgrid namespace bare 403 → not identity, medium",
    response: { url: "https://egns.westeurope-1.eventgrid.azure.net/topics/orders:publish", status: 403 },
    expect: { hypothesis: "not-identity", confidence: "medium", service: "eventgridnamespaces" },
  },

  // ── Monitor ingestion ────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "monitor 403 DCR → Monitoring Metrics Publisher on the DCR",
    response: {
      url: "https://dce-orders-a1b2.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/dcr-00112233445566778899aabbccddeeff/streams/Custom-Orders?api-version=2023-01-01",
      status: 403,
      method: "POST",
      body: json({
        error: {
          code: "OperationFailed",
          message:
            "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id 'dcr-00112233445566778899aabbccddeeff' PipelineAccessResult: AccessGranted, IsRbacPresent: False, IsDcrDceBindingValid: True",
        },
      }),
    },
    token: { aud: "https://monitor.azure.com" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "monitor",
      steps: ['"Monitoring Metrics Publisher"', "immutableId=='dcr-00112233445566778899aabbccddeeff'"],
    },
  },

  // ── Container Registry ───────────────────────────────────────────────────────────────────────────────────────
  {
    name: "acr 401 UNAUTHORIZED pull → AcrPull",
    response: {
      url: "https://crorders.azurecr.io/v2/orders-api/manifests/1.4.2",
      status: 401,
      method: "GET",
      headers: {
        "www-authenticate":
          'Bearer realm="https://crorders.azurecr.io/oauth2/token",service="crorders.azurecr.io",scope="repository:orders-api:pull",error="insufficient_scope"',
      },
      body: json({
        errors: [
          {
            code: "UNAUTHORIZED",
            message: "authentication required, visit https://aka.ms/acr/authorization for more information.",
            detail: [{ Type: "repository", Name: "orders-api", Action: "pull" }],
          },
        ],
      }),
    },
    token: { aud: "crorders.azurecr.io" },
    expect: { hypothesis: "H2", service: "acr", steps: ['--role "AcrPull"', "$(az acr show --name crorders --query id --output tsv)"] },
  },
  {
    name: "acr 401 push → AcrPush",
    response: {
      url: "https://crorders.azurecr.io/v2/orders-api/blobs/uploads/",
      status: 401,
      method: "POST",
      body: json({
        errors: [{ code: "UNAUTHORIZED", message: "authentication required", detail: [{ Type: "repository", Name: "orders-api", Action: "push" }] }],
      }),
    },
    expect: { hypothesis: "H2", service: "acr", steps: ['"AcrPush"'] },
  },
  {
    name: "acr 403 DENIED client IP",
    response: {
      url: "https://crorders.azurecr.io/v2/",
      status: 403,
      body: json({
        errors: [{ code: "DENIED", message: "client with IP '20.1.2.3' is not allowed access. Refer https://aka.ms/acr/firewall to grant access." }],
      }),
    },
    expect: { hypothesis: "not-identity", confidence: "high", service: "acr" },
  },

  // ── Evidence from claims, across services ────────────────────────────────────────────────────────────────────
  {
    name: "identity mix-up: configured client id differs from the token's (body says RBAC)",
    response: {
      url: KV,
      status: 403,
      body: json({ error: { code: "Forbidden", message: keyVaultRbacMessage("\r\n", OTHER_OID), innererror: { code: "ForbiddenByRbac" } } }),
    },
    token: { oid: OTHER_OID, appid: "12121212-3434-5656-7878-909090909090" },
    context: { expectedIdentity: { clientId: CLIENT_ID } },
    expect: {
      hypothesis: "H4",
      confidence: "high",
      service: "keyvault",
      summary: ["configured for clientId"],
      steps: [`new DiagnosticCredential("${CLIENT_ID}")`],
    },
  },
  {
    name: "identity mix-up from the body alone (no token): caller oid differs from the configured object id",
    response: {
      url: KV,
      status: 403,
      body: json({ error: { code: "Forbidden", message: keyVaultRbacMessage("\r\n", OTHER_OID), innererror: { code: "ForbiddenByRbac" } } }),
    },
    context: { expectedIdentity: { objectId: OID } },
    expect: { hypothesis: "H4", confidence: "high", service: "keyvault", summary: [OTHER_OID, OID] },
  },
  {
    name: "the service saw another principal than the token's (several identities in play)",
    response: {
      url: "https://cosmos-orders.documents.azure.com/dbs",
      status: 403,
      headers: { "x-ms-substatus": "5301" },
      body: json({
        code: "Forbidden",
        message: `Request is blocked because principal [${OTHER_OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/].`,
      }),
    },
    token: { aud: "https://cosmos.azure.com" },
    expect: { hypothesis: "H4", confidence: "medium", service: "cosmos" },
  },
  {
    name: "token not yet valid (clock skew beyond 5 minutes)",
    response: { url: "https://storders.blob.core.windows.net/x", status: 401, headers: { "x-ms-error-code": "InvalidAuthenticationInfo" } },
    token: { aud: "https://storage.azure.com", nbf: 1200, iat: 1200 },
    expect: { hypothesis: "H4", confidence: "high", service: "storage", summary: ["not valid before"] },
  },
  {
    name: "token of another tenant than the challenge's",
    response: {
      url: "https://storders.blob.core.windows.net/x",
      status: 401,
      headers: { "www-authenticate": STORAGE_CHALLENGE, "x-ms-error-code": "InvalidAuthenticationInfo" },
    },
    token: { aud: "https://storage.azure.com", tid: OTHER_TENANT },
    expect: { hypothesis: "H4", confidence: "high", service: "storage", rule: "claims.wrong-tenant", checks: [{ kind: "tenant", verdict: "fail" }] },
  },
  {
    name: "CAE insufficient_claims with a token issued before the revocation",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}?api-version=2022-12-01`,
      status: 401,
      headers: {
        "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${CAE_CLAIMS}"`,
      },
    },
    token: { aud: "https://management.azure.com", iat: -3600, nbf: -3600 },
    expect: {
      hypothesis: "H4",
      confidence: "high",
      service: "arm",
      summary: ["insufficient_claims"],
      fingerprint: "generic.insufficient-claims",
      checks: [{ kind: "claims-challenge", verdict: "fail", confirmedBy: "token" }],
    },
  },
  {
    name: "CAE insufficient_claims without a token",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}`,
      status: 401,
      headers: {
        "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${CAE_CLAIMS}"`,
      },
    },
    expect: { hypothesis: "H4", confidence: "medium", service: "arm" },
  },
  {
    name: "arm 401 invalid_token challenge, valid-looking token → unknown",
    response: {
      url: `https://management.azure.com/subscriptions/${SUB}`,
      status: 401,
      headers: {
        "www-authenticate":
          'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
      },
    },
    token: { aud: "https://management.azure.com" },
    expect: { hypothesis: "unknown", service: "arm" },
  },

  // ── Unknown hosts ────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: "unknown host 403 → H2 low",
    response: { url: "https://api.contoso.example/orders", status: 403 },
    expect: { hypothesis: "H2", confidence: "low", service: undefined },
  },
  {
    name: "unknown host 401: challenge names the expected resource, token for another → H3 high",
    response: { url: "https://files.contoso.example/x", status: 401, headers: { "www-authenticate": STORAGE_CHALLENGE } },
    token: { aud: "https://vault.azure.net" },
    expect: { hypothesis: "H3", confidence: "high", summary: ["https://storage.azure.com"] },
  },
  {
    name: "unknown host (custom domain) recognised from the service's words: AKV10022",
    response: {
      url: "https://secrets.contoso.example/secrets/x",
      status: 401,
      body: json({
        error: { code: "Unauthorized", message: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/." },
      }),
    },
    expect: { hypothesis: "H3", confidence: "high", service: "keyvault" },
  },
  {
    name: "unknown host 401 with generic audience wording → H3 medium",
    response: {
      url: "https://api.contoso.example/x",
      status: 401,
      body: json({ error: "invalid_token", error_description: "The audience 'https://foo' is invalid" }),
    },
    expect: { hypothesis: "H3", confidence: "medium" },
  },
  {
    name: "custom service defined through services, unknown GUID audience is not judged",
    response: { url: "https://orders-api.contoso.example/orders", status: 403 },
    token: { aud: "api://5e6f7a8b-0000-1111-2222-333344445555" },
    context: {
      services: [
        {
          name: "orders-api",
          hosts: ["orders-api.contoso.example"],
          audiences: ["api://5e6f7a8b-0000-1111-2222-333344445555"],
          roles: [{ operation: "call", role: "Orders.Reader" }],
        },
      ],
    },
    expect: { hypothesis: "H2", service: "orders-api", steps: ['"Orders.Reader"'] },
  },

  // ── Not ours ─────────────────────────────────────────────────────────────────────────────────────────────────
  { name: "200 is not a failure", response: { url: KV, status: 200, body: "{}" }, expect: { hypothesis: undefined } },
  {
    name: "404 is not an auth failure",
    response: {
      url: KV,
      status: 404,
      body: json({ error: { code: "SecretNotFound", message: "A secret with (name/id) x was not found in this key vault." } }),
    },
    expect: { hypothesis: undefined },
  },
  {
    name: "429 is not an auth failure",
    response: { url: "https://storders.blob.core.windows.net/x", status: 429, headers: { "retry-after": "10" } },
    expect: { hypothesis: undefined },
  },
  {
    name: "500 is not an auth failure",
    response: { url: "https://graph.microsoft.com/v1.0/users", status: 500, body: "oops" },
    expect: { hypothesis: undefined },
  },
];

/** Classifies a shape with its generated token, at NOW. */
export async function classifyShape(shape: Shape): Promise<{ diagnosis: Diagnosis | undefined; token: string | undefined }> {
  const token = shape.token !== undefined ? await makeToken(shape.token) : undefined;
  const diagnosis = classifyResponse(shape.response, { now: NOW, ...(shape.context ?? {}), ...(token !== undefined ? { token } : {}) });
  return { diagnosis, token };
}
