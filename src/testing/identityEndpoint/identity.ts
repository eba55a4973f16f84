/** A managed identity the emulator can issue tokens for. */
export interface EmulatedIdentity {
  /** `"system-assigned"` (tied to the app) or `"user-assigned"` (a standalone resource attached to the app). */
  kind: "system-assigned" | "user-assigned";
  /** System-assigned: the app's name. User-assigned: the identity resource's name. */
  name: string;
  /** Client (application) id: `appid` (v1) / `azp` (v2) in its tokens; what `client_id=` selects. */
  clientId: string;
  /** Object (principal) id: `oid`/`sub` in its tokens; what role assignments name; what `object_id=` selects. */
  objectId: string;
  /**
   * Resource id: `xms_mirid` in its tokens; what `mi_res_id=`/`msi_res_id=` selects. System-assigned: the host
   * resource (`…/providers/Microsoft.App/containerApps/<app>`); user-assigned:
   * `…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
   */
  resourceId: string;
}
