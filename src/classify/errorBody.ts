/**
 * The service's own words about a failure: error codes and messages from JSON bodies (Azure `error.code` /
 * `innererror.code`, OData `odata.error`, ACR `errors[]`, problem+json `title`/`detail`), XML bodies (Storage and
 * Service Bus `<Error><Code>…`), and headers (`x-ms-error-code`, `x-ms-substatus`); plus the facts quoted in the
 * messages (caller object id, resource id, action). Pure, bounded, never throws.
 */
import type { HeaderBag } from "../util/headers.js";
import { catalogFor, type CompiledQuote, type CompiledQuotes } from "../catalog/resolve.js";
import type { QuotedFactKind } from "../catalog/types.js";

/** Bodies beyond this are only scanned in their first part (error bodies are small; a huge body is not an error body). */
export const MAX_BODY_SCAN = 64 * 1024;
// Real error bodies are a few KB; a larger "JSON" body is read by pattern (bounded) instead of parsed whole.
const MAX_JSON_PARSE = 64 * 1024;
const MAX_MESSAGE = 4096;

export interface ServiceErrorInfo {
  /** Error codes, most specific first (innererror before error), de-duplicated, pure numbers last. */
  codes: string[];
  /** Message texts, decoded (JSON escapes and XML entities resolved). */
  messages: string[];
  format: "json" | "xml" | "text" | "none";
  /** Cosmos DB `x-ms-substatus`. */
  substatus?: string;
}

export interface BodyFacts {
  /** The caller the service saw: object id and client id. */
  callerObjectId?: string;
  callerAppId?: string;
  /** Issuer the service saw (`iss=` in Key Vault's caller line). */
  callerIssuer?: string;
  callerMirid?: string;
  /** ARM resource ids or scopes quoted by the service, in order of appearance. */
  resources: string[];
  /** Actions, data actions, claims or permissions the service says were needed. */
  actions: string[];
  /** Key Vault "Assignment: (not found)". */
  noAssignment?: boolean;
  /** AMQP/REST entity: `sb://ns.servicebus.windows.net/queue`. */
  entityUrl?: string;
  /** The resource's tenant, when the service names it (ARM "It must match the tenant '…'"). */
  resourceTenantId?: string;
}

/** Reads codes and messages from a body and the headers. */
export function parseErrorBody(body: unknown, headers: HeaderBag = new Map()): ServiceErrorInfo {
  const info: ServiceErrorInfo = { codes: [], messages: [], format: "none" };
  try {
    const text = typeof body === "string" ? body : undefined;
    if (text !== undefined && text.trim().length > 0) {
      const trimmed = text.trimStart();
      if ((trimmed.startsWith("{") || trimmed.startsWith("[")) && text.length <= MAX_JSON_PARSE && readJson(text, info)) {
        info.format = "json";
      } else if (trimmed.startsWith("<")) {
        readXml(text.slice(0, MAX_BODY_SCAN), info);
        info.format = "xml";
      } else if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
        // Unparseable or huge JSON: pick codes and messages out by pattern.
        readJsonByPattern(text.slice(0, MAX_BODY_SCAN), info);
        info.format = "json";
      } else {
        info.messages.push(text.slice(0, MAX_MESSAGE));
        info.format = "text";
      }
    }
    const headerCode = headers.get("x-ms-error-code");
    if (headerCode) addCode(info, headerCode);
    const substatus = headers.get("x-ms-substatus");
    if (substatus && /^\s*\d{1,6}\s*$/.test(substatus)) info.substatus = substatus.trim();
  } catch {
    // Keep what was read.
  }
  // Pure numbers (`<Code>401</Code>`, `"code":"401"`) say nothing the status does not: keep them, but last.
  info.codes = [...info.codes.filter((c) => !/^\d+$/.test(c)), ...info.codes.filter((c) => /^\d+$/.test(c))];
  return info;
}

function addCode(info: ServiceErrorInfo, code: unknown): void {
  if (typeof code === "number" && Number.isFinite(code)) code = String(code);
  if (typeof code !== "string") return;
  const trimmed = code.trim().slice(0, 128);
  if (trimmed.length === 0 || info.codes.length >= 16) return;
  if (!info.codes.some((c) => c.toLowerCase() === trimmed.toLowerCase())) info.codes.push(trimmed);
}

function addMessage(info: ServiceErrorInfo, message: unknown): void {
  if (typeof message === "object" && message !== null && typeof (message as Record<string, unknown>)["value"] === "string") {
    message = (message as Record<string, unknown>)["value"]; // OData: { lang, value }
  }
  if (typeof message !== "string") return;
  const trimmed = message.trim();
  if (trimmed.length === 0 || info.messages.length >= 16) return;
  if (!info.messages.includes(trimmed)) info.messages.push(trimmed.slice(0, MAX_MESSAGE));
}

/** Lower-cased key → original key, built once per parsed object: lookups stay O(1) whatever the body's size. */
const lowerKeyIndex = new WeakMap<object, Map<string, string>>();

/** Case-insensitive own-property lookup (Graph says `innerError`, Azure says `innererror`, Service Bus `Detail`). */
function field(object: unknown, name: string): unknown {
  if (object === null || typeof object !== "object" || Array.isArray(object)) return undefined;
  const record = object as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(record, name)) return record[name];
  let index = lowerKeyIndex.get(record);
  if (index === undefined) {
    index = new Map();
    for (const key of Object.keys(record)) {
      const lower = key.toLowerCase();
      if (!index.has(lower)) index.set(lower, key);
    }
    lowerKeyIndex.set(record, index);
  }
  const key = index.get(name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

function readJson(text: string, info: ServiceErrorInfo): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== "object") return false;
  const root = Array.isArray(parsed) ? parsed[0] : parsed;
  const innerCodes: unknown[] = [];
  const outerCodes: unknown[] = [];
  const visitError = (error: unknown, depth: number) => {
    if (error === null || typeof error !== "object" || depth > 6) return;
    if (typeof error === "string") return;
    const inner = field(error, "innererror") ?? field(error, "innerError");
    if (inner !== undefined) visitError(inner, depth + 1);
    innerCodes.push(field(error, "code"));
    addMessage(info, field(error, "message"));
    const details = field(error, "details");
    if (Array.isArray(details)) for (const detail of details.slice(0, 5)) visitError(detail, depth + 1);
  };
  const error = field(root, "error") ?? field(root, "odata.error");
  if (error !== undefined && typeof error === "object") {
    visitError(error, 0);
  } else if (typeof error === "string") {
    // OAuth style: {"error":"invalid_token","error_description":"…"}
    outerCodes.push(error);
  }
  const errors = field(root, "errors");
  if (Array.isArray(errors)) {
    for (const item of errors.slice(0, 5)) {
      innerCodes.push(field(item, "code"));
      addMessage(info, field(item, "message"));
      const detail = field(item, "detail");
      if (detail !== undefined) addMessage(info, typeof detail === "string" ? detail : safeJson(detail));
    }
  }
  outerCodes.push(field(root, "code"), field(root, "errorCode"));
  for (const name of ["message", "Message", "error_description", "detail", "Detail", "title", "reason"]) addMessage(info, field(root, name));
  for (const code of [...innerCodes, ...outerCodes]) addCode(info, code);
  return true;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value)?.slice(0, MAX_MESSAGE);
  } catch {
    return undefined;
  }
}

function readJsonByPattern(text: string, info: ServiceErrorInfo): void {
  for (const match of text.matchAll(/"code"\s*:\s*"([^"\\]{1,128})"/gi)) addCode(info, match[1]);
  for (const match of text.matchAll(/"message"\s*:\s*"((?:[^"\\]|\\.){1,4096})"/gi)) addMessage(info, unescapeJson(match[1] ?? ""));
}

function unescapeJson(text: string): string {
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return text.replace(/\\[rnt]/g, " ");
  }
}

/**
 * The text of the first `<name …>…</name>` element whose content is at most MAX_MESSAGE characters, in one pass:
 * an opening tag's attributes end at the next `<` and each closing tag is searched for once, so a body of unclosed
 * or broken tags (`<<Code a<<Code a…`) costs no more than a well-formed one.
 */
function xmlElement(name: string): (text: string) => string | undefined {
  const opening = new RegExp(`<${name}(?:\\s[^<>]*)?>`, "gi");
  const closing = new RegExp(`</${name}>`, "gi");
  return (text) => {
    opening.lastIndex = 0;
    let close = -1; // the first closing tag after the current opening tag
    try {
      for (let open = opening.exec(text); open !== null; open = opening.exec(text)) {
        const contentStart = open.index + open[0].length;
        if (close < contentStart) {
          closing.lastIndex = contentStart;
          const found = closing.exec(text);
          if (found === null) return undefined; // no closing tag after this one, nor after any later one
          close = found.index;
        }
        if (close - contentStart <= MAX_MESSAGE) return text.slice(contentStart, close);
      }
      return undefined;
    } finally {
      opening.lastIndex = 0;
      closing.lastIndex = 0;
    }
  };
}
const XML_CODE = xmlElement("Code");
const XML_TEXT_TAGS = ["Message", "Detail", "AuthenticationErrorDetail", "Reason", "ExceptionMessage"].map(xmlElement);

function readXml(text: string, info: ServiceErrorInfo): void {
  const code = XML_CODE(text);
  if (code !== undefined) addCode(info, decodeXml(code));
  for (const tag of XML_TEXT_TAGS) {
    const value = tag(text);
    if (value !== undefined) addMessage(info, decodeXml(value));
  }
}

function decodeXml(text: string): string {
  return unwrapCdata(text)
    .replace(/&#x([0-9a-f]{1,6});/gi, (_, hex: string) => codePoint(parseInt(hex, 16)))
    .replace(/&#(\d{1,7});/g, (_, dec: string) => codePoint(parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** `<![CDATA[x]]>` → `x`, by indexOf: a lazy regex would rescan to the end from every unclosed section. */
function unwrapCdata(text: string): string {
  let at = text.indexOf("<![CDATA[");
  if (at === -1) return text;
  let out = "";
  let from = 0;
  while (at !== -1) {
    const end = text.indexOf("]]>", at + 9);
    if (end === -1) break;
    out += text.slice(from, at) + text.slice(at + 9, end);
    from = end + 3;
    at = text.indexOf("<![CDATA[", from);
  }
  return out + text.slice(from);
}

function codePoint(value: number): string {
  try {
    return Number.isFinite(value) && value > 0 && value <= 0x10ffff ? String.fromCodePoint(value) : "";
  } catch {
    return "";
  }
}

/** Whitespace folded, control characters removed: what fingerprints are matched against. */
export function foldText(parts: readonly (string | undefined)[], max = MAX_BODY_SCAN): string {
  let out = "";
  for (const part of parts) {
    if (typeof part !== "string" || part.length === 0) continue;
    const room = max - out.length;
    if (room <= 0) break;
    // JSON bodies scanned raw still carry `\r\n` escapes: treat them as whitespace too.
    const head = part.slice(0, room);
    const piece = head.includes("\\") ? head.replace(/\\[rnt]/g, " ") : head;
    out += (out.length > 0 ? " " : "") + piece;
  }
  return out.replace(/[\u0000-\u001f\u007f\s]+/g, " ").trim();
}

/**
 * Facts quoted in the service's text: who called, on what, doing what, read with the catalog's quotes (each
 * service's, then the generic ones; see QuotedFact). `prefilter: false` runs every pattern whatever the text holds
 * (the property test's oracle: the pre-filter must never change the facts).
 */
export function extractFacts(text: string, prefilter = true, quotes: CompiledQuotes = catalogFor().quotes): BodyFacts {
  const facts: BodyFacts = { resources: [], actions: [] };
  try {
    if (typeof text !== "string" || text.length === 0) return facts;
    const scan = text.length > MAX_BODY_SCAN ? text.slice(0, MAX_BODY_SCAN) : text;
    // Lower-casing never loses a case-insensitive match of an ASCII literal (no other character folds to ASCII under
    // /i without the u flag); it may find one the pattern then rejects, which only costs the scan.
    const lower = prefilter ? scan.toLowerCase() : "";
    const holds = (quote: CompiledQuote) => !prefilter || lower.includes(quote.needs);
    /** The first match of the first quote of `fact` that matches. */
    const first = (fact: QuotedFactKind): RegExpExecArray | undefined => {
      for (const quote of quotes[fact]) {
        const match = holds(quote) ? quote.regex.exec(scan) : null;
        if (match !== null) return match;
      }
      return undefined;
    };
    /** Every capture of every quote of `fact`, in order, by exec from lastIndex 0 (matchAll would clone the RegExp). */
    const every = (fact: QuotedFactKind, into: string[], keep: (value: string) => boolean): void => {
      for (const quote of quotes[fact]) {
        if (!holds(quote)) continue;
        const regex = quote.regex;
        regex.lastIndex = 0;
        try {
          for (let match = regex.exec(scan); match !== null; match = regex.exec(scan)) {
            const value = match[1]?.trim();
            if (value && keep(value) && !into.includes(value) && into.length < 8) into.push(value);
            if (match[0].length === 0) regex.lastIndex++;
          }
        } finally {
          regex.lastIndex = 0;
        }
      }
    };
    const oid = first("callerObjectId")?.[1];
    if (oid) facts.callerObjectId = oid.toLowerCase();
    const appId = first("callerAppId")?.[1];
    if (appId) facts.callerAppId = appId.toLowerCase();
    const iss = first("callerIssuer")?.[1];
    if (iss) facts.callerIssuer = iss;
    const mirid = first("callerMirid")?.[1];
    if (mirid) facts.callerMirid = mirid;
    every("resource", facts.resources, (value) => value.startsWith("/"));
    every("action", facts.actions, () => true);
    if (first("noAssignment") !== undefined) facts.noAssignment = true;
    const tenant = first("resourceTenantId")?.[1];
    if (tenant) facts.resourceTenantId = tenant.toLowerCase();
    const entity = first("entityUrl")?.[0];
    if (entity) facts.entityUrl = entity.replace(/[.)]+$/, "");
  } catch {
    // Keep what was found.
  }
  return facts;
}
