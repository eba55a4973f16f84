import { createDefaultHttpClient, type HttpClient, type PipelinePolicy, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import type { DiagnosticCredential } from "../credential/diagnosticCredential.js";
import { tokenOfAuthorization } from "../catalog/resolve.js";
import { headersToRecord } from "../util/headers.js";
import { attachDiagnosis, attachDiagnosisToRequestIds, detachDiagnosis, forgetRequestIds, hasAttachedDiagnosis, requestIdsOf } from "../diagnosis/attach.js";
import { credentialInternalsOf, type CredentialInternals } from "../credential/internals.js";
import { policyChallengeWaits } from "../registry/challengeWaits.js";
import { responseLogLevel } from "../registry/handledAnswers.js";
import { safely } from "../util/safe.js";
import {
  isLegacyRequest,
  legacyResponse,
  pipelineRequestFromLegacy,
  type DiagnosticHttpClient,
  type LegacyResponseLike,
  type LegacyWebResourceLike,
} from "./legacyHttp.js";

export const DIAGNOSTIC_POLICY_NAME = "diagnosticCredentialPolicy";

/**
 * A per-retry pipeline policy: sees every attempt's 401/403 with its body (after signing, so with the token that
 * was sent), classifies it, logs it, records it on the active span and makes it reachable through
 * `getDiagnosis(error)`. It never changes the request, the response, or what the client throws.
 *
 * `@azure/storage-blob` 12.34 throws "Duplicate policy names not allowed in pipeline" for any named policy in
 * `additionalPolicies`, and `@azure/cosmos` takes no policies: for those use `diagnosticHttpClient(credential)` as
 * the `httpClient` option.
 */
export function diagnosticPolicy(credential: DiagnosticCredential): {
  /** The policy, named "diagnosticCredentialPolicy". */
  policy: PipelinePolicy;
  /** Per retry: it sees each attempt after signing, with the token that was sent. */
  position: "perRetry";
} {
  const internals = credentialInternalsOf(credential);
  return {
    position: "perRetry",
    policy: {
      name: DIAGNOSTIC_POLICY_NAME,
      sendRequest(request, next) {
        return watch(internals, request, request, () => next(request));
      },
    },
  };
}

/**
 * Wraps a core-rest-pipeline HttpClient (default: `createDefaultHttpClient()`) so that every 401/403 it receives is
 * diagnosed: the path for clients that cannot take a named policy (`@azure/storage-blob`, `@azure/cosmos`). It also
 * accepts the core-http v1 request that `@azure/storage-blob` hands to its `httpClient` option, and answers it in
 * the same shape. Same guarantees as `diagnosticPolicy`.
 */
export function diagnosticHttpClient(credential: DiagnosticCredential, inner?: HttpClient): DiagnosticHttpClient {
  const internals = credentialInternalsOf(credential);
  let client = inner;
  const send = (request: PipelineRequest) => (client ??= createDefaultHttpClient()).sendRequest(request);
  const sendRequest = async (request: PipelineRequest | LegacyWebResourceLike): Promise<PipelineResponse | LegacyResponseLike> => {
    if (!isLegacyRequest(request)) return watch(internals, request, request, () => send(request));
    const converted = pipelineRequestFromLegacy(request);
    const response = await watch(internals, converted, request, () => send(converted));
    return legacyResponse(response, request);
  };
  return { sendRequest: sendRequest as DiagnosticHttpClient["sendRequest"] };
}

/** Challenged 401s whose report waits for the pipeline's retry (the credential flushes its own in `flushLogs`). */
const challenges = policyChallengeWaits();

/**
 * Sends one attempt and diagnoses its answer. `request` is the PipelineRequest that is sent; `original` the object
 * the SDK passed in (the same one, or the core-http v1 request it was converted from).
 */
async function watch(
  credential: CredentialInternals | undefined,
  request: PipelineRequest,
  original: object,
  send: () => Promise<PipelineResponse>,
): Promise<PipelineResponse> {
  // Not a DiagnosticCredential (a caller outside TypeScript's checks): the request passes through, undiagnosed.
  if (credential === undefined) return send();
  const key = safely(() => request.headers.get("x-ms-client-request-id") ?? original, original);
  // A retry after a challenged 401: the outcome of this attempt decides (success → that 401 was answered).
  const earlier = safely(() => challenges.take(key), undefined);
  let response: PipelineResponse;
  try {
    response = await send();
  } catch (error) {
    if (earlier?.report !== undefined) safely(earlier.report, undefined);
    throw error;
  }
  safely(() => {
    // Recovery tracking (H2 → 2xx): one field read in the credential unless a dependency has an open failure.
    if (response.status >= 200 && response.status < 300) credential.noteSuccess(request.url, request.headers, response.status);
    if (response.status === 401 || response.status === 403) {
      observe(credential, request, original, response, key, earlier === undefined);
    } else if (hasAttachedDiagnosis(original) || hasAttachedDiagnosis(request)) {
      // An earlier attempt of this request was diagnosed; this one was answered otherwise.
      detachDiagnosis(original);
      detachDiagnosis(request);
      forgetRequestIds(requestIdsOf(request));
    }
  }, undefined);
  return response;
}

/** Diagnoses one 401/403 answer; every fault is swallowed by the caller. */
function observe(
  credential: CredentialInternals,
  request: PipelineRequest,
  original: object,
  response: PipelineResponse,
  key: unknown,
  firstAttempt: boolean,
): void {
  const token = tokenOfAuthorization(request.headers.get("authorization"));
  const headers = headersToRecord(response.headers);
  const status = response.status;
  const challengeAnswerable = status === 401 && firstAttempt && headers["www-authenticate"] !== undefined;
  const diagnosis = credential.diagnoseResponse(
    {
      url: request.url,
      status,
      headers,
      ...(typeof response.bodyAsText === "string" ? { body: response.bodyAsText } : {}),
      method: request.method,
    },
    token,
    "response",
    false,
  );
  if (diagnosis === undefined) {
    detachDiagnosis(original);
    detachDiagnosis(request);
    if (challengeAnswerable) challenges.wait(key);
    return;
  }
  attachDiagnosis(response, diagnosis);
  attachDiagnosis(request, diagnosis);
  if (original !== request) attachDiagnosis(original, diagnosis);
  attachDiagnosisToRequestIds([...requestIdsOf(request), ...requestIdsOf({ headers })], diagnosis);
  const report = () => credential.report(diagnosis, { level: responseLogLevel(status, diagnosis), source: "response", url: request.url });
  // A first 401 with a challenge may be answered by the pipeline's challenge handler: report it once that is known.
  if (challengeAnswerable) challenges.wait(key, report, credential);
  else report();
}
