/**
 * Something other than the identity endpoint answers (issue 14: a network that denies link-local traffic answered
 * 403 and the doctor printed "✓ reachable"). IMDS is told by the shape of its answer to a probe without
 * `Metadata: true` (400 and its own JSON); anything else is a firewall, a proxy or a sidecar. All on 127.0.0.1.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeIdentityEndpoint } from "../../src/doctor/identityEndpoint.js";
import { startIdentityEndpoint, unusedPort, type IdentityEndpointEmulator } from "../../src/testing.js";
import { runDoctor } from "./helpers.js";

/** A stand-in for a firewall or proxy: the same answer to every request. */
async function answering(status: number, body: string, headers: Record<string, string> = {}): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { "content-type": body.startsWith("<") ? "text/html" : "text/plain", ...headers });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

let imds: IdentityEndpointEmulator;
let appService: IdentityEndpointEmulator;
let firewall: { server: Server; url: string };
let proxy: { server: Server; url: string };
beforeAll(async () => {
  [imds, appService, firewall, proxy] = await Promise.all([
    startIdentityEndpoint({ shape: "imds" }),
    startIdentityEndpoint({}),
    answering(403, "Forbidden: link-local traffic is denied by policy"),
    answering(407, "<html><body>Proxy Authentication Required</body></html>", { "proxy-authenticate": 'Basic realm="corp"' }),
  ]);
});
afterAll(async () => {
  await Promise.all([imds?.close(), appService?.close(), ...[firewall, proxy].map((s) => new Promise((resolve) => s?.server.close(resolve)))]);
});

describe("the probe tells the identity endpoint by the shape of its answer", () => {
  it("IMDS (emulated): 400 with its JSON error to a probe without Metadata: true → reachable", async () => {
    const probed = await probeIdentityEndpoint({ url: `${imds.url}/metadata/identity/oauth2/token`, imds: true }, 2000);
    expect(probed).toMatchObject({ reachable: true, status: 400, answeredBy: "identity-endpoint" });
  });

  it("a 403 at the IMDS address that is not IMDS's → not reachable, something else answered", async () => {
    const probed = await probeIdentityEndpoint({ url: `${firewall.url}/metadata/identity/oauth2/token`, imds: true }, 2000);
    expect(probed).toMatchObject({ reachable: false, status: 403, answeredBy: "something-else", errorCode: "NOT_IDENTITY_ENDPOINT" });
    expect(probed.error).toMatch(/^HTTP 403 "Forbidden: link-local traffic is denied by policy": not IMDS .*a firewall, a proxy or a sidecar/);
  });

  it("the App Service / Container Apps endpoint's 401 is its own; a proxy's 407 is not", async () => {
    expect(await probeIdentityEndpoint({ url: appService.endpoint }, 2000)).toMatchObject({ reachable: true, status: 401, answeredBy: "identity-endpoint" });
    const viaProxy = await probeIdentityEndpoint({ url: `${proxy.url}/msi/token` }, 2000);
    expect(viaProxy).toMatchObject({ reachable: false, status: 407, answeredBy: "something-else" });
    expect(viaProxy.error).toContain("a proxy answered");
  });
});

describe("doctor (the built CLI, the real ManagedIdentityCredential)", () => {
  it("off Azure behind a network that answers 403 for IMDS: never '✓ reachable'; the token failure names the foreign answer (H5)", async () => {
    const { stdout, exitCode } = await runDoctor(["doctor", "--timeout", "6000"], { AZURE_POD_IDENTITY_AUTHORITY_HOST: firewall.url });
    expect(exitCode).toBe(1);
    expect(stdout).not.toContain("✓ reachable");
    expect(stdout).toMatch(/✗ not the identity endpoint {2}http:\/\/127\.0\.0\.1:\d+\/metadata\/identity\/oauth2\/token {2}HTTP 403 .*not IMDS/);
    expect(stdout).toContain("H5 IdentityEndpointUnreachable");
    expect(stdout).toMatch(/not an answer of the identity endpoint: a firewall, a sidecar or a transparent proxy/);
  });

  it("HTTPS_PROXY without NO_PROXY: the probe names the proxy, the real credential's request goes through it → H5 with the NO_PROXY fix", async () => {
    const refused = await unusedPort();
    const { stdout, exitCode } = await runDoctor(["doctor", "--timeout", "6000"], {
      AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${refused}`,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: "localhost",
    });
    expect(exitCode).toBe(1);
    expect(stdout).toContain(`! proxy: HTTPS_PROXY=${proxy.url} (NO_PROXY does not list 127.0.0.1)`);
    expect(stdout).toContain(`the request went to the proxy HTTPS_PROXY=${proxy.url} (NO_PROXY does not list 127.0.0.1), and the proxy answered HTTP 407`);
    expect(stdout).toContain('export NO_PROXY="localhost,127.0.0.1,169.254.169.254"');
  });
});

describe("doctor --format markdown: a probe answered by something else is a failed step, never a reachable endpoint (issue 18)", () => {
  /** The Steps table's probe row, split into its cells. */
  const probeRow = (markdown: string): string[] => {
    const row = markdown.split("\n").find((line) => line.startsWith("| identity endpoint probe |"));
    expect(row, markdown).toBeDefined();
    return row!.split(" | ").map((cell) => cell.replace(/^\| |\s*\|$/g, "").trim());
  };

  it("a firewall's 403 at the IMDS address: the probe step failed, saying something other than the identity endpoint answered", async () => {
    const { stdout, exitCode } = await runDoctor(["doctor", "--timeout", "6000", "--format", "markdown"], { AZURE_POD_IDENTITY_AUTHORITY_HOST: firewall.url });
    expect(exitCode).toBe(1);
    const [, target, outcome, , detail] = probeRow(stdout);
    expect(target).toMatch(/^`http:\/\/127\.0\.0\.1:\d+\/metadata\/identity\/oauth2\/token`$/);
    expect(outcome).toBe("✗ failed");
    expect(detail).toMatch(/^HTTP 403 "Forbidden: link-local traffic is denied by policy": not IMDS .*a firewall, a proxy or a sidecar answered in its place$/);
    expect(stdout).toContain(
      "identity-endpoint: expected an answer of the identity endpoint itself, reached directly, found HTTP 403 from something other than the identity endpoint (a firewall, a proxy or a sidecar)",
    );
    expect(stdout).not.toMatch(/HTTP 403 to a probe without credentials/);
  });

  it("HTTPS_PROXY without NO_PROXY and the endpoint reachable directly: the probe step failed with the proxy named, not passed", async () => {
    const { stdout, exitCode } = await runDoctor(["doctor", "--timeout", "6000", "--format", "markdown"], {
      AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: "localhost",
    });
    expect(exitCode).toBe(1);
    const [, , outcome, , detail] = probeRow(stdout);
    expect(outcome).toBe("✗ failed");
    expect(detail).toContain(
      `the identity endpoint answers a direct probe (HTTP 400), but the token request goes through the proxy HTTPS\\_PROXY=${proxy.url}`,
    );
    expect(detail).toContain("add 127.0.0.1 to NO\\_PROXY");
    // The token request itself went to the proxy, which answered 407: H5 naming the proxy.
    expect(stdout).toMatch(/Managed identity incident: H5 /);
    expect(stdout).toContain(`the request went to the proxy HTTPS\\_PROXY=${proxy.url}`);
  });
});
