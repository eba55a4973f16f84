/**
 * Process-wide state, shared by every copy of this library in the process. An app can load the ESM and the CJS
 * build side by side (a dual package), or two bundles each with its own copy: a policy of one copy must still see
 * the tokens a credential of the other issued, and the process must count its faults and write its folded log lines
 * once. As OpenTelemetry's API does, the state hangs off `globalThis` under a registered symbol that carries the
 * state's major version: copies whose state shapes are incompatible use different keys and stay apart.
 *
 * Each field is created by whichever copy needs it first (`??=`), so a newer copy that adds a field works beside an
 * older one. Module-level `let`/`new Map` for process-wide facts is a bug: put them here.
 */
export const PROCESS_STATE_KEY: unique symbol = Symbol.for("diagnostic-credential.process-state.v1") as never;

export interface ProcessState {
  /** Internal failures of the diagnostics swallowed in this process. */
  faults: { count: number };
  /** Free-form slots, each owned by one module (its own type), created on first use. */
  slots: Map<string, unknown>;
}

type GlobalWithState = typeof globalThis & { [PROCESS_STATE_KEY]?: ProcessState };

function create(): ProcessState {
  return { faults: { count: 0 }, slots: new Map() };
}

/** The one state object of this process (made on first use). Never throws. */
export function processState(): ProcessState {
  const holder = globalThis as GlobalWithState;
  let state = holder[PROCESS_STATE_KEY];
  if (state === undefined) {
    state = create();
    try {
      Object.defineProperty(holder, PROCESS_STATE_KEY, { value: state, enumerable: false, configurable: true, writable: false });
    } catch {
      // A frozen globalThis: this copy keeps its own state.
    }
  }
  return state;
}

/**
 * The process-wide value of one module's slot, made by `init` the first time any copy asks. `name` is the slot's
 * contract across copies: change it when the value's shape changes.
 */
export function sharedSlot<T>(name: string, init: () => T): T {
  const slots = processState().slots;
  let value = slots.get(name) as T | undefined;
  if (value === undefined) {
    value = init();
    slots.set(name, value);
  }
  return value;
}
