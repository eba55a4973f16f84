/**
 * Test hook of the CLI: `DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE="myvault.vault.azure.net=127.0.0.1:41234,…"` sends the
 * requests for those host names to the given address instead of resolving them (like curl's `--resolve`), keeping
 * the real host name in the URL, the `Host` header and TLS SNI/certificate check. The report and the diagnoses then
 * show the real host. Used by this repository's tests against the local service emulators (with
 * NODE_EXTRA_CA_CERTS naming their CA). Not part of the documented CLI.
 */
import https from "node:https";

export const RESOLVE_ENV = "DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE";

/** Parses `host=addr:port[,host=addr:port…]`; undefined when empty, an error message when malformed. */
export function parseResolveMap(value: string | undefined): Map<string, { hostname: string; port: number }> | string | undefined {
  if (value === undefined || value.trim().length === 0) return undefined;
  const map = new Map<string, { hostname: string; port: number }>();
  for (const entry of value.split(/[,\s]+/).filter((e) => e.length > 0)) {
    const match = /^([^=]+)=\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
    if (!match) return `${RESOLVE_ENV}: expected host=address:port, got '${entry}'`;
    map.set(match[1]!.toLowerCase(), { hostname: match[2]!, port: Number(match[3]) });
  }
  return map;
}

/** A `fetch` that connects to the mapped address for mapped https hosts, and is the global fetch for the rest. */
export function fetchWithResolveMap(map: Map<string, { hostname: string; port: number }>, base: typeof fetch = globalThis.fetch): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const target = map.get(url.host.toLowerCase()) ?? map.get(url.hostname.toLowerCase());
    if (target === undefined || url.protocol !== "https:") return base(input, init);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value;
    });
    headers["host"] = url.host;
    const body = typeof init?.body === "string" ? init.body : undefined;
    return new Promise<Response>((resolve, reject) => {
      const request = https.request(
        {
          host: target.hostname,
          port: target.port,
          servername: url.hostname,
          method: init?.method ?? "GET",
          path: `${url.pathname}${url.search}`,
          headers,
          agent: false,
          ...(init?.signal ? { signal: init.signal } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const status = response.statusCode ?? 0;
            const responseHeaders = new Headers();
            for (const [key, value] of Object.entries(response.headers)) {
              if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
              else if (value !== undefined) responseHeaders.set(key, String(value));
            }
            const nullBody = status === 204 || status === 205 || status === 304 || (init?.method ?? "GET").toUpperCase() === "HEAD";
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage ?? "", headers: responseHeaders }));
          });
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }) as typeof fetch;
}
