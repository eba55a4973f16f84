// Types of incident-samples.mjs, for the test that runs it (test/cli/incident-report.test.ts).
export interface Sample {
  name: string;
  title: string;
  grant?: boolean;
  refuse?: boolean;
  identity?: Record<string, unknown>;
  args: (url: string) => string[];
}
export interface SampleRun {
  stdout: string;
  stderr: string;
  exitCode: number;
  normalized: string;
  secrets: string[];
}
export const SAMPLES_DIR: string;
export const SAMPLES: Sample[];
export function runSample(sample: Sample, extraArgs?: string[]): Promise<SampleRun>;
export function normalize(text: string): string;
export function sampleFile(sample: Sample, normalized: string): string;
