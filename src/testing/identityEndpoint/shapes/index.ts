// Every wire shape the emulator speaks, by its public name.
import type { IdentityEndpointShape } from "../types.js";
import { appServiceShape } from "./appService.js";
import type { EndpointShape } from "./endpointShape.js";
import { imdsShape } from "./imds.js";

const SHAPES: Readonly<Record<IdentityEndpointShape, EndpointShape>> = {
  "container-apps": appServiceShape,
  imds: imdsShape,
};

/** The shape of that name; a TypeError for anything else (the option may come from untyped JavaScript). */
export function shapeNamed(name: IdentityEndpointShape): EndpointShape {
  if (!Object.hasOwn(SHAPES, name)) throw new TypeError(`unknown identity endpoint shape: ${String(name)}`);
  return SHAPES[name];
}
