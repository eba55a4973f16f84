import dc from "node:diagnostics_channel";
import type { EntraExchange } from "../classify/workloadIdentity.js";
import { sharedSlot } from "../util/processState.js";
import { recordInternalFault } from "../util/safe.js";

/**
 * The Entra token requests of this process (`…/oauth2/v2.0/token`), seen on node:diagnostics_channel: AKS workload
 * identity's exchange is made by a WorkloadIdentityCredential that ManagedIdentityCredential builds on every call,
 * which never uses our httpClient. Status, time and transport code only: no body, no query, no header.
 */
const MAX_KEPT = 32;
const state = sharedSlot("entraExchanges.v1", (): { subscribed: boolean; started: WeakMap<object, number>; exchanges: EntraExchange[] } => ({
  subscribed: false,
  started: new WeakMap(),
  exchanges: [],
}));
const TOKEN_PATH = /\/oauth2\/(?:v2\.0\/)?token(?:\?|$)/;

interface RequestLike {
  getHeader?(name: string): unknown;
  method?: string;
  path?: string;
  host?: string;
  protocol?: string;
}

function describe(request: RequestLike): { method: string; url: string } | undefined {
  const path = typeof request.path === "string" ? request.path : "";
  if (!TOKEN_PATH.test(path)) return undefined;
  // The Host header carries the port (`request.host` does not).
  const hostHeader = typeof request.getHeader === "function" ? request.getHeader("host") : undefined;
  const host = typeof hostHeader === "string" ? hostHeader : (request.host ?? "?");
  return { method: String(request.method ?? "POST"), url: `${request.protocol ?? "https:"}//${host}${path.split("?")[0]}` };
}

function record(request: RequestLike, status: number | undefined, errorCode: string | undefined): void {
  try {
    const seen = describe(request);
    if (seen === undefined) return;
    const startedAt = state.started.get(request as object) ?? Date.now();
    const exchange: EntraExchange = { ...seen, startedAt, durationMs: Date.now() - startedAt };
    if (status !== undefined) exchange.status = status;
    if (errorCode !== undefined) exchange.errorCode = errorCode;
    state.exchanges.push(exchange);
    if (state.exchanges.length > MAX_KEPT) state.exchanges.shift();
  } catch (fault) {
    recordInternalFault(fault);
  }
}

const onStart = (message: unknown) => {
  const request = (message as { request?: RequestLike }).request;
  if (request !== undefined && describe(request) !== undefined) state.started.set(request as object, Date.now());
};
const onFinish = (message: unknown) => {
  const { request, response } = message as { request?: RequestLike; response?: { statusCode?: number } };
  if (request !== undefined) record(request, response?.statusCode, undefined);
};
const onError = (message: unknown) => {
  const { request, error } = message as { request?: RequestLike; error?: { code?: unknown } };
  if (request !== undefined) record(request, undefined, typeof error?.code === "string" ? error.code : "ERROR");
};

/** Starts watching (once per process): only on a workload identity host, where the exchange is ours to explain. */
export function watchEntraExchanges(): void {
  if (state.subscribed) return;
  state.subscribed = true;
  dc.subscribe("http.client.request.start", onStart);
  dc.subscribe("http.client.response.finish", onFinish);
  dc.subscribe("http.client.request.error", onError);
}

/** The exchanges that started at or after `since` (epoch ms), oldest first. */
export function entraExchangesSince(since: number): EntraExchange[] {
  return state.exchanges.filter((e) => e.startedAt >= since);
}
