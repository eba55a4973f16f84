// The app an identity endpoint belongs to: its Container Apps names (for `env`), its resource id and the managed
// identities attached to it. Everything not given in the options is generated once, at start.
import { randomBytes, randomUUID } from "node:crypto";
import type { EmulatedIdentity, IdentityEndpointOptions } from "./types.js";

const DEFAULT_SUBSCRIPTION_ID = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
const DEFAULT_RESOURCE_GROUP = "rg-diag";
const DEFAULT_APP_NAME = "diag-app";
const DEFAULT_ENV_DNS_SUFFIX = "happy-field-1a2b3c4d.westeurope.azurecontainerapps.io";

/** The emulated app, resolved from {@link IdentityEndpointOptions}. */
export interface EmulatedApp {
  /** `CONTAINER_APP_NAME`; also the system-assigned identity's name. */
  readonly name: string;
  /** `CONTAINER_APP_REVISION`. */
  readonly revision: string;
  /** `CONTAINER_APP_REPLICA_NAME`. */
  readonly replicaName: string;
  /** `CONTAINER_APP_ENV_DNS_SUFFIX`. */
  readonly envDnsSuffix: string;
  /** `CONTAINER_APP_HOSTNAME`. */
  readonly hostname: string;
  /** `…/Microsoft.App/containerApps/<name>`: the system-assigned identity's resource id, `xms_az_rid` of the others. */
  readonly hostResourceId: string;
  /** The identities attached to the app (frozen: what `emulator.identities` shows). */
  readonly identities: {
    /** Undefined when the app has none. */
    systemAssigned?: EmulatedIdentity;
    /** In the order given. */
    userAssigned: EmulatedIdentity[];
  };
  /** Every attached identity, the system-assigned one first. */
  attached(): EmulatedIdentity[];
  /** A user-assigned identity with random ids that is NOT attached to the app (whose claims a fault may borrow). */
  unattachedUserAssigned(name: string): EmulatedIdentity;
}

/** `length` random characters of `alphabet` (lower-case letters and digits, like generated Azure names). */
export const randomChars = (length: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"): string => {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
};

/** Resolves the app's names and identities from the options. */
export function createEmulatedApp(options: IdentityEndpointOptions): EmulatedApp {
  const subscriptionId = options.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
  const resourceGroup = options.resourceGroup ?? DEFAULT_RESOURCE_GROUP;
  const name = options.containerApp?.name ?? DEFAULT_APP_NAME;
  const revision = options.containerApp?.revision ?? `${name}--${randomChars(7)}`;
  const replicaName = options.containerApp?.replicaName ?? `${revision}-${randomChars(10)}-${randomChars(5)}`;
  const envDnsSuffix = options.containerApp?.envDnsSuffix ?? DEFAULT_ENV_DNS_SUFFIX;
  const hostname = options.containerApp?.hostname ?? `${revision}.${envDnsSuffix}`;
  const resourcePrefix = `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers`;
  const hostResourceId = `${resourcePrefix}/Microsoft.App/containerApps/${name}`;

  const makeIdentity = (kind: EmulatedIdentity["kind"], given: Partial<EmulatedIdentity>): EmulatedIdentity => {
    const identityName = given.name ?? name;
    return Object.freeze({
      kind,
      name: identityName,
      clientId: given.clientId ?? randomUUID(),
      objectId: given.objectId ?? randomUUID(),
      resourceId:
        given.resourceId ??
        (kind === "system-assigned" ? hostResourceId : `${resourcePrefix}/Microsoft.ManagedIdentity/userAssignedIdentities/${identityName}`),
    });
  };

  const sys = options.systemAssigned ?? true;
  const systemAssigned = sys === false ? undefined : makeIdentity("system-assigned", sys === true ? {} : { ...sys, name: sys.name ?? name });
  const userAssigned = (options.userAssigned ?? []).map((u) => makeIdentity("user-assigned", u));
  return {
    name,
    revision,
    replicaName,
    envDnsSuffix,
    hostname,
    hostResourceId,
    identities: Object.freeze({ systemAssigned, userAssigned: Object.freeze([...userAssigned]) as EmulatedIdentity[] }),
    attached: () => (systemAssigned ? [systemAssigned, ...userAssigned] : [...userAssigned]),
    unattachedUserAssigned: (identityName) => makeIdentity("user-assigned", { name: identityName }),
  };
}
