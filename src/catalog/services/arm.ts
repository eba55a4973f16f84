import type { ServiceDefinition } from "../types.js";
import { GUID, quote } from "./shared.js";

const ARM_RESOURCE_ID = /^\/subscriptions\/[^/]+(?:\/resourcegroups\/[^/]+(?:\/providers\/[^/]+\/[^/]+\/[^/]+)?)?/i;

export const ARM: ServiceDefinition = {
  name: "arm",
  displayName: "Azure Resource Manager",
  ownsResourceIds: true,
  quotes: [
    quote("callerObjectId", new RegExp(`object id '(${GUID})'`, "i"), "object id '"),
    quote("callerAppId", new RegExp(`the client '(${GUID})'`, "i"), "the client '"),
    quote("resource", /\bover scope '([^']{1,1024})'/gi, "over scope '"),
    quote("action", /perform action '([^']{1,256})'/gi, "perform action '"),
    quote("resourceTenantId", new RegExp(`must match the tenant '?https?://[^/\\s']+/(${GUID})`, "i"), "must match the tenant "),
  ],
  hostSuffixes: [],
  hosts: ["management.azure.com", "management.usgovcloudapi.net", "management.chinacloudapi.cn", "management.microsoftazure.de"],
  audiences: [
    "https://management.azure.com",
    "https://management.core.windows.net",
    "https://management.usgovcloudapi.net",
    "https://management.core.usgovcloudapi.net",
    "https://management.chinacloudapi.cn",
    "https://management.core.chinacloudapi.cn",
    "797f4846-ba00-4fd7-ba43-dac1f8f63013",
  ],
  audiencePatterns: [],
  scope: "https://management.azure.com/.default",
  scopeByHostSuffix: {
    "management.usgovcloudapi.net": "https://management.usgovcloudapi.net/.default",
    "management.chinacloudapi.cn": "https://management.chinacloudapi.cn/.default",
  },
  accessModel: "azure-rbac",
  // api-version is required (MissingApiVersionParameter); this one fits the subscription and resource-group reads only.
  probe: { query: { "api-version": "2022-12-01" }, path: /^\/subscriptions(\/[^/]+(\/resourcegroups(\/[^/]+)?)?)?\/?$/i },
  roles: [
    { operation: "read", role: "Reader" },
    { operation: "write", role: "Contributor", when: { action: /\/(write|delete|action)$/i } },
    { operation: "read", role: "Reader", when: { action: /\/read$/i } },
    { operation: "write", role: "Contributor", when: { methods: ["PUT", "PATCH", "DELETE", "POST"] } },
  ],
  // Resource Manager's roles are control-plane roles: the grant wording drops "data-plane" and its warning.
  plane: "control",
  controlPlaneRoles: [],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  docs: "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting",
  scopeHints: [
    { from: "resource", pattern: /^\/.*/, template: "{0}" },
    { from: "path", pattern: ARM_RESOURCE_ID, template: "{0}" },
  ],
  fingerprints: [
    {
      id: "arm.audience",
      code: "WrongAudience",
      confidence: "high",
      status: 401,
      errorCode: "InvalidAuthenticationTokenAudience",
      meaning: "Resource Manager refused the token's audience",
    },
    {
      id: "arm.expired",
      code: "StaleTokenOrIdentityMixup",
      confidence: "high",
      status: 401,
      errorCode: "ExpiredAuthenticationToken",
      meaning: "Resource Manager refused an expired token",
    },
    {
      id: "arm.tenant",
      code: "StaleTokenOrIdentityMixup",
      confidence: "high",
      status: 401,
      errorCode: "InvalidAuthenticationTokenTenant",
      meaning: "the token is from another tenant than the subscription's",
    },
    {
      id: "arm.authorization-failed",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      status: 403,
      errorCode: ["AuthorizationFailed", "LinkedAuthorizationFailed"],
      meaning: "the caller has no Azure role allowing this action at this scope",
    },
    {
      id: "arm.policy",
      code: "NotAnIdentityProblem",
      confidence: "high",
      status: 403,
      errorCode: "RequestDisallowedByPolicy",
      meaning: "an Azure Policy assignment denied the request: the identity was authorized",
    },
    {
      id: "arm.invalid-token",
      code: "Unknown",
      confidence: "medium",
      fallback: true,
      status: 401,
      errorCode: "InvalidAuthenticationToken",
      meaning: "Resource Manager refused the token (format, signature or issuer)",
    },
  ],
};
