import type { Diagnosis, DiagnosisCheck, DiagnosisIdentity } from "../diagnosis/types.js";
import type { ContainerAppContext, HostEnvironment, IdentitySource, PlatformInstance } from "../environment/hostEnvironment.js";

/**
 * Where the report's diagnoses were made: the fields of the host environment the report shows and fills commands
 * with. A `HostEnvironment` or the smoke test's `environment` fits as is; every field is optional.
 */
export interface IncidentReportEnvironment {
  /** The managed-identity source MSAL picks. */
  source?: IdentitySource;
  /** Why that source. */
  sourceReason?: string;
  /** The hosting platform as the environment tells it. */
  hostKind?: HostEnvironment["hostKind"];
  /** The hosting platform's `cloud.platform` value (`azure.container_apps`, …, `unknown`). */
  platform?: HostEnvironment["platform"];
  /** The platform table's entry whose commands the report gives (`container-apps-job`, `vmss`). */
  platformKey?: HostEnvironment["platformKey"];
  /** When the platform is unknown: the ones it may be (their commands are given, each named). */
  platformCandidates?: HostEnvironment["platformCandidates"];
  /** Why the platform is unknown. */
  platformReason?: string;
  /** The instance names: site and instance, pod and namespace, app/revision/replica, job execution. */
  instance?: PlatformInstance;
  /** IDENTITY_ENDPOINT without its query. */
  identityEndpoint?: string;
  /** The Container Apps variables of the replica. */
  containerApp?: ContainerAppContext;
  /** App Service / Functions site name. */
  appServiceName?: string;
  /** The identity the code asks for (empty: system-assigned). */
  configuredIdentity?: {
    /** Client id of the user-assigned identity asked for. */
    clientId?: string;
    /** ARM resource id of the user-assigned identity asked for. */
    resourceId?: string;
    /** Object (principal) id of the user-assigned identity asked for. */
    objectId?: string;
  };
}

/** One step of a run that made the diagnoses (the doctor's probe, each token, each dependency call). */
export interface IncidentReportStep {
  /** What the step does: "identity endpoint probe", "token", "dependency". */
  name: string;
  /** The endpoint, scope or URL. */
  target?: string;
  /** `pass` it went as it should, `fail` it did not, `unknown` it could not be judged, `skipped` it did not run. */
  outcome: "pass" | "fail" | "unknown" | "skipped";
  /** One line: what came of it. */
  detail?: string;
  /** How long it took, ms. */
  durationMs?: number;
  /**
   * What a step that went well established (a token issued: its audience and lifetime; a dependency answering 2xx:
   * a role that allows the call). Read like a diagnosis's checks: the flow, the evidence and the hypotheses use them.
   */
  checks?: DiagnosisCheck[];
  /** The identity the step saw (the claims of the token it got): fills the principal and the commands. */
  identity?: DiagnosisIdentity;
}

/** Options of {@link renderIncidentReport}. */
export interface IncidentReportOptions {
  /** The report's first heading. Default: from the diagnoses ("Managed identity incident: H2 RBAC role missing or wrong scope"). */
  title?: string;
  /** One line under the title (who made the report, when). */
  subtitle?: string;
  /**
   * Where the diagnoses were made. Default: this process's environment (the identity variables, the Container Apps or
   * App Service variables; secrets are never read into the report). `false`: none.
   */
  environment?: IncidentReportEnvironment | false;
  /** The steps of the run that made the diagnoses (the doctor's); their checks count as evidence too. */
  steps?: IncidentReportStep[];
  /** Leave out next steps that run `diagnostic-credential doctor` (the doctor's own report). Default false. */
  omitDoctorSteps?: boolean;
}

/** What an evidence row's facts are read from. */
export interface ReportFacts {
  environment: IncidentReportEnvironment | undefined;
  diagnoses: readonly ReportedDiagnosis[];
  /** Every identity seen: the diagnoses', then the steps'. */
  identities: readonly DiagnosisIdentity[];
}

/** A diagnosis as the report reads it. */
export type ReportedDiagnosis = Diagnosis;
