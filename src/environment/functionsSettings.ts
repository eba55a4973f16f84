/**
 * Azure Functions identity-based connections: app settings `<connection>__credential`, `<connection>__clientId` and
 * `<connection>__managedIdentityResourceId` select the identity the Functions host (and its bindings) use for a
 * connection. Only these three keys are read: their values are ids, never secrets (a connection string or
 * `__clientSecret` is never touched).
 */

/** The identity one connection's settings select. */
export interface FunctionsIdentitySetting {
  /** The connection name: the part before `__` ("AzureWebJobsStorage", "ServiceBusConnection"). */
  connection: string;
  /** `<connection>__credential`: "managedidentity" for an identity-based connection. */
  credential?: string;
  /** `<connection>__clientId`: the user-assigned identity's client id. */
  clientId?: string;
  /** `<connection>__managedIdentityResourceId`: the user-assigned identity's resource id. */
  managedIdentityResourceId?: string;
}

const SETTING = /^(.{1,128}?)__(credential|clientId|managedIdentityResourceId)$/i;
/** Most connections kept: an app has a handful; the environment is not ours to bound. */
const MAX_CONNECTIONS = 20;
const MAX_VALUE = 300;

const FIELD: Record<string, keyof Omit<FunctionsIdentitySetting, "connection">> = {
  credential: "credential",
  clientid: "clientId",
  managedidentityresourceid: "managedIdentityResourceId",
};

/** The identity-selecting settings, by connection (sorted by name), values bounded. */
export function readFunctionsIdentitySettings(env: Record<string, string | undefined>): FunctionsIdentitySetting[] {
  const byConnection = new Map<string, FunctionsIdentitySetting>();
  for (const key of Object.keys(env).sort()) {
    const match = SETTING.exec(key);
    const value = env[key];
    if (match === null || typeof value !== "string" || value.trim().length === 0) continue;
    const connection = match[1]!;
    let setting = byConnection.get(connection.toLowerCase());
    if (setting === undefined) {
      if (byConnection.size >= MAX_CONNECTIONS) continue;
      setting = { connection };
      byConnection.set(connection.toLowerCase(), setting);
    }
    setting[FIELD[match[2]!.toLowerCase()]!] = value.trim().slice(0, MAX_VALUE);
  }
  return [...byConnection.values()];
}

/** The identity a credential was told to use (absent fields: the system-assigned identity). */
export interface SelectedIdentity {
  clientId?: string;
  resourceId?: string;
  objectId?: string;
}

/** A connection whose settings select another identity than the credential's: an H4 identity mix-up. */
export interface FunctionsSelectionConflict {
  connection: string;
  /** What the settings select: `clientId <id>`, `resourceId <id>`, `system-assigned`. */
  setting: string;
  /** The setting that says so: `<connection>__clientId`. */
  settingName: string;
  /** What the credential uses: `clientId <id>`, `system-assigned`. */
  credential: string;
}

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * The connections whose identity contradicts the credential's: the setting names a client id or resource id the
 * credential does not use (or it uses the system-assigned identity), or the setting selects the system-assigned
 * identity (`__credential` alone) while the credential asks for a user-assigned one. A credential selected by object
 * id cannot be compared with a client id: no conflict is claimed.
 */
export function functionsSelectionConflicts(settings: readonly FunctionsIdentitySetting[], selected: SelectedIdentity): FunctionsSelectionConflict[] {
  const credential = selected.clientId
    ? `clientId ${selected.clientId}`
    : selected.resourceId
      ? `resourceId ${selected.resourceId}`
      : selected.objectId
        ? `objectId ${selected.objectId}`
        : "system-assigned";
  const userAssigned = Boolean(selected.clientId || selected.resourceId || selected.objectId);
  const conflicts: FunctionsSelectionConflict[] = [];
  for (const setting of settings) {
    const managed = setting.credential !== undefined && same(setting.credential, "managedidentity");
    if (setting.clientId !== undefined) {
      const contradicts = selected.clientId !== undefined ? !same(selected.clientId, setting.clientId) : !userAssigned;
      if (contradicts)
        conflicts.push({ connection: setting.connection, setting: `clientId ${setting.clientId}`, settingName: `${setting.connection}__clientId`, credential });
    } else if (setting.managedIdentityResourceId !== undefined) {
      const contradicts = selected.resourceId !== undefined ? !same(selected.resourceId, setting.managedIdentityResourceId) : !userAssigned;
      if (contradicts)
        conflicts.push({
          connection: setting.connection,
          setting: `resourceId ${setting.managedIdentityResourceId}`,
          settingName: `${setting.connection}__managedIdentityResourceId`,
          credential,
        });
    } else if (managed && userAssigned) {
      conflicts.push({ connection: setting.connection, setting: "system-assigned", settingName: `${setting.connection}__credential`, credential });
    }
  }
  return conflicts;
}

/** One evidence line per connection: its identity settings by name (ids only). */
export function functionsSettingsEvidence(settings: readonly FunctionsIdentitySetting[]): string[] {
  return settings.map((setting) => {
    const parts: string[] = [];
    if (setting.credential !== undefined) parts.push(`__credential=${setting.credential}`);
    if (setting.clientId !== undefined) parts.push(`__clientId=${setting.clientId}`);
    if (setting.managedIdentityResourceId !== undefined) parts.push(`__managedIdentityResourceId=${setting.managedIdentityResourceId}`);
    return `Functions connection ${setting.connection}: ${parts.join(", ")}`;
  });
}
