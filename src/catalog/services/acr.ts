import type { ServiceDefinition } from "../types.js";
import { op, quote } from "./shared.js";

export const CONTAINER_REGISTRY: ServiceDefinition = {
  name: "acr",
  displayName: "Azure Container Registry",
  quotes: [quote("action", /"action"\s*:\s*"([^"]{1,64})"/gi, '"action"')],
  hostSuffixes: [".azurecr.io", ".azurecr.us", ".azurecr.cn"],
  hosts: [],
  // Data-plane calls carry an ACR token (audience = the registry host) obtained by exchanging the Entra token.
  audiences: ["https://containerregistry.azure.net", "https://management.azure.com", "https://management.core.windows.net"],
  audiencePatterns: [/^(https:\/\/)?[a-z0-9-]+\.azurecr\.(io|us|cn)$/],
  scope: "https://containerregistry.azure.net/.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  roles: [
    { operation: "pull", role: "AcrPull" },
    { operation: "push", role: "AcrPush", when: { action: /push|\*/i } },
    { operation: "delete", role: "AcrDelete", when: { action: /delete/i } },
    { operation: "pull", role: "AcrPull", when: { action: /pull/i } },
    { operation: "push", role: "AcrPush", when: { methods: ["PUT", "PATCH", "POST"], path: /^\/v2\// } },
  ],
  controlPlaneRoles: ["Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: true,
  resourceProvider: "Microsoft.ContainerRegistry/registries",
  docs: "https://learn.microsoft.com/azure/container-registry/container-registry-roles",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.containerregistry\/registries\/[^/'\s]+/i,
      template: "{0}",
    },
    { from: "host", template: "$(az acr show --name {name} --query id --output tsv)", label: "registry {name}" },
  ],
  // Operation → action: the registry's Docker v2 API. A registry in ABAC mode checks repository data actions instead.
  operations: [
    op("GET", /^\/v2\/_catalog\/?$/i, "Microsoft.ContainerRegistry/registries/pull/read", {
      control: true,
      alternative: { action: "Microsoft.ContainerRegistry/registries/catalog/read", mode: "RBAC Registry + ABAC Repository Permissions" },
    }),
    op("GET,HEAD", /^\/v2\/.+\/tags\/list\/?$|^\/acr\/v1\//i, "Microsoft.ContainerRegistry/registries/pull/read", {
      control: true,
      alternative: { action: "Microsoft.ContainerRegistry/registries/repositories/metadata/read", mode: "RBAC Registry + ABAC Repository Permissions" },
    }),
    op("GET,HEAD", /^\/v2\//i, "Microsoft.ContainerRegistry/registries/pull/read", {
      control: true,
      alternative: { action: "Microsoft.ContainerRegistry/registries/repositories/content/read", mode: "RBAC Registry + ABAC Repository Permissions" },
    }),
    op("PUT,POST,PATCH", /^\/v2\//i, "Microsoft.ContainerRegistry/registries/push/write", {
      control: true,
      alternative: { action: "Microsoft.ContainerRegistry/registries/repositories/content/write", mode: "RBAC Registry + ABAC Repository Permissions" },
    }),
    op("DELETE", /^\/v2\/|^\/acr\/v1\//i, "Microsoft.ContainerRegistry/registries/artifacts/delete", {
      control: true,
      alternative: { action: "Microsoft.ContainerRegistry/registries/repositories/content/delete", mode: "RBAC Registry + ABAC Repository Permissions" },
    }),
  ],
  fingerprints: [
    {
      id: "acr.firewall",
      code: "NotAnIdentityProblem",
      confidence: "high",
      message: /client with ip '.{0,60}' is not allowed access|aka\.ms\/acr\/firewall/i,
      meaning: "the registry's firewall rejected the client address",
      nextSteps: ["Allow the app's outbound IP on the registry or use its private endpoint: az acr network-rule list --name {name}"],
    },
    {
      id: "acr.unauthorized",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 401,
      errorCode: "UNAUTHORIZED",
      meaning: "the registry token carries no permission for this repository: the identity lacks AcrPull/AcrPush (or the token exchange failed)",
      nextSteps: [
        'If the registry runs in "RBAC Registry + ABAC Repository Permissions" mode, AcrPull/AcrPush/AcrDelete are not honored: check the mode and assign "Container Registry Repository Reader" (pull) or "Container Registry Repository Writer" (push) instead, optionally with a repository condition: az acr show --name {name} --query roleAssignmentMode --output tsv',
      ],
    },
    {
      id: "acr.denied",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: [401, 403],
      errorCode: "DENIED",
      meaning: "the registry denied this repository action to the identity",
      nextSteps: [
        'If the registry runs in "RBAC Registry + ABAC Repository Permissions" mode, AcrPull/AcrPush/AcrDelete are not honored: check the mode and assign "Container Registry Repository Reader" (pull) or "Container Registry Repository Writer" (push) instead, optionally with a repository condition: az acr show --name {name} --query roleAssignmentMode --output tsv',
      ],
    },
  ],
};
