// The local identity-endpoint emulator of `diagnostic-credential/testing`. Its parts live in identityEndpoint/:
// shapes/ (one module per wire protocol), faults/ (the fault types and the table of what each one does), the
// request pipeline (requestHandler, tokenAnswer, identitySelection, tokenMinter) and the HTTP lifecycle (server).
export { startIdentityEndpoint } from "./identityEndpoint/startIdentityEndpoint.js";
export type {
  IdentityEndpointShape,
  EmulatedIdentity,
  EmulatedContainerApp,
  IdentityEndpointOptions,
  IdentityEndpointEmulator,
  RecordedIdentityRequest,
  MintTokenOptions,
  IdentitySelector,
} from "./identityEndpoint/types.js";
export type {
  IdentityEndpointFault,
  IdentityEndpointFaultBase,
  IdentityEndpointFaultKind,
  NoIdentityFault,
  UnknownClientIdFault,
  LegacyNoMsiFault,
  SeveralIdentitiesFault,
  StatusFault,
  HangFault,
  ResetFault,
  DelayFault,
  WrongAudienceFault,
  WrongIdentityFault,
  WrongTenantFault,
  ExpiredFault,
  NotYetValidFault,
  ExpiresInOnlyFault,
  OpaqueTokenFault,
  CloseFault,
  EntraErrorFault,
  UnknownAudienceFault,
} from "./identityEndpoint/faults/faultTypes.js";
