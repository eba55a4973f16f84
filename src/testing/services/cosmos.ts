import { createHash } from "node:crypto";
import { COSMOS_BUILT_IN_ROLES } from "./rbac.js";
import {
  dotnetUtc,
  header,
  json,
  resourceIdOf,
  startEmulatorServer,
  type EmulatorEnv,
  type IncomingCall,
  type Reply,
  type ServiceEmulator,
  type ServiceEmulatorOptions,
} from "./server.js";

/** Options of {@link startCosmosEmulator}. */
export interface CosmosEmulatorOptions extends ServiceEmulatorOptions {
  /** Account name: the host is `<accountName>.documents.azure.com`. Default `mycosmos`. */
  accountName?: string;
  /** Containers that exist. Default `[{ database: "appdb", container: "items", partitionKeyPath: "/id" }]`. */
  containers?: ReadonlyArray<{
    /** Database id. */
    database: string;
    /** Container id. */
    container: string;
    /** Partition key path. Default `/id`. */
    partitionKeyPath?: string;
  }>;
}

/** A running Cosmos DB emulator. */
export interface CosmosEmulator extends ServiceEmulator {
  /** The account name. */
  readonly accountName: string;
  /** Items of a container (no auth). */
  items(database: string, container: string): Array<Record<string, unknown>>;
}

const AUDIENCE = "https://cosmos.azure.com";
const AAD_PREFIX = "type=aad&ver=1.0&sig=";
const ACTIONS = {
  readMetadata: "Microsoft.DocumentDB/databaseAccounts/readMetadata",
  read: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read",
  create: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create",
  upsert: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert",
  replace: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/replace",
  delete: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/delete",
  query: "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery",
} as const;

interface Container {
  id: string;
  rid: string;
  partitionKeyPath: string;
  items: Map<string, Record<string, unknown>>;
}

/**
 * Azure Cosmos DB for NoSQL with Entra ID auth (`@azure/cosmos` `aadCredentials`): the account read `GET /`, database,
 * container and partition-key-range reads, and item read/create/upsert/replace/delete. The token comes in Cosmos' own
 * header form `authorization: type=aad&ver=1.0&sig=<token>` (URL-encoded by the SDK). Data access is Cosmos' own SQL RBAC:
 * assign `Cosmos DB Built-in Data Reader` / `…Contributor` (or their definition ids `00000000-0000-0000-0000-00000000000{1,2}`)
 * at `/`, `/dbs/<db>`, `/dbs/<db>/colls/<c>` or the full resource id. Denials: 403 `x-ms-substatus: 5301`; database and
 * container management through the data plane: 403 `x-ms-substatus: 5300`.
 */
export async function startCosmosEmulator(options: CosmosEmulatorOptions): Promise<CosmosEmulator> {
  const accountName = (options.accountName ?? "mycosmos").toLowerCase();
  const host = `${accountName}.documents.azure.com`;
  const resourceId = resourceIdOf(options, "Microsoft.DocumentDB", `databaseAccounts/${accountName}`);
  const databases = new Map<string, { rid: string; containers: Map<string, Container> }>();
  for (const spec of options.containers ?? [{ database: "appdb", container: "items", partitionKeyPath: "/id" }]) {
    const db = databases.get(spec.database) ?? { rid: rid(spec.database), containers: new Map() };
    databases.set(spec.database, db);
    db.containers.set(spec.container, {
      id: spec.container,
      rid: rid(`${spec.database}/${spec.container}`),
      partitionKeyPath: spec.partitionKeyPath ?? "/id",
      items: new Map(),
    });
  }
  const regionName = displayRegion(options.region ?? "westeurope");

  const error = (call: IncomingCall, status: number, code: string, message: string, substatus?: number): Reply =>
    json(
      status,
      { code, message: `${message}\r\nActivityId: ${activityId(call)}, Microsoft.Azure.Documents.Common/2.14.0` },
      substatus !== undefined ? `${code}/${substatus}` : code,
      {
        ...(substatus !== undefined ? { "x-ms-substatus": String(substatus) } : {}),
      },
    );
  const blocked = (text: string) => `Request blocked by Auth ${accountName} : ${text}`;

  const emulator = await startEmulatorServer(
    {
      service: "cosmos",
      host,
      resourceId,
      audiences: [AUDIENCE, `https://${host}`],
      roles: COSMOS_BUILT_IN_ROLES,
      normalizeScope: (scope) => (scope.toLowerCase().startsWith("/subscriptions/") ? scope : `${resourceId}${scope === "/" ? "" : scope}`),
      firewall: {
        afterAuth: false,
        reply: (call) =>
          error(
            call,
            403,
            "Forbidden",
            `Request originated from client IP ${call.clientIp} through public internet. This is blocked by your Cosmos DB account firewall settings. More info: https://aka.ms/cosmosdb-tsg-forbidden`,
          ),
      },
      readToken(call) {
        const raw = header(call.headers, "authorization");
        if (!raw) return undefined;
        const decoded = raw.includes("%") ? safeDecode(raw) : raw;
        // Key (type=master) and resource-token auth are "not a JWT" here: answered as local auth being disabled.
        return decoded.toLowerCase().startsWith(AAD_PREFIX) ? decoded.slice(AAD_PREFIX.length) : "non-aad";
      },
      headers: (call) => ({
        "x-ms-activity-id": activityId(call),
        "x-ms-request-charge": "1",
        "x-ms-session-token": "0:-1#1",
        "x-ms-gatewayversion": "2.0.0",
        "x-ms-serviceversion": "version=2.14.0.0",
        "x-ms-schemaversion": "1.19",
        "strict-transport-security": "max-age=31536000",
        ...(call.clientRequestId ? { "x-ms-client-request-id": call.clientRequestId } : {}),
        "x-ms-request-id": call.requestId,
      }),
      tokenFailure(call, failure, env) {
        const claims = failure.claims;
        switch (failure.reason) {
          case "missing":
            return error(call, 401, "Unauthorized", "Required Header authorization is missing. Ensure a valid Authorization token is passed.");
          case "malformed":
            return error(call, 401, "Unauthorized", "Local Authorization is disabled. Use an AAD token to authorize all requests.");
          case "expired":
            return error(
              call,
              401,
              "Unauthorized",
              blocked(
                `Provided AAD token has been expired since [${dotnetUtc((claims?.exp ?? 0) * 1000)} (UTC)]. Current server time is [${dotnetUtc(env.now())} (UTC)]. Please refresh the AAD token.`,
              ),
            );
          // The texts below follow the shape of the expired-token one; their exact wording is unverified.
          case "not-yet-valid":
            return error(
              call,
              401,
              "Unauthorized",
              blocked(
                `Provided AAD token is not valid before [${dotnetUtc((claims?.nbf ?? 0) * 1000)} (UTC)]. Current server time is [${dotnetUtc(env.now())} (UTC)].`,
              ),
            );
          case "audience":
            return error(
              call,
              401,
              "Unauthorized",
              blocked(`Provided AAD token has an invalid audience [${claims?.aud ?? ""}]. Expected [${AUDIENCE}] or [https://${host}].`),
            );
          case "tenant":
            return error(
              call,
              401,
              "Unauthorized",
              blocked(`Provided AAD token was issued by a tenant [${claims?.tid ?? ""}] that does not own this account [${env.tenantId}].`),
            );
          case "signature":
            return error(call, 401, "Unauthorized", blocked("Provided AAD token signature could not be validated."));
        }
      },
      handle(call, caller, env) {
        const segments = call.url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
        const op = classify(call, segments);
        if (op.kind === "management") {
          return error(
            call,
            403,
            "Forbidden",
            blocked(
              `The given request [${call.method} ${call.url.pathname}] cannot be authorized by AAD token in data plane. Learn more: https://aka.ms/cosmos-native-rbac.`,
            ),
            5300,
          );
        }
        if (op.kind === "unsupported")
          return error(call, 400, "BadRequest", `The request [${call.method} ${call.url.pathname}] is not supported by the emulator.`);
        const scopePath = op.containerPath ?? (segments.length ? `/${segments.join("/")}` : "");
        // The account read (the SDK's first call) needs readMetadata somewhere in the account, so that a role scoped to
        // one container is enough to start a client.
        const orBelow = segments.length === 0;
        if (!env.rbac.allows(caller.oid, "dataAction", op.action, `${resourceId}${scopePath}`, { orBelow })) {
          const resource = segments.length ? segments.join("/") : "/";
          return error(
            call,
            403,
            "Forbidden",
            blocked(
              `Request is blocked because principal [${caller.oid}] does not have required RBAC permissions to perform action [${op.action}] on resource [${resource}]. Learn more: https://aka.ms/cosmos-native-rbac.`,
            ),
            5301,
          );
        }
        return serve(call, segments, op.action, env);
      },
    },
    options,
  );

  function serve(call: IncomingCall, segments: string[], action: string, env: EmulatorEnv): Reply {
    const [, dbName, , collName, , docId] = segments;
    if (segments.length === 0) return json(200, databaseAccount(call, accountName, regionName));
    const db = databases.get(dbName ?? "");
    if (!db) return error(call, 404, "NotFound", "Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found");
    if (segments.length === 1)
      return json(
        200,
        listing(
          "Databases",
          [...databases.entries()].map(([id, d]) => databaseBody(id, d.rid, env)),
        ),
      );
    if (segments.length === 2) return json(200, databaseBody(dbName!, db.rid, env));
    const coll = db.containers.get(collName ?? "");
    if (segments.length === 3)
      return json(
        200,
        listing(
          "DocumentCollections",
          [...db.containers.values()].map((c) => containerBody(db.rid, c, env)),
        ),
      );
    if (!coll) return error(call, 404, "NotFound", "Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found");
    if (segments.length === 4) return json(200, containerBody(db.rid, coll, env));
    if (segments[4] === "pkranges") {
      if (header(call.headers, "if-none-match")) return { status: 304, headers: { etag: `"${coll.rid}-pk"` } };
      return json(200, { _rid: coll.rid, PartitionKeyRanges: [pkRange(coll, env)], _count: 1 }, undefined, {
        etag: `"${coll.rid}-pk"`,
        "x-ms-item-count": "1",
      });
    }
    const partitionKey = header(call.headers, "x-ms-documentdb-partitionkey") ?? "[]";
    if (action === ACTIONS.query || (call.method === "GET" && segments.length === 5)) {
      const docs = [...coll.items.values()];
      return json(200, listing("Documents", docs), undefined, { "x-ms-item-count": String(docs.length) });
    }
    if (segments.length === 5) {
      // create / upsert
      let doc: Record<string, unknown>;
      try {
        doc = JSON.parse(call.body.toString("utf8")) as Record<string, unknown>;
      } catch {
        return error(call, 400, "BadRequest", "The input content is invalid because the required properties - 'id; ' - are missing");
      }
      const id = typeof doc.id === "string" ? doc.id : "";
      const key = itemKey(partitionKey, id);
      if (action === ACTIONS.create && coll.items.has(key)) {
        return error(call, 409, "Conflict", "Entity with the specified id already exists in the system.");
      }
      const stored = withSystemProperties(doc, coll, id, env);
      const existed = coll.items.has(key);
      coll.items.set(key, stored);
      return json(existed ? 200 : 201, stored, undefined, { etag: String(stored._etag) });
    }
    const key = itemKey(partitionKey, docId ?? "");
    const existing = coll.items.get(key);
    if (!existing)
      return error(call, 404, "NotFound", "Entity with the specified id does not exist in the system. More info: https://aka.ms/cosmosdb-tsg-not-found");
    if (action === ACTIONS.delete) {
      coll.items.delete(key);
      return { status: 204 };
    }
    if (action === ACTIONS.replace) {
      const doc = JSON.parse(call.body.toString("utf8")) as Record<string, unknown>;
      const stored = withSystemProperties(doc, coll, docId ?? "", env);
      coll.items.set(key, stored);
      return json(200, stored, undefined, { etag: String(stored._etag) });
    }
    return json(200, existing, undefined, { etag: String(existing._etag) });
  }

  return {
    ...emulator,
    accountName,
    items: (database, container) => [...(databases.get(database)?.containers.get(container)?.items.values() ?? [])].map((d) => ({ ...d })),
  };
}

type Operation = { kind: "data"; action: string; containerPath?: string } | { kind: "management" } | { kind: "unsupported" };

function classify(call: IncomingCall, segments: string[]): Operation {
  const n = segments.length;
  const shapeOk = (n === 0 || segments[0] === "dbs") && (n < 3 || segments[2] === "colls") && (n < 5 || ["docs", "pkranges"].includes(segments[4]!));
  if (!shapeOk || n > 6 || (segments[4] === "pkranges" && n > 5)) return { kind: "unsupported" };
  const containerPath = n >= 4 ? `/dbs/${segments[1]}/colls/${segments[3]}` : undefined;
  const isQuery = header(call.headers, "x-ms-documentdb-isquery") === "true" || (header(call.headers, "content-type") ?? "").includes("application/query+json");
  if (call.method === "GET") {
    const readsItems = segments[4] === "docs";
    return { kind: "data", action: readsItems ? ACTIONS.read : ACTIONS.readMetadata, containerPath };
  }
  // Creating, replacing or deleting databases and containers is a control-plane operation for Entra ID callers.
  if (n <= 4) return { kind: "management" };
  if (call.method === "POST" && n === 5) {
    if (isQuery) return { kind: "data", action: ACTIONS.query, containerPath };
    return { kind: "data", action: header(call.headers, "x-ms-documentdb-is-upsert") === "true" ? ACTIONS.upsert : ACTIONS.create, containerPath };
  }
  if (call.method === "PUT" && n === 6) return { kind: "data", action: ACTIONS.replace, containerPath };
  if (call.method === "DELETE" && n === 6) return { kind: "data", action: ACTIONS.delete, containerPath };
  return { kind: "unsupported" };
}

function databaseAccount(call: IncomingCall, accountName: string, regionName: string) {
  // The SDK sends every later request to the location endpoints: name the host the client used.
  const location = { name: regionName, databaseAccountEndpoint: `https://${call.url.host}/` };
  return {
    _self: "",
    id: accountName,
    _rid: `${accountName}.documents.azure.com`,
    media: "//media/",
    addresses: "//addresses/",
    _dbs: "//dbs/",
    writableLocations: [location],
    readableLocations: [location],
    enableMultipleWriteLocations: false,
    continuousBackupEnabled: false,
    enableNRegionSynchronousCommit: false,
    enablePerPartitionFailoverBehavior: false,
    userReplicationPolicy: { asyncReplication: false, minReplicaSetSize: 3, maxReplicasetSize: 4 },
    userConsistencyPolicy: { defaultConsistencyLevel: "Session" },
    systemReplicationPolicy: { minReplicaSetSize: 3, maxReplicasetSize: 4 },
    readPolicy: { primaryReadCoefficient: 1, secondaryReadCoefficient: 1 },
    queryEngineConfiguration: JSON.stringify({
      maxSqlQueryInputLength: 262144,
      maxJoinsPerSqlQuery: 10,
      queryMaxInMemorySortDocumentCount: -1000,
      maxQueryRequestTimeoutFraction: 0.9,
      sqlAllowNonFiniteNumbers: false,
      sqlAllowAggregateFunctions: true,
      sqlAllowSubQuery: true,
      sqlAllowScalarSubQuery: true,
      allowNewKeywords: true,
      sqlAllowLike: true,
      sqlAllowGroupByClause: true,
      maxSpatialQueryCells: 12,
      spatialMaxGeometryPointCount: 256,
      sqlDisableOptimizationFlags: 0,
      sqlAllowTop: true,
      enableSpatialIndexing: true,
    }),
  };
}

function listing(kind: string, items: unknown[]) {
  return { _rid: "", [kind]: items, _count: items.length };
}

function databaseBody(id: string, dbRid: string, env: EmulatorEnv) {
  return { id, _rid: dbRid, _self: `dbs/${dbRid}/`, _etag: `"${dbRid}"`, _colls: "colls/", _users: "users/", _ts: Math.floor(env.now() / 1000) };
}

function containerBody(dbRid: string, coll: Container, env: EmulatorEnv) {
  return {
    id: coll.id,
    indexingPolicy: { indexingMode: "consistent", automatic: true, includedPaths: [{ path: "/*" }], excludedPaths: [{ path: '/"_etag"/?' }] },
    partitionKey: { paths: [coll.partitionKeyPath], kind: "Hash", version: 2 },
    conflictResolutionPolicy: { mode: "LastWriterWins", conflictResolutionPath: "/_ts", conflictResolutionProcedure: "" },
    geospatialConfig: { type: "Geography" },
    _rid: coll.rid,
    _ts: Math.floor(env.now() / 1000),
    _self: `dbs/${dbRid}/colls/${coll.rid}/`,
    _etag: `"${coll.rid}"`,
    _docs: "docs/",
    _sprocs: "sprocs/",
    _triggers: "triggers/",
    _udfs: "udfs/",
    _conflicts: "conflicts/",
  };
}

function pkRange(coll: Container, env: EmulatorEnv) {
  return {
    _rid: `${coll.rid}AA==`,
    id: "0",
    _etag: `"${coll.rid}-0"`,
    minInclusive: "",
    maxExclusive: "FF",
    ridPrefix: 0,
    _self: `${coll.rid}/pkranges/0/`,
    throughputFraction: 1,
    status: "online",
    parents: [],
    ownedArchivalPKRangeIds: [],
    _ts: Math.floor(env.now() / 1000),
    _lsn: 1,
  };
}

function withSystemProperties(doc: Record<string, unknown>, coll: Container, id: string, env: EmulatorEnv): Record<string, unknown> {
  const docRid = `${coll.rid}${Buffer.from(id).toString("base64url").slice(0, 8)}`;
  return {
    ...doc,
    id,
    _rid: docRid,
    _self: `${coll.rid}/docs/${docRid}/`,
    _etag: `"${rid(`${id}${env.now()}`)}"`,
    _attachments: "attachments/",
    _ts: Math.floor(env.now() / 1000),
  };
}

function itemKey(partitionKeyHeader: string, id: string): string {
  return `${partitionKeyHeader}\u0000${id}`;
}

function rid(seed: string): string {
  return createHash("sha256").update(seed).digest("base64").slice(0, 8);
}

function activityId(call: IncomingCall): string {
  return header(call.headers, "x-ms-activity-id") ?? call.requestId;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function displayRegion(region: string): string {
  const known: Record<string, string> = {
    westeurope: "West Europe",
    northeurope: "North Europe",
    eastus: "East US",
    eastus2: "East US 2",
    westus: "West US",
    westus2: "West US 2",
  };
  return known[region.toLowerCase()] ?? region;
}
