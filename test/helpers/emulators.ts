/** Shared by the emulator and integration suites' per-file set-up (their `useEmulators`). */

export interface Closable {
  close(): Promise<unknown>;
}

/** Named emulators being started: the promise of each. */
export type Starting<S> = { [K in keyof S]: Promise<S[K]> };

/**
 * Awaits emulators started side by side, by name. When one fails to start, the others are closed and its error is
 * thrown: nothing is left listening.
 */
export async function startTogether<S extends Record<string, Closable>>(starting: Starting<S>): Promise<S> {
  const names = Object.keys(starting) as Array<keyof S & string>;
  const settled = await Promise.allSettled(names.map((name) => starting[name]));
  const failed = settled.find((result) => result.status === "rejected");
  if (failed !== undefined) {
    await Promise.allSettled(settled.map((result) => (result.status === "fulfilled" ? result.value.close() : undefined)));
    throw failed.reason;
  }
  return Object.fromEntries(names.map((name, i) => [name, (settled[i] as PromiseFulfilledResult<S[keyof S]>).value])) as unknown as S;
}
