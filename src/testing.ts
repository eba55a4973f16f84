// diagnostic-credential/testing: local stand-ins for the identity endpoint and Azure services, for tests.
// Never imported by the main entry.
export {};
