/**
 * classifyAmqpError: failures that are not HTTP answers.
 * - Service Bus / Event Hubs over AMQP: `ServiceBusError` (code "UnauthorizedAccess"), core-amqp `MessagingError`
 *   (code "UnauthorizedError", from condition `amqp:unauthorized-access`), raw rhea errors `{ condition, description }`,
 *   CBS put-token failures ("Put token failed. status-code: 401, status-description: InvalidIssuer…" in .NET wording;
 *   in JS the description alone, e.g. "InvalidIssuer: Token issuer is invalid. TrackingId:…"), with the namespace
 *   and entity taken from `sb://…` in the text (or `context.url`).
 * - Database and cache logins, when their text is recognisable (SQL "Login failed for user '<token-identified
 *   principal>'", PostgreSQL, MySQL, Redis WRONGPASS/NOPERM): the service is found from `context.url` or from the
 *   catalog's fingerprints of those protocols.
 * Undefined for anything else (entity not found, busy server, timeouts…). Pure, never throws.
 */
import type { Diagnosis } from "../diagnosis/types.js";
import type { FailureProtocol } from "../catalog/types.js";
import type { ServiceErrorInfo } from "./errorBody.js";
import { extractFacts, foldText } from "./errorBody.js";
import { safeGet, safeString } from "../util/headers.js";
import type { ClassifyContext, Observation } from "./reason.js";
import type { ServiceCatalog } from "../catalog/resolve.js";
import { observeThenReason } from "./response.js";
import { AMQP_ERROR_NAMES } from "../catalog/services.js";

const MAX_NODES = 8;
const MAX_TEXT = 8 * 1024;

interface ErrorNode {
  name?: string;
  code?: string;
  condition?: string;
  texts: string[];
  statusCode?: number;
}

/** Classifies an AMQP (Service Bus, Event Hubs), SQL or Redis authentication failure. Undefined for anything else. */
export function classifyAmqpError(error: unknown, context?: ClassifyContext, catalog?: ServiceCatalog): Diagnosis | undefined {
  return observeThenReason((safeContext, resolved) => observeError(error, safeContext, resolved), context, catalog);
}

/** The error, its `error` (ErrorEvent), its cause chain and AggregateError members: breadth first, bounded. */
function collectNodes(root: unknown): ErrorNode[] {
  const nodes: ErrorNode[] = [];
  const queue: unknown[] = [root];
  const seen = new Set<unknown>();
  while (queue.length > 0 && nodes.length < MAX_NODES) {
    const current = queue.shift();
    if (current === null || current === undefined || seen.has(current)) continue;
    seen.add(current);
    if (typeof current === "string") {
      nodes.push({ texts: [current.slice(0, MAX_TEXT)] });
      continue;
    }
    if (typeof current !== "object" && typeof current !== "function") continue;
    const node: ErrorNode = { texts: [] };
    const name = safeString(safeGet(current, "name"), 128);
    if (name !== undefined) node.name = name;
    const code = safeString(safeGet(current, "code"), 128);
    if (code !== undefined) node.code = code;
    const condition = safeString(safeGet(current, "condition"), 128) ?? safeString(safeGet(current, "errorCondition"), 128);
    if (condition !== undefined) node.condition = condition;
    for (const key of ["message", "description", "statusDescription", "detail"]) {
      const text = safeString(safeGet(current, key), MAX_TEXT);
      if (text !== undefined && text.length > 0 && !node.texts.includes(text)) node.texts.push(text);
    }
    const status = safeGet(current, "statusCode") ?? safeGet(current, "status");
    const statusNumber = typeof status === "number" ? status : typeof status === "string" && /^\d{3}$/.test(status) ? Number(status) : undefined;
    if (statusNumber !== undefined && Number.isInteger(statusNumber)) node.statusCode = statusNumber;
    nodes.push(node);
    queue.push(safeGet(current, "error"), safeGet(current, "cause"));
    const members = safeGet(current, "errors");
    if (Array.isArray(members)) {
      try {
        queue.push(...members.slice(0, 4));
      } catch {
        // Hostile array.
      }
    }
  }
  return nodes;
}

const AMQP_AUTH_CODES = /^(UnauthorizedAccess|UnauthorizedError|Unauthorized|amqp:unauthorized-access)$/i;
const AMQP_TEXT =
  /\bsb:\/\/|\bamqps?:\/\/|put token failed|\bcbs\b|claim\(s\) (are|is) required|status-code:\s*\d{3}|ip has been prevented to connect|trackingid:/i;
const AMQP_AUTH_TEXT =
  /unauthori[sz]ed|claim\(s\) (are|is) required|put token failed|expiredtoken|token (is |has )?expired|invalidissuer|invalid issuer|invalidsignature|invalid signature|invalidaudience|invalid audience|ip has been prevented to connect|status-code:\s*40[13]/i;
const SQL_TEXT =
  /login failed for user|server is not currently configured to accept this token|the access token (is|has) expired|pg_hba\.conf|password authentication failed for user|access denied for user|client with ip address '.{0,60}' is not allowed to access the server/i;
const SQL_CODES = /^(ELOGIN|28P01|28000|ER_ACCESS_DENIED_ERROR|18456)$/i;
const REDIS_TEXT = /\bWRONGPASS\b|\bNOPERM\b|invalid username-password pair/i;

function observeError(error: unknown, context: ClassifyContext, catalog: ServiceCatalog): Observation | undefined {
  if (error === null || error === undefined) return undefined;
  const nodes = collectNodes(error);
  if (nodes.length === 0) return undefined;
  const names = nodes.map((n) => n.name).filter((n): n is string => n !== undefined);
  const codes = nodes.flatMap((n) => [n.code, n.condition]).filter((c): c is string => c !== undefined);
  const texts = nodes.flatMap((n) => n.texts);
  const joined = foldText(texts, 32 * 1024);

  let protocol: FailureProtocol | undefined;
  const amqpLike =
    names.some((n) => AMQP_ERROR_NAMES.includes(n) || catalog.services.some((service) => service.errorNames?.includes(n))) ||
    codes.some((c) => AMQP_AUTH_CODES.test(c) || c.startsWith("amqp:") || c.startsWith("com.microsoft:")) ||
    AMQP_TEXT.test(joined);
  if (amqpLike) {
    const auth = codes.some((c) => AMQP_AUTH_CODES.test(c)) || AMQP_AUTH_TEXT.test(joined) || nodes.some((n) => n.statusCode === 401 || n.statusCode === 403);
    if (!auth) return undefined;
    protocol = "amqp";
  } else if (SQL_TEXT.test(joined) || codes.some((c) => SQL_CODES.test(c))) {
    protocol = "sql";
  } else if (REDIS_TEXT.test(joined)) {
    protocol = "redis";
  } else {
    return undefined;
  }

  const facts = extractFacts(joined, true, catalog.quotes);
  // Host: the entity URL in the text, else the context's URL.
  let host: string | undefined;
  let path: string | undefined;
  for (const candidate of [facts.entityUrl, context.url]) {
    if (candidate === undefined) continue;
    try {
      const parsed = new URL(candidate);
      if (parsed.host) {
        host = parsed.host.toLowerCase();
        path = parsed.pathname && parsed.pathname !== "/" ? parsed.pathname.slice(0, 512) : undefined;
        break;
      }
    } catch {
      // Not a URL.
    }
  }

  let status: number | undefined;
  const statusMatch = /status-code:\s*(\d{3})/i.exec(joined);
  if (statusMatch?.[1] !== undefined) status = Number(statusMatch[1]);
  else if (protocol === "amqp") {
    status = nodes.find((n) => n.statusCode === 401 || n.statusCode === 403)?.statusCode ?? 401;
  }

  // "InvalidIssuer: Token issuer is invalid." → the leading word is the broker's own code.
  const leading = texts.map((t) => /^\s*([A-Za-z]{4,40}):\s/.exec(t)?.[1]).filter((c): c is string => c !== undefined && !/^(error|unauthorized)$/i.test(c));
  const statusDescription = /status-description:\s*([A-Za-z]{4,40})\b/i.exec(joined)?.[1];
  const errorInfo: ServiceErrorInfo = {
    codes: dedupe([...leading, ...(statusDescription ? [statusDescription] : []), ...codes]),
    messages: texts.slice(0, 4),
    format: "text",
  };

  const observation: Observation = {
    protocol,
    error: errorInfo,
    headers: new Map(),
    text: foldText([...errorInfo.codes, joined]),
    facts,
    errorNames: dedupe(names),
  };
  if (status !== undefined) observation.status = status;
  if (host !== undefined) observation.host = host;
  if (path !== undefined) observation.path = path;
  if (texts[0] !== undefined) observation.message = texts[0];
  return observation;
}

function dedupe(list: string[]): string[] {
  const seen = new Set<string>();
  return list.filter((item) => {
    const key = item.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
