/** Domain conditions a caller can act on; each maps to one HTTP status in the error mapper. */

/** Invalid input: a 400 (or 422) with one message per field. */
export class ValidationFailed extends Error {
  override name = "ValidationFailed";
  constructor(readonly fields: Record<string, string>, message = "The request has invalid fields") {
    super(message);
  }
}

export class NotFound extends Error {
  override name = "NotFound";
}

/** A Netbox reference (site, rack, …) named in the request does not exist: 422. */
export class UnknownReference extends Error {
  override name = "UnknownReference";
  constructor(readonly field: string, readonly value: string | number) {
    super(`No ${field.replace(/_/g, " ")} "${value}" in Netbox`);
  }
}

/** The rack units are taken by another device: 409. */
export class RackSlotTaken extends Error {
  override name = "RackSlotTaken";
  constructor(readonly rack: string, readonly position: number, readonly otherDevice: string) {
    super(`Rack ${rack} U${position} is already occupied by ${otherDevice}`);
  }
}

/** The MAC belongs to another device (Netbox or Kea) or another registration: 409. */
export class MacAlreadyRegistered extends Error {
  override name = "MacAlreadyRegistered";
  constructor(readonly mac: string, readonly otherDevice: string) {
    super(`BMC MAC ${mac} is already registered to ${otherDevice}`);
  }
}

/** The Metal3 driver needs a boot MAC and none is known: the step ends `blocked`. */
export class BootMacRequired extends Error {
  override name = "BootMacRequired";
  constructor(readonly driver: string) {
    super(
      `The ${driver} driver needs the boot NIC MAC (Metal3 refuses the host without it): scan or enter the boot MAC and retry`,
    );
  }
}

/** A generic 409 (e.g. decommissioning a provisioned host without force). */
export class Conflict extends Error {
  override name = "Conflict";
}

/** The request is larger than the service accepts (e.g. an import over 5,000 servers): 413. */
export class PayloadTooLarge extends Error {
  override name = "PayloadTooLarge";
}

/** The service is stopping (SIGTERM): no new work is taken; send it again shortly (503). */
export class ShuttingDown extends Error {
  override name = "ShuttingDown";
  constructor() {
    super("The service is shutting down: send the request again in a moment");
  }
}
