/** Library name and version, for the OpenTelemetry tracer and meter. Kept in step with package.json by a test. */
export const LIBRARY_NAME = "diagnostic-credential";
export const LIBRARY_VERSION = "0.1.0";
