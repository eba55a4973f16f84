/**
 * Microsoft Graph 403s: the endpoint and method map to the least-privileged application permission (the table
 * generated from microsoftgraph/msgraph-metadata), and the command assigns that app role to the identity's service
 * principal with the Graph app id and the app role id filled in. Expected permissions are the ones the Graph API
 * reference names as least privileged for applications.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { GRAPH_APP_ROLE_IDS, GRAPH_PERMISSIONS, GRAPH_PERMISSIONS_PROVENANCE } from "../../src/catalog/graphPermissions.js";
import { graphGrantStep, graphPathOf, graphPermissionFor } from "../../src/classify/graphPermission.js";
import { classifyResponse } from "../../src/classify/response.js";
// @ts-expect-error: a plain ES module script without types
import { buildTable, normalizePath } from "../../scripts/generate-graph-permissions.mjs";

const OID = "5b0a8d2e-3c41-4f7e-9d11-2f6a7c8e9b10";
const denied = JSON.stringify({ error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } });

describe("graphPermissionFor: endpoint + method → least-privileged application permission", () => {
  it.each([
    ["POST", "/v1.0/invitations", "User.Invite.All"],
    ["GET", "/v1.0/users", "User.Read.All"],
    ["GET", "/v1.0/users/alice@contoso.com", "User.Read.All"],
    ["GET", "/beta/users/delta", "User.Read.All"],
    ["POST", "/v1.0/users", "User.ReadWrite.All"],
    ["PATCH", "/v1.0/users/0b0b0b0b-1111-2222-3333-444444444444", "User.ReadWrite.All"],
    ["GET", "/v1.0/users/x/manager", "User.Read.All"],
    ["POST", "/v1.0/users/x/sendMail", "Mail.Send"],
    ["GET", "/v1.0/users/x/messages", "Mail.ReadBasic.All"],
    ["GET", "/v1.0/groups", "GroupMember.Read.All"],
    ["GET", "/v1.0/groups/g1/members", "GroupMember.Read.All"],
    ["POST", "/v1.0/groups/g1/members/$ref", "GroupMember.ReadWrite.All"],
    ["DELETE", "/v1.0/groups/g1/members/u1/$ref", "GroupMember.ReadWrite.All"],
    ["GET", "/v1.0/applications", "Application.Read.All"],
    ["POST", "/v1.0/applications", "Application.ReadWrite.OwnedBy"],
    ["POST", `/v1.0/servicePrincipals/${OID}/appRoleAssignments`, "AppRoleAssignment.ReadWrite.All"],
    ["POST", "/v1.0/users/x/appRoleAssignments", "AppRoleAssignment.ReadWrite.All"],
    ["POST", "/v1.0/directoryObjects/x/getMemberGroups", "GroupMember.Read.All"],
  ])("%s %s → %s", (method, path, permission) => {
    expect(graphPermissionFor(method, path)?.permission).toBe(permission);
  });

  it("undefined for paths and methods the table does not list", () => {
    expect(graphPermissionFor("GET", "/v1.0/me")).toBeUndefined();
    expect(graphPermissionFor("PUT", "/v1.0/invitations")).toBeUndefined();
    expect(graphPermissionFor(undefined, "/v1.0/users")).toBeUndefined();
  });

  it("normalises the request path: version, $ref, case, query, trailing slash", () => {
    expect(graphPathOf("/v1.0/Groups/G1/Members/$ref?$top=5")).toBe("/groups/g1/members");
    expect(graphPathOf("/beta/users/")).toBe("/users");
  });
});

/**
 * Written from Microsoft's Graph API reference (the "Permissions" table of each API page, Application row, "Least
 * privileged permissions" column; learn.microsoft.com/graph/api/<page>), not from the generated table.
 */
describe("table: the API reference's least-privileged application permission", () => {
  it.each([
    ["GET", "/v1.0/users", "User.Read.All", "user-list"],
    ["GET", "/v1.0/users/0b0b0b0b-1111-2222-3333-444444444444", "User.Read.All", "user-get"],
    ["POST", "/v1.0/invitations", "User.Invite.All", "invitation-post"],
    ["GET", "/v1.0/groups", "GroupMember.Read.All", "group-list (GroupMember.Read.All before Group.Read.All)"],
    ["GET", "/v1.0/groups/g1/members", "GroupMember.Read.All", "group-list-members"],
    ["POST", "/v1.0/groups", "Group.Create", "group-post-groups"],
    ["POST", "/v1.0/users/x/sendMail", "Mail.Send", "user-sendmail"],
    ["GET", "/v1.0/users/x/messages", "Mail.ReadBasic.All", "user-list-messages"],
    ["GET", "/v1.0/sites/contoso.sharepoint.com,1,2", "Sites.Read.All", "site-get"],
    ["GET", "/v1.0/sites/s1/permissions", "Sites.FullControl.All", "site-list-permissions"],
    ["GET", "/v1.0/servicePrincipals", "Application.Read.All", "serviceprincipal-list"],
    ["GET", `/v1.0/servicePrincipals/${OID}`, "Application.Read.All", "serviceprincipal-get"],
    ["POST", "/v1.0/applications", "Application.ReadWrite.OwnedBy", "application-post-applications"],
    ["POST", `/v1.0/servicePrincipals/${OID}/appRoleAssignedTo`, "AppRoleAssignment.ReadWrite.All", "serviceprincipal-post-approleassignedto"],
    ["GET", "/v1.0/auditLogs/signIns", "AuditLog.Read.All", "signin-list"],
    ["GET", "/v1.0/auditLogs/directoryAudits", "AuditLog.Read.All", "directoryaudit-list"],
    ["GET", "/v1.0/devices", "Device.Read.All", "device-list"],
    ["GET", "/v1.0/organization", "Organization.Read.All", "organization-list"],
    ["GET", "/v1.0/domains", "Domain.Read.All", "domain-list"],
  ])("%s %s → %s (%s)", (method, path, permission) => {
    const found = graphPermissionFor(method, path);
    expect(found?.permission).toBe(permission);
    // The app role id is filled in for each (Sites.FullControl.All: not checked against two sources yet, looked up by name).
    if (permission !== "Sites.FullControl.All") expect(found?.appRoleId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("app role ids are the reference's (a few spot checks)", () => {
    expect(GRAPH_APP_ROLE_IDS["User.Invite.All"]).toBe("09850681-111b-4a89-9bed-3f2cae46d706");
    expect(GRAPH_APP_ROLE_IDS["Application.Read.All"]).toBe("9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30");
    expect(GRAPH_APP_ROLE_IDS["AuditLog.Read.All"]).toBe("b0afded3-3588-46d8-8b3d-9842eff778da");
  });
});

describe("the Graph 403 answer names the permission and assigns it", () => {
  it("POST /invitations → User.Invite.All (not User.Read.All), az rest with the Graph app id and the app role id", () => {
    const diagnosis = classifyResponse({ url: "https://graph.microsoft.com/v1.0/invitations", method: "POST", status: 403, body: denied }, {
      principalId: OID,
    } as never);
    expect(diagnosis).toMatchObject({ hypothesis: "H2", service: "graph", code: "RoleMissingOrWrongScope" });
    const steps = diagnosis!.nextSteps.join("\n");
    expect(steps).toContain('"User.Invite.All"');
    expect(steps).not.toContain("User.Read.All");
    expect(steps).toContain("az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id --output tsv");
    expect(steps).toContain('APP_ROLE_ID="09850681-111b-4a89-9bed-3f2cae46d706"');
    expect(steps).toContain('az rest --method POST --uri "https://graph.microsoft.com/v1.0/servicePrincipals/');
    expect(diagnosis!.evidence.join("\n")).toContain('"User.Invite.All"');
  });

  it("a path the table does not know keeps the catalog's role and the lookup by name", () => {
    const diagnosis = classifyResponse({ url: "https://graph.microsoft.com/v1.0/drives/b!x/root", method: "GET", status: 403, body: denied });
    expect(diagnosis!.nextSteps.join("\n")).toContain("appRoles[?value=='User.Read.All']");
  });

  it("values are validated: a hostile host or principal never reaches the command", () => {
    const step = graphGrantStep(
      { permission: "User.Invite.All", appRoleId: "09850681-111b-4a89-9bed-3f2cae46d706", template: "/invitations", method: "POST" },
      { host: "graph.microsoft.com;rm -rf /", principalId: "$(reboot)" },
    );
    expect(step).not.toContain("rm -rf");
    expect(step).not.toContain("$(reboot)");
    expect(step).toContain("https://graph.microsoft.com/v1.0/servicePrincipals/$PRINCIPAL_ID/appRoleAssignments");
    const unknown = graphGrantStep({ permission: "Evil'; rm", template: "/x", method: "GET" }, {});
    expect(unknown).not.toContain("Evil");
    expect(unknown).toContain('"<permission>"');
  });
});

describe("the generated table and its generator", () => {
  it("says where it comes from and covers the paths managed identities call", () => {
    expect(GRAPH_PERMISSIONS_PROVENANCE.repository).toBe("https://github.com/microsoftgraph/msgraph-metadata");
    expect(GRAPH_PERMISSIONS_PROVENANCE.commit).toMatch(/^[0-9a-f]{40}(, [0-9a-f]{40})*$/);
    expect(GRAPH_PERMISSIONS_PROVENANCE.files).toContain("corrections.json");
    for (const path of [
      "/users",
      "/groups/{id}/members",
      "/applications",
      "/serviceprincipals/{id}/approleassignments",
      "/invitations",
      "/users/{id}/sendmail",
    ]) {
      expect(GRAPH_PERMISSIONS[path], path).toBeDefined();
    }
    for (const id of Object.values(GRAPH_APP_ROLE_IDS)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("reads the msgraph-metadata shape: Application scheme only, `least=` marks first, reads before writes, fewest grants", () => {
    const documents = [
      {
        permissions: {
          "Widget.Read.All": {
            pathSets: [
              { schemes: ["Application", "DelegatedWork"], methods: ["GET"], paths: { "/users/{id}/widgets": {}, "/users/{user-id}/widgets/{widget-id}": {} } },
            ],
          },
          "Widget.ReadWrite.All": {
            pathSets: [{ schemes: ["Application"], methods: ["GET", "POST"], paths: { "/users/{id}/widgets": {} } }],
          },
          "Widget.Delegated": { pathSets: [{ schemes: ["DelegatedWork"], methods: ["DELETE"], paths: { "/users/{id}/widgets": {} } }] },
          "Widget.Special": {
            pathSets: [{ schemes: ["Application"], methods: ["PATCH"], paths: { "/users/{id}/widgets/{id}": "least=Application" } }],
          },
          "Widget.Broad": {
            pathSets: [{ schemes: ["Application"], methods: ["PATCH"], paths: { "/users/{id}/widgets/{id}": {} } }],
          },
          "Widget.Elided": { pathSets: [{ schemes: ["Application"], methods: ["GET"], paths: { "/users/{id}/.../x": {}, "/me/widgets": {} } }] },
        },
      },
    ];
    const table = buildTable(documents) as Map<string, Record<string, string>>;
    expect(Object.fromEntries(table)).toEqual({
      "/users/{id}/widgets": { GET: "Widget.Read.All", POST: "Widget.ReadWrite.All" },
      "/users/{id}/widgets/{id}": { GET: "Widget.Read.All", PATCH: "Widget.Special" },
    });
    expect(normalizePath("/Users/{user-id}/")).toBe("/users/{id}");
  });
});

describe("CI check mode", () => {
  it("the committed table is exactly what the generator makes from scripts/data/graph-permissions", () => {
    const output = execFileSync(process.execPath, ["scripts/generate-graph-permissions.mjs", "--check"], { encoding: "utf8" });
    expect(output).toMatch(/is up to date \(\d+ paths\)/);
  });
});
