/** Exact messages for representative diagnoses: what a log reader sees first, pinned. */
import { describe, expect, it } from "vitest";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import { classifyResponse } from "../../src/classify/response.js";
import { SHAPES, classifyShape } from "./fixtures.js";
import { CLIENT_ID, NOW, OID, SUB, makeToken } from "./helpers.js";

const shape = (name: string) => {
  const found = SHAPES.find((s) => s.name === name);
  if (!found) throw new Error(`no shape ${name}`);
  return found;
};

describe("exact summaries", () => {
  it("Key Vault RBAC 403 (H2)", async () => {
    const { diagnosis } = await classifyShape(shape("keyvault 403 ForbiddenByRbac (CRLF)"));
    expect(diagnosis?.summary).toBe(
      `403 from kv-orders.vault.azure.net: identity ${OID} lacks "Key Vault Secrets User" on vaults/kv-orders: the vault uses Azure RBAC and the caller has no data-plane role allowing this action [ForbiddenByRbac]`,
    );
    expect(diagnosis?.title).toBe("RBAC role missing or wrong scope");
    // Each step is one string: the sentence and its command.
    expect(diagnosis?.nextSteps).toEqual([
      `Grant the least-privilege data-plane role "Key Vault Secrets User" to principal ${OID} at the exact scope vaults/kv-orders: az role assignment create --assignee-object-id ${OID} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User" --scope "/subscriptions/${SUB}/resourcegroups/rg-orders/providers/microsoft.keyvault/vaults/kv-orders"`,
      `Check what the identity already has (a role at a sibling or narrower scope, or a control-plane role, does not help): az role assignment list --assignee ${OID} --all --output table`,
      '"Key Vault Contributor", "Contributor", "Owner" are control-plane roles: they give no data access to Azure Key Vault.',
      `Or the same assignment as code (Bicep): printf '%s\\n' "param principalId string = '${OID}'" "" "resource target 'microsoft.keyvault/vaults@2023-07-01' existing = {" "  name: 'kv-orders'" "}" "" "// Key Vault Secrets User" "resource roleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {" "  name: guid(target.id, principalId, '4633458b-17de-408a-b874-0445c86b69e6')" "  scope: target" "  properties: {" "    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')" "    principalId: principalId" "    principalType: 'ServicePrincipal'" "  }" "}" > role-assignment.bicep && az deployment group create --resource-group "rg-orders" --template-file role-assignment.bicep`,
      "Propagation delay: up to ~10 minutes. Retry after that before concluding the assignment did not work.",
    ]);
    expect(diagnosis).toMatchObject({
      service: "keyvault",
      status: 403,
      errorCode: "ForbiddenByRbac",
      identity: { objectId: OID, clientId: CLIENT_ID, kind: "user-assigned" },
      token: { audience: "https://vault.azure.net" },
    });
  });

  it("Storage wrong audience (H3)", async () => {
    const { diagnosis } = await classifyShape(shape("storage 401 audience (XML + unquoted challenge) with a Graph token"));
    expect(diagnosis?.summary).toBe(
      '401 from storders.blob.core.windows.net: token audience "https://graph.microsoft.com" is wrong for Azure Storage (expected "https://storage.azure.com/.default")',
    );
    expect(diagnosis?.nextSteps[0]).toBe(
      'Request the token for "https://storage.azure.com/.default": credential.getToken("https://storage.azure.com/.default"); scopeForUrl("https://storders.blob.core.windows.net/") returns it.',
    );
  });

  it("expired token (H4)", async () => {
    const { diagnosis } = await classifyShape(shape("storage 401 expired (claims)"));
    expect(diagnosis?.summary).toBe("401 from storders.blob.core.windows.net: the token sent had expired at 2025-05-01T11:00:00Z (60 min before the request)");
  });

  it("Key Vault firewall (not identity)", async () => {
    const { diagnosis } = await classifyShape(shape("keyvault 403 ForbiddenByFirewall"));
    expect(diagnosis?.summary).toBe(
      "403 from kv-orders.vault.azure.net: the vault's firewall rejected the client address (Key Vault checks the network before the identity) (not an identity problem) [ForbiddenByFirewall]",
    );
    expect(diagnosis?.title).toBe("Not an identity problem");
  });

  it("Cosmos DB data role (H2, not Azure RBAC)", async () => {
    const { diagnosis } = await classifyShape(shape("cosmos 403 substatus 5301 readMetadata → Data Reader via cosmosdb sql role assignment"));
    expect(diagnosis?.summary).toBe(
      `403 from cosmos-orders.documents.azure.com: identity ${OID} lacks "Cosmos DB Built-in Data Reader" on account cosmos-orders: the principal has no Cosmos DB data-plane role allowing this action (Cosmos DB data roles are not Azure RBAC roles) [Forbidden]`,
    );
    expect(diagnosis?.nextSteps[0]).toBe(
      `Grant the Cosmos DB data-plane role "Cosmos DB Built-in Data Reader" to principal ${OID} (a Cosmos DB SQL role, not an Azure RBAC role: az role assignment create does not give it): az cosmosdb sql role assignment create --account-name cosmos-orders --resource-group "$RG" --role-definition-id 00000000-0000-0000-0000-000000000001 --principal-id ${OID} --scope "/"`,
    );
  });

  it("Service Bus AMQP claim (H2)", async () => {
    const token = await makeToken({ aud: "https://servicebus.azure.net" });
    const d = classifyAmqpError(
      {
        name: "ServiceBusError",
        code: "UnauthorizedAccess",
        message:
          "Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://sb-orders.servicebus.windows.net/orders'. TrackingId:1, SystemTracker:gateway7, Timestamp:2025-05-01T12:00:00",
      },
      { token, now: NOW },
    );
    expect(d?.summary).toBe(
      `401 (AMQP) from sb-orders.servicebus.windows.net: identity ${OID} lacks "Azure Service Bus Data Sender" on namespace sb-orders: the token was accepted but the identity has no data role granting the needed claim [UnauthorizedAccess]`,
    );
  });

  it("app name, resource group and revision fill the commands when given", async () => {
    const token = await makeToken({ aud: "https://vault.azure.net", exp: -600 });
    const d = classifyResponse(
      { url: "https://kv.vault.azure.net/secrets/x", status: 401 },
      { token, now: NOW, app: { name: "ca-orders", resourceGroup: "rg-orders(prod)", revision: "ca-orders--r7" } },
    );
    expect(d?.nextSteps).toContain(
      'If only some instances fail, restart them to drop the stale token: az containerapp revision restart --name "ca-orders" --resource-group "rg-orders(prod)" --revision "ca-orders--r7"',
    );
  });

  it("values that could break out of a command stay placeholders, and the evidence says which", async () => {
    const token = await makeToken({ aud: "https://vault.azure.net", exp: -600 });
    const d = classifyResponse(
      { url: "https://kv.vault.azure.net/secrets/x", status: 401 },
      { token, now: NOW, app: { name: 'ca"; curl x|sh; "', resourceGroup: "rg orders", revision: "r$(id)" } },
    );
    expect(d?.nextSteps).toContain(
      'If only some instances fail, restart them to drop the stale token: az containerapp revision restart --name "$APP_NAME" --resource-group "$RG" --revision "$REVISION_NAME"',
    );
    expect(d?.evidence).toContain(
      "command values left as placeholders: <rg> (not a valid resourceGroup), <app> (not a valid resourceName), <revision> (not a valid resourceName): the value seen could not be put safely in a shell command",
    );
  });
});
