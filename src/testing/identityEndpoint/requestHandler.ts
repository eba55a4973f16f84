// One request to the emulator, from arrival to answer: log it, route it (keys, token path, anything else),
// carry out a connection-level fault, then write the token answer in the shape's format.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TokenSigner } from "../tokenSigner.js";
import type { FaultSwitch } from "./faults/faultSwitch.js";
import type { ConnectionAct } from "./faults/faultTable.js";
import { recordRequest } from "./requestRecord.js";
import type { LifetimeAwareHandler, ServerLifetime } from "./server.js";
import type { EndpointShape, TokenAnswer } from "./shapes/endpointShape.js";
import type { TokenAnswerer } from "./tokenAnswer.js";
import type { RecordedIdentityRequest } from "./types.js";

/** What the handler needs. */
export interface RequestHandlerSettings {
  /** The wire shape. */
  shape: EndpointShape;
  /** The secret `X-IDENTITY-HEADER` must match. */
  identityHeader: string;
  /** Serves the public keys. */
  signer: TokenSigner;
  /** The fault in effect. */
  faults: FaultSwitch;
  /** Answers token requests. */
  answerToken: TokenAnswerer;
  /** The request log every request is appended to. */
  requests: RecordedIdentityRequest[];
}

/** Paths that serve the signer's JWKS, so a service emulator or test can verify tokens like Entra ID's. */
const isKeysPath = (path: string): boolean => path === "/jwks" || path.endsWith("/discovery/keys") || path.endsWith("/discovery/v2.0/keys");

/** Makes the handler for one emulator. */
export function createRequestHandler(settings: RequestHandlerSettings): LifetimeAwareHandler {
  const { shape, signer, faults, answerToken, requests } = settings;
  const send = answerWriter(shape);
  return async (req, res, lifetime) => {
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const record = recordRequest(req, url, settings.identityHeader);
    requests.push(record);
    // Drain the body (MSAL sends none on GET, but be tolerant).
    req.resume();

    const path = url.pathname.replace(/\/+$/, "").toLowerCase();
    if (isKeysPath(path)) {
      send(res, record, { status: 200, body: signer.jwks() });
      record.outcome = "other";
      return;
    }
    if (path !== shape.tokenPath) return send(res, record, shape.error(404, `No route for ${url.pathname}`));
    if (record.method !== "GET") return send(res, record, shape.error(405, "The requested resource does not support this HTTP method."));

    const taken = faults.take();
    if (taken) record.fault = taken.fault.kind;
    const answering = await actOnConnection(taken?.effects.connection, req, record, lifetime);
    if (answering) send(res, record, await answerToken(record, taken?.effects));
  };
}

/** Carries out a connection-level fault; false when the request must go unanswered. */
async function actOnConnection(
  act: ConnectionAct | undefined,
  req: IncomingMessage,
  record: RecordedIdentityRequest,
  lifetime: ServerLifetime,
): Promise<boolean> {
  switch (act?.act) {
    case undefined:
      return true;
    case "hang":
      record.outcome = "hang";
      return false; // the socket stays open until close() destroys it
    case "reset": {
      record.outcome = "reset";
      const socket = req.socket;
      if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
      else socket.destroy();
      return false;
    }
    case "close":
      // A FIN after the request was read: no status line, no body.
      record.outcome = "closed";
      req.socket.end();
      return false;
    case "delay":
      await lifetime.wait(act.ms);
      return !lifetime.closed;
  }
}

/** Writes answers: JSON unless the body is a string, the shape's `Server` header, and the log entry's outcome. */
function answerWriter(shape: EndpointShape) {
  return (res: ServerResponse, record: RecordedIdentityRequest, answer: TokenAnswer): void => {
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", ...lowerKeys(answer.headers ?? {}) };
    if (shape.serverHeader !== undefined) headers["server"] ??= shape.serverHeader;
    record.status = answer.status;
    record.outcome = answer.status === 200 && answer.identity ? "token" : "error";
    record.identity = answer.status === 200 ? answer.identity : undefined;
    if (res.destroyed) return;
    res.writeHead(answer.status, { ...headers, "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
  };
}

/** Header names in lower case, so a fault's `Content-Type` replaces the default instead of doubling it. */
function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
