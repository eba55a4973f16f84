import type { PipelinePolicy, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import type { DiagnosticCredential } from "../credential/diagnosticCredential.js";
import { bearerOf, headersToRecord } from "../credential/diagnose.js";
import { attachDiagnosis } from "../diagnosis/attach.js";
import { safely } from "../util/safe.js";

export const DIAGNOSTIC_POLICY_NAME = "diagnosticCredentialPolicy";

/**
 * A per-retry pipeline policy: sees every attempt's 401/403 with its body (after signing, so with the token that
 * was sent), classifies it, logs it, records it on the active span and makes it reachable through
 * `getDiagnosis(error)`. It never changes the request, the response, or what the client throws.
 *
 * `@azure/storage-blob` 12.34 throws "Duplicate policy names not allowed in pipeline" for any named policy in
 * `additionalPolicies`: for Storage clients use `diagnosticHttpClient(credential)` as the `httpClient` option.
 */
export function diagnosticPolicy(credential: DiagnosticCredential): { policy: PipelinePolicy; position: "perRetry" } {
  return {
    position: "perRetry",
    policy: {
      name: DIAGNOSTIC_POLICY_NAME,
      async sendRequest(request, next) {
        const response = await next(request);
        if (response.status === 401 || response.status === 403) observe(credential, request, response);
        return response;
      },
    },
  };
}

/**
 * Wraps an HttpClient (default: core-rest-pipeline's) so that every 401/403 it receives is diagnosed. The path for
 * clients that cannot take a named policy (Storage); same guarantees as `diagnosticPolicy`.
 */
export function diagnosticHttpClient(
  credential: DiagnosticCredential,
  inner?: { sendRequest(request: PipelineRequest): Promise<PipelineResponse> },
): { sendRequest(request: PipelineRequest): Promise<PipelineResponse> } {
  let client = inner;
  return {
    async sendRequest(request) {
      if (client === undefined) {
        const { createDefaultHttpClient } = await import("@azure/core-rest-pipeline");
        client = createDefaultHttpClient();
      }
      const response = await client.sendRequest(request);
      if (response.status === 401 || response.status === 403) observe(credential, request, response);
      return response;
    },
  };
}

/** Diagnoses one 401/403 answer; every fault is swallowed. */
function observe(credential: DiagnosticCredential, request: PipelineRequest, response: PipelineResponse): void {
  safely(() => {
    const token = bearerOf(request.headers.get("authorization"));
    const diagnosis = credential.diagnoseResponse(
      {
        url: request.url,
        status: response.status,
        headers: headersToRecord(response.headers) ?? {},
        ...(typeof response.bodyAsText === "string" ? { body: response.bodyAsText } : {}),
        method: request.method,
      },
      token,
      "response",
    );
    if (diagnosis === undefined) return;
    attachDiagnosis(response, diagnosis);
    attachDiagnosis(request, diagnosis);
  }, undefined);
}
