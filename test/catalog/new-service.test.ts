/**
 * Adding a service is adding data: a service the library has never heard of, defined only through the `services`
 * option (hosts, audience, roles, a fingerprint, how its errors quote the caller and the action, an evidence header),
 * is diagnosed end to end like a built-in one. A real HTTP server on 127.0.0.1 answers with the service's own 403;
 * the app calls it with `fetch` and a token from DiagnosticCredential; `credential.diagnose` explains the answer.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenSigner } from "diagnostic-credential/testing";
import { classifyResponse, DiagnosticCredential, type DiagnosisLogEntry, type ServiceDefinitionInput } from "../../src/index.js";

const OID = "5b0a8d2e-3c41-4f7e-9d11-2f6a7c8e9b10";
const APPID = "a1b2c3d4-0000-4000-8000-000000000001";
const AUDIENCE = "https://widgets.example.net";

let server: Server;
let host: string;

/** The Widgets service: one entry of data. */
function widgets(hostPort: string): ServiceDefinitionInput {
  return {
    name: "widgets",
    displayName: "Contoso Widgets",
    hosts: [hostPort],
    audiences: [AUDIENCE],
    roles: [
      { operation: "read", role: "Widget Reader", when: { methods: ["GET"] } },
      { operation: "write", role: "Widget Writer", when: { action: /widgets\/write/i } },
    ],
    controlPlaneRoles: ["Widget Account Contributor"],
    propagation: "up to 2 minutes",
    propagationMinutes: 2,
    fingerprints: [
      {
        id: "widgets.permission-denied",
        code: "RoleMissingOrWrongScope",
        confidence: "high",
        status: 403,
        errorCode: "WidgetPermissionDenied",
        meaning: "the caller has no Widgets data role for this operation",
      },
    ],
    quotes: [
      { fact: "callerObjectId", pattern: /caller principal ([0-9a-f-]{36})/i, needs: "caller principal " },
      { fact: "action", pattern: /needs permission <([^>]{1,128})>/gi, needs: "needs permission <" },
    ],
    evidenceHeaders: ["x-widgets-shard"],
  };
}

const BODY = JSON.stringify({
  error: { code: "WidgetPermissionDenied", message: `Caller principal ${OID} needs permission <Contoso.Widgets/widgets/write> on this widget.` },
});

beforeAll(async () => {
  server = createServer((_request, response) => {
    response.writeHead(403, { "content-type": "application/json", "x-widgets-shard": "shard-7", "x-ms-request-id": "req-0001-widgets" });
    response.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe("a new service added only as data", () => {
  it("the pure classifier: its fingerprint decides, its quotes and evidence header are read, its role is advised", () => {
    const diagnosis = classifyResponse(
      { url: `http://${host}/widgets/42`, status: 403, headers: { "x-widgets-shard": "shard-7" }, body: BODY },
      { services: [widgets(host)] },
    );
    expect(diagnosis).toMatchObject({
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      service: "widgets",
      errorCode: "WidgetPermissionDenied",
    });
    expect(diagnosis!.identity).toMatchObject({ objectId: OID });
    expect(diagnosis!.evidence).toContain("operation named by the service: Contoso.Widgets/widgets/write");
    expect(diagnosis!.evidence).toContain("x-widgets-shard: shard-7");
    expect(diagnosis!.nextSteps.some((step) => step.includes('--role "Widget Writer"'))).toBe(true);
    expect(diagnosis!.nextSteps.some((step) => step.includes('"Widget Account Contributor" is a control-plane role'))).toBe(true);
  });

  it("end to end: a token from DiagnosticCredential, a real 403 over HTTP, credential.diagnose(response) and the log line", async () => {
    const signer = await createTokenSigner();
    const token = await signer.sign({
      aud: AUDIENCE,
      iss: signer.issuer,
      tid: signer.tenantId,
      oid: OID,
      appid: APPID,
      idtyp: "app",
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    const lines: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) },
      services: [widgets(host)],
      logger: (entry) => lines.push(entry),
    });
    const accessToken = await credential.getToken(`${AUDIENCE}/.default`);
    const response = await fetch(`http://${host}/widgets/42`, { method: "PUT", headers: { authorization: `Bearer ${accessToken!.token}` } });
    const body = await response.text();

    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H2", service: "widgets", errorCode: "WidgetPermissionDenied", identity: { objectId: OID } });
    // The token this credential issued for the service's audience is correlated: its audience is checked.
    expect(diagnosis!.evidence).toContain(`audience check: "${AUDIENCE}" is accepted by Contoso Widgets`);
    expect(diagnosis!.nextSteps.some((step) => step.includes(`--assignee-object-id ${OID}`) && step.includes('--role "Widget Writer"'))).toBe(true);
    expect(lines.filter((line) => line.source === "diagnose").map((line) => [line.hypothesis, line.service, line.errorCode])).toEqual([
      ["H2", "widgets", "WidgetPermissionDenied"],
    ]);
  });
});
