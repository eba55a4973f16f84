/**
 * What the host adds to every diagnosis made there: the platform and its instance names, and, on Azure Functions,
 * the identity-based connection settings with any that contradict the identity the credential uses (H4 mix-up).
 */
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { functionsSelectionConflicts, functionsSettingsEvidence, type SelectedIdentity } from "../environment/functionsSettings.js";
import { CHECK_KINDS } from "./findings.js";
import type { Diagnosis, DiagnosisPlatform } from "./types.js";
import { withCommand } from "./commands.js";
import { validShellValue } from "../util/shellSafe.js";
import { PLATFORM_KEYS, platformEntry } from "../hosting/platforms.js";

/** The platform of a host environment, as a Diagnosis carries it. */
export function diagnosisPlatformOf(env: HostEnvironment): DiagnosisPlatform {
  const key = PLATFORM_KEYS.find((k) => k === env.platformKey);
  const platform: DiagnosisPlatform = {
    name: key !== undefined ? platformEntry(key).platform : "unknown",
    instance: { ...(env.instance ?? {}) },
  };
  if (key !== undefined) platform.key = key;
  else {
    const candidates = PLATFORM_KEYS.filter((k) => Array.isArray(env.platformCandidates) && env.platformCandidates.includes(k));
    if (candidates.length > 0) platform.candidates = candidates;
  }
  return platform;
}

/**
 * Adds the host's facts to `diagnosis`, in place, once (a diagnosis that has `platform` already has them): the
 * platform; on Functions, one evidence line per identity-based connection and, for each that selects another
 * identity than `selected`, an identity check (fail), an H4 evidence line and the step that reconciles them.
 */
export function addHostFacts(diagnosis: Diagnosis, env: HostEnvironment | undefined, selected: SelectedIdentity): Diagnosis {
  if (env === undefined || diagnosis.platform !== undefined || Object.isFrozen(diagnosis)) return diagnosis;
  diagnosis.platform = diagnosisPlatformOf(env);
  const settings = env.functionsIdentitySettings ?? [];
  if (settings.length === 0) return diagnosis;
  diagnosis.evidence = [...diagnosis.evidence, ...functionsSettingsEvidence(settings)];
  const conflicts = functionsSelectionConflicts(settings, selected);
  if (conflicts.length === 0) return diagnosis;
  const checks = [...(diagnosis.checks ?? [])];
  const steps = [...diagnosis.nextSteps];
  for (const conflict of conflicts) {
    diagnosis.evidence.push(
      `H4 identity mix-up: Functions connection ${conflict.connection} selects ${conflict.setting} (${conflict.settingName}) but this credential uses ${conflict.credential}`,
    );
    checks.push({
      kind: CHECK_KINDS.identity,
      expected: `${conflict.setting} (${conflict.settingName})`,
      actual: conflict.credential,
      verdict: "fail",
      confirmedBy: "environment",
    });
    const clientId = validShellValue(conflict.setting.replace(/^clientId /, ""), "guid");
    steps.push(
      withCommand(
        `Use one identity: the Functions host uses ${conflict.setting} for ${conflict.connection}, the code's credential ${conflict.credential}; select the same one in code or change ${conflict.settingName}`,
        clientId !== undefined
          ? `new DiagnosticCredential("${clientId}")`
          : conflict.setting === "system-assigned"
            ? "new DiagnosticCredential()"
            : "new DiagnosticCredential({ resourceId })",
      ),
    );
  }
  diagnosis.checks = checks;
  diagnosis.nextSteps = steps;
  return diagnosis;
}
