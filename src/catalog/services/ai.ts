import type { ServiceDefinition } from "../types.js";
import { GUID, op, quote } from "./shared.js";

/**
 * How the AI services quote the caller and the action: "The principal `<oid>` lacks the required data action
 * `Microsoft.CognitiveServices/…` to perform `POST /openai/…` operation." (also without the backticks).
 */
const AI_QUOTES = [
  quote("callerObjectId", new RegExp(`principal [\`'"]?(${GUID})[\`'"]?`, "i"), "principal "),
  quote("action", /data action [`'"]?(Microsoft\.CognitiveServices\/[^`'"\s]{1,256})/gi, "data action "),
];

export const OPENAI: ServiceDefinition = {
  name: "openai",
  displayName: "Azure OpenAI / Cognitive Services",
  quotes: AI_QUOTES,
  hostSuffixes: [
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    ".openai.azure.us",
    ".cognitiveservices.azure.us",
    ".cognitiveservices.azure.cn",
    ".openai.azure.cn",
  ],
  hosts: [],
  audiences: ["https://cognitiveservices.azure.com", "https://cognitiveservices.azure.us", "https://cognitiveservices.azure.cn"],
  audiencePatterns: [],
  scope: "https://cognitiveservices.azure.com/.default",
  scopeByHostSuffix: {
    ".openai.azure.us": "https://cognitiveservices.azure.us/.default",
    ".cognitiveservices.azure.us": "https://cognitiveservices.azure.us/.default",
  },
  accessModel: "azure-rbac",
  roles: [
    { operation: "inference", role: "Cognitive Services OpenAI User" },
    { operation: "inference", role: "Cognitive Services OpenAI User", when: { action: /openai/i } },
    { operation: "inference", role: "Cognitive Services OpenAI User", when: { path: /^\/openai\//i } },
    { operation: "cognitive", role: "Cognitive Services User", when: { host: /\.cognitiveservices\./i } },
  ],
  controlPlaneRoles: ["Cognitive Services Contributor", "Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: true,
  resourceProvider: "Microsoft.CognitiveServices/accounts",
  docs: "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",
  // Shares `.services.ai.azure.com` and `.cognitiveservices.azure.com` with Azure AI Foundry: the path tells them apart.
  pathHints: [/^\/openai\//i],
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.cognitiveservices\/accounts\/[^/'\s]+/i,
      template: "{0}",
    },
    { from: "host", template: "$(az cognitiveservices account list --query \"[?name=='{name}'].id\" --output tsv)", label: "account {name}" },
  ],
  // Operation → action: the data actions "Cognitive Services OpenAI User" lists (the answer's `data action` names the same).
  operations: [
    op("POST", /^\/openai\/deployments\/[^/]+\/chat\/completions\/?$/i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"),
    op(
      "POST",
      /^\/openai\/deployments\/[^/]+\/extensions\/chat\/completions\/?$/i,
      "Microsoft.CognitiveServices/accounts/OpenAI/deployments/extensions/chat/completions/action",
    ),
    op("POST", /^\/openai\/deployments\/[^/]+\/completions\/?$/i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/completions/action"),
    op("POST", /^\/openai\/deployments\/[^/]+\/embeddings\/?$/i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"),
    op("POST", /^\/openai\/deployments\/[^/]+\/audio\//i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/audio/action"),
    op(
      "POST",
      /^\/openai\/deployments\/[^/]+\/images\/generations\/?$|^\/openai\/images\/generations/i,
      "Microsoft.CognitiveServices/accounts/OpenAI/images/generations/action",
    ),
    op("GET", /^\/openai\/(v1\/)?assistants/i, "Microsoft.CognitiveServices/accounts/OpenAI/assistants/read"),
    op("POST,DELETE", /^\/openai\/(v1\/)?assistants/i, "Microsoft.CognitiveServices/accounts/OpenAI/assistants/write"),
    op("GET", /^\/openai\/(v1\/)?threads/i, "Microsoft.CognitiveServices/accounts/OpenAI/assistants/threads/read"),
    op("POST,DELETE", /^\/openai\/(v1\/)?threads/i, "Microsoft.CognitiveServices/accounts/OpenAI/assistants/threads/write"),
    op("GET", /^\/openai\/(v1\/)?responses/i, "Microsoft.CognitiveServices/accounts/OpenAI/responses/read"),
    op("POST,DELETE", /^\/openai\/(v1\/)?responses/i, "Microsoft.CognitiveServices/accounts/OpenAI/responses/write"),
    op("POST", /^\/openai\/v1\/chat\/completions\/?$/i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"),
    op("POST", /^\/openai\/v1\/embeddings\/?$/i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"),
    op("GET", /^\/openai\/(v1\/)?(deployments|models)/i, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"),
  ],
  fingerprints: [
    {
      id: "openai.firewall",
      code: "NotAnIdentityProblem",
      confidence: "high",
      status: 403,
      message: /access denied due to virtual network\/firewall rules/i,
      meaning: "the account's firewall or VNet rules rejected the client",
    },
    {
      id: "openai.private-endpoint",
      code: "NotAnIdentityProblem",
      confidence: "high",
      status: 403,
      message: /traffic is not from an approved private endpoint/i,
      meaning: "the account only accepts traffic through its private endpoint",
    },
    {
      id: "openai.key-auth-disabled",
      code: "NotAnIdentityProblem",
      confidence: "medium",
      message: /key based authentication is disabled/i,
      meaning: "the client used an API key while key access is disabled: build the client with the credential instead",
    },
    {
      id: "openai.lacks-data-action",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /lacks the required data action/i,
      meaning: "the token was accepted but the identity has no role with this data action (the service answers 401 for this)",
    },
    {
      id: "openai.permission-denied",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      errorCode: "PermissionDenied",
      meaning: "the token was accepted but the identity has no role allowing this operation (the service answers 401 for this)",
    },
    {
      id: "openai.principal-no-access",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /principal does not have access to api\/operation/i,
      meaning: "the token was accepted but the identity has no role allowing this operation (the service answers 401 for this)",
    },
    {
      id: "openai.token-invalid",
      code: "WrongAudience",
      confidence: "low",
      status: 401,
      message: /access token is missing, invalid, audience is incorrect/i,
      meaning: "the token is missing, has the wrong audience or has expired (the service does not say which; wrong audience is the usual cause)",
    },
  ],
};

/**
 * Azure AI Foundry projects and agents (`https://<resource>.services.ai.azure.com/api/projects/<project>/…`): the
 * SDKs request the `https://ai.azure.com` audience; agents need "Azure AI User" (its `Microsoft.CognitiveServices/*`
 * data actions), which "Cognitive Services OpenAI User" does not give.
 */
export const AI_FOUNDRY: ServiceDefinition = {
  name: "aifoundry",
  displayName: "Azure AI Foundry",
  quotes: AI_QUOTES,
  hostSuffixes: [".services.ai.azure.com", ".cognitiveservices.azure.com"],
  hosts: [],
  audiences: ["https://ai.azure.com"],
  audiencePatterns: [],
  scope: "https://ai.azure.com/.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  roles: [
    { operation: "agents", role: "Azure AI User" },
    { operation: "agents", role: "Azure AI User", when: { action: /\/AIServices\//i } },
  ],
  controlPlaneRoles: ["Azure AI Account Owner", "Cognitive Services Contributor", "Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: true,
  resourceProvider: "Microsoft.CognitiveServices/accounts",
  docs: "https://learn.microsoft.com/azure/ai-foundry/concepts/rbac-azure-ai-foundry",
  pathHints: [/^\/api\/projects\//i],
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.cognitiveservices\/accounts\/[^/'\s]+/i,
      template: "{0}",
    },
    { from: "host", template: "$(az cognitiveservices account list --query \"[?name=='{name}'].id\" --output tsv)", label: "AI Foundry resource {name}" },
  ],
  // Operation → action: the agent service names `…/AIServices/agents/read` for reads and `…/agents/write` for the rest.
  operations: [
    op(
      "GET,HEAD",
      /^\/api\/projects\/[^/]+\/(assistants|agents|threads|runs|files|vector_stores)/i,
      "Microsoft.CognitiveServices/accounts/AIServices/agents/read",
    ),
    op(
      "POST,PUT,PATCH,DELETE",
      /^\/api\/projects\/[^/]+\/(assistants|agents|threads|runs|files|vector_stores)/i,
      "Microsoft.CognitiveServices/accounts/AIServices/agents/write",
    ),
  ],
  fingerprints: [
    {
      // "The principal `<oid>` lacks the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/read`
      // to perform `GET /api/projects/{projectName}/assistants` operation." Status: 401 (PermissionDenied)
      id: "aifoundry.lacks-data-action",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /lacks the required data action/i,
      meaning: 'the token was accepted but the identity has no role with this data action (agents need "Azure AI User"; the service answers 401 for this)',
    },
    {
      id: "aifoundry.permission-denied",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      errorCode: "PermissionDenied",
      meaning: "the token was accepted but the identity has no role allowing this operation (the service answers 401 for this)",
    },
  ],
};
