import { createHash } from "node:crypto";
import { BUILT_IN_ROLES } from "./rbac.js";
import {
  resourceIdOf,
  startEmulatorServer,
  xmlText,
  header,
  type EmulatorEnv,
  type IncomingCall,
  type Reply,
  type ServiceEmulator,
  type ServiceEmulatorOptions,
} from "./server.js";
import type { TokenFailureReason } from "./tokenCheck.js";

/** Options of {@link startBlobStorageEmulator}. */
export interface BlobStorageEmulatorOptions extends ServiceEmulatorOptions {
  /** Storage account name: the host is `<accountName>.blob.core.windows.net`. Default `mystorageacct`. */
  accountName?: string;
  /** Containers that exist. Default `["data"]`. */
  containers?: readonly string[];
}

/** A running Blob Storage emulator. */
export interface BlobStorageEmulator extends ServiceEmulator {
  /** The storage account name. */
  readonly accountName: string;
  /** Stores a blob directly (no auth). */
  putBlob(container: string, name: string, content: string | Buffer, contentType?: string): void;
}

const STORAGE_AUDIENCE = "https://storage.azure.com";
const BLOB_ACTIONS = {
  read: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
  write: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
  delete: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
} as const;
const DEFAULT_VERSION = "2026-02-06";

interface StoredBlob {
  content: Buffer;
  contentType: string;
  etag: string;
  created: number;
  modified: number;
}

/** The `<AuthenticationErrorDetail>` Storage gives for each token failure. */
const AUTH_DETAIL: Record<Exclude<TokenFailureReason, "missing">, string> = {
  malformed: "Token is not well formed.", // unverified text
  signature: "Signature validation failed. Signature is invalid.", // unverified text
  audience: "Audience validation failed. Audience did not match.",
  tenant: "Issuer validation failed. Issuer did not match.",
  expired: "Lifetime validation failed. The token is expired.",
  "not-yet-valid": "Lifetime validation failed. The token is not yet valid.",
};

/**
 * Azure Blob Storage, enough for `@azure/storage-blob`: block blob upload (`PUT`), download (`GET`, with ranges),
 * properties (`HEAD`), delete, and List Blobs. Host-style (`https://<acct>.blob.core.windows.net/<c>/<b>`) and
 * path-style (`https://127.0.0.1:<port>/<acct>/<c>/<b>`) URLs. XML errors with `x-ms-error-code`; 401s carry the
 * `Bearer authorization_uri=… resource_id=https://storage.azure.com` challenge.
 */
export async function startBlobStorageEmulator(options: BlobStorageEmulatorOptions): Promise<BlobStorageEmulator> {
  const accountName = (options.accountName ?? "mystorageacct").toLowerCase();
  const host = `${accountName}.blob.core.windows.net`;
  const resourceId = resourceIdOf(options, "Microsoft.Storage", `storageAccounts/${accountName}`);
  const containers = new Map<string, Map<string, StoredBlob>>();
  for (const name of options.containers ?? ["data"]) containers.set(name, new Map());
  const clock = options.now ?? Date.now;
  const putBlob = (container: string, name: string, content: string | Buffer, contentType = "application/octet-stream") => {
    const blobs = containers.get(container) ?? new Map<string, StoredBlob>();
    containers.set(container, blobs);
    const now = clock();
    const previous = blobs.get(name);
    const blob: StoredBlob = {
      content: Buffer.isBuffer(content) ? content : Buffer.from(content, "utf8"),
      contentType,
      etag: `"0x8D${now.toString(16).toUpperCase().padStart(13, "0")}"`,
      created: previous?.created ?? now,
      modified: now,
    };
    blobs.set(name, blob);
    return blob;
  };
  const hostStyleNames = new Set([host, ...(options.hostNames ?? []).map((h) => h.toLowerCase())]);

  const error = (
    call: IncomingCall,
    env: EmulatorEnv,
    status: number,
    code: string,
    message: string,
    extra = "",
    headers: Record<string, string> = {},
  ): Reply => ({
    status,
    errorCode: code,
    headers: { "content-type": "application/xml", "x-ms-error-code": code, ...headers },
    body:
      `\uFEFF<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${xmlText(message)}\n` +
      `RequestId:${call.requestId}\nTime:${new Date(env.now()).toISOString().replace("Z", "0000Z")}</Message>${extra}</Error>`,
  });
  const challenge = (env: EmulatorEnv) =>
    `Bearer authorization_uri=https://login.microsoftonline.com/${env.tenantId}/oauth2/authorize resource_id=${STORAGE_AUDIENCE}`;

  const emulator = await startEmulatorServer(
    {
      service: "storage",
      host,
      resourceId,
      audiences: [STORAGE_AUDIENCE, `https://${host}`],
      roles: BUILT_IN_ROLES,
      firewall: {
        afterAuth: false,
        reply: (call, env) => error(call, env, 403, "AuthorizationFailure", "This request is not authorized to perform this operation."),
      },
      headers: (call) => ({
        server: "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
        "x-ms-request-id": call.requestId,
        "x-ms-version": header(call.headers, "x-ms-version") ?? DEFAULT_VERSION,
        ...(call.clientRequestId ? { "x-ms-client-request-id": call.clientRequestId } : {}),
      }),
      tokenFailure(call, failure, env) {
        const wwwAuthenticate = { "www-authenticate": challenge(env) };
        if (failure.reason === "missing") {
          return error(
            call,
            env,
            401,
            "NoAuthenticationInformation",
            "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
            "",
            wwwAuthenticate,
          );
        }
        return error(
          call,
          env,
          401,
          "InvalidAuthenticationInfo",
          "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
          `<AuthenticationErrorDetail>${AUTH_DETAIL[failure.reason]}</AuthenticationErrorDetail>`,
          wwwAuthenticate,
        );
      },
      handle(call, caller, env) {
        const segments = call.url.pathname.split("/").slice(1).map(decodeURIComponent);
        if (!hostStyleNames.has(call.hostname)) {
          // Path style (IP or localhost): the first segment is the account.
          if ((segments.shift() ?? "").toLowerCase() !== accountName)
            return error(call, env, 400, "InvalidUri", "The requested URI does not represent any resource on the server.");
        }
        const [container = "", ...blobParts] = segments;
        const blobName = blobParts.join("/");
        const query = call.url.searchParams;
        const isListing = call.method === "GET" && query.get("restype") === "container" && query.get("comp") === "list" && blobName === "";
        const action =
          isListing || ((call.method === "GET" || call.method === "HEAD") && blobName)
            ? BLOB_ACTIONS.read
            : call.method === "PUT" && blobName
              ? BLOB_ACTIONS.write
              : call.method === "DELETE" && blobName
                ? BLOB_ACTIONS.delete
                : undefined;
        if (!container || !action) return error(call, env, 400, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb.");
        const scope = `${resourceId}/blobServices/default/containers/${container}${blobName ? `/blobs/${blobName}` : ""}`;
        if (!env.rbac.allows(caller.oid, "dataAction", action, scope)) {
          return error(call, env, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
        }
        const blobs = containers.get(container);
        if (!blobs) return error(call, env, 404, "ContainerNotFound", "The specified container does not exist.");
        if (isListing) return listBlobs(call, container, blobs);
        if (call.method === "PUT") {
          if (header(call.headers, "x-ms-blob-type") !== "BlockBlob")
            return error(call, env, 400, "UnsupportedHeader", "One of the HTTP headers specified in the request is not supported.");
          const blob = putBlob(container, blobName, call.body, header(call.headers, "x-ms-blob-content-type") ?? "application/octet-stream");
          return {
            status: 201,
            headers: {
              etag: blob.etag,
              "last-modified": new Date(blob.modified).toUTCString(),
              "content-md5": md5(blob.content),
              "x-ms-request-server-encrypted": "true",
            },
          };
        }
        const blob = blobs.get(blobName);
        if (!blob) return error(call, env, 404, "BlobNotFound", "The specified blob does not exist.");
        if (call.method === "DELETE") {
          blobs.delete(blobName);
          return { status: 202, headers: { "x-ms-delete-type-permanent": "true" } };
        }
        return download(call, blob);
      },
    },
    options,
  );
  return { ...emulator, accountName, putBlob: (c, n, content, type) => void putBlob(c, n, content, type) };
}

function md5(content: Buffer): string {
  return createHash("md5").update(content).digest("base64");
}

function blobHeaders(blob: StoredBlob): Record<string, string> {
  return {
    "content-type": blob.contentType,
    etag: blob.etag,
    "last-modified": new Date(blob.modified).toUTCString(),
    "x-ms-creation-time": new Date(blob.created).toUTCString(),
    "x-ms-blob-type": "BlockBlob",
    "x-ms-lease-status": "unlocked",
    "x-ms-lease-state": "available",
    "x-ms-server-encrypted": "true",
    "x-ms-access-tier": "Hot",
    "x-ms-access-tier-inferred": "true",
    "accept-ranges": "bytes",
  };
}

function download(call: IncomingCall, blob: StoredBlob): Reply {
  const range = /^bytes=(\d+)-(\d*)$/.exec(header(call.headers, "x-ms-range") ?? header(call.headers, "range") ?? "");
  const total = blob.content.length;
  if (range && total > 0) {
    const start = Number(range[1]);
    const end = Math.min(range[2] ? Number(range[2]) : total - 1, total - 1);
    return {
      status: 206,
      headers: { ...blobHeaders(blob), "content-range": `bytes ${start}-${end}/${total}`, "x-ms-blob-content-md5": md5(blob.content) },
      body: blob.content.subarray(start, end + 1),
    };
  }
  return { status: 200, headers: { ...blobHeaders(blob), "content-md5": md5(blob.content) }, body: blob.content };
}

function listBlobs(call: IncomingCall, container: string, blobs: Map<string, StoredBlob>): Reply {
  const prefix = call.url.searchParams.get("prefix") ?? "";
  const items = [...blobs.entries()]
    .filter(([name]) => name.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(
      ([name, blob]) =>
        `<Blob><Name>${xmlText(name)}</Name><Properties><Creation-Time>${new Date(blob.created).toUTCString()}</Creation-Time>` +
        `<Last-Modified>${new Date(blob.modified).toUTCString()}</Last-Modified><Etag>${blob.etag}</Etag>` +
        `<Content-Length>${blob.content.length}</Content-Length><Content-Type>${xmlText(blob.contentType)}</Content-Type>` +
        `<Content-MD5>${md5(blob.content)}</Content-MD5><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier>` +
        `<AccessTierInferred>true</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>` +
        `<ServerEncrypted>true</ServerEncrypted></Properties><OrMetadata /></Blob>`,
    )
    .join("");
  const endpoint = `https://${call.url.host}/`;
  return {
    status: 200,
    headers: { "content-type": "application/xml" },
    body:
      `\uFEFF<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${xmlText(endpoint)}" ContainerName="${xmlText(container)}">` +
      `${prefix ? `<Prefix>${xmlText(prefix)}</Prefix>` : ""}<Blobs>${items}</Blobs><NextMarker /></EnumerationResults>`,
  };
}
