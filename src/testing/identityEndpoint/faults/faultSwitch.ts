// The fault in effect: `setFault()` arms one (its table entry is evaluated once), each token request takes it,
// and a `times`-limited fault switches itself off when used up.
import type { EmulatedApp } from "../emulatedApp.js";
import type { FaultEffects } from "./faultTable.js";
import { faultEffects } from "./faultTable.js";
import type { IdentityEndpointFault } from "./faultTypes.js";

/** A fault as one request sees it. */
export interface TakenFault {
  /** The fault as set (its `kind` goes to the request log). */
  fault: IdentityEndpointFault;
  /** What it does. */
  effects: FaultEffects;
}

/** Holds the emulator's fault. */
export interface FaultSwitch {
  /** The fault in effect (`emulator.fault`). */
  readonly current: IdentityEndpointFault | undefined;
  /** `emulator.setFault()`: sets, or with `undefined` clears, the fault. */
  set(fault: IdentityEndpointFault | undefined): void;
  /** The fault for one token request, counting down its `times`. */
  take(): TakenFault | undefined;
}

interface ArmedFault extends TakenFault {
  /** Requests left; undefined: until changed. */
  remaining: number | undefined;
}

/** A switch with no fault set. */
export function createFaultSwitch(app: EmulatedApp): FaultSwitch {
  let armed: ArmedFault | undefined;
  return {
    get current() {
      return armed?.fault;
    },
    set(fault) {
      if (fault === undefined) {
        armed = undefined;
        return;
      }
      const times = fault.times;
      if (times !== undefined && (!Number.isInteger(times) || times < 0)) throw new RangeError("fault.times must be a non-negative integer");
      armed = times === 0 ? undefined : { fault, effects: faultEffects(fault, app), remaining: times };
    },
    take() {
      const taken = armed;
      if (!taken) return undefined;
      if (taken.remaining !== undefined) {
        taken.remaining -= 1;
        if (taken.remaining <= 0) armed = undefined;
      }
      return taken;
    },
  };
}
