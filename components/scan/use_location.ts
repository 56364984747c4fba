/**
 * The rack slot being chosen: the remembered location, the reference lists it picks from, the
 * rack's elevation and what follows from them (device name, conflicts, the suggested unit).
 */
import { useEffect, useState } from "preact/hooks";
import { deviceName } from "../../lib/domain/names.ts";
import { api } from "../../client/api.ts";
import { type Elevation, slotConflicts, suggestPosition } from "../rack_elevation.tsx";
import {
  EMPTY,
  lastLocation,
  lastUnit,
  type Loc,
  type Step,
  useIdleEffect,
  useList,
} from "./model.ts";

export type LocationPick = ReturnType<typeof useLocationPick>;

export function useLocationPick(step: Step, template?: string) {
  const [loc, setLoc] = useState<Loc>(EMPTY);
  const [elevation, setElevation] = useState<Elevation | null>(null);
  useIdleEffect(() => setLoc(lastLocation()), []);

  const setField = (k: keyof Loc, v: string) =>
    setLoc((l) => {
      const next = { ...l, [k]: v };
      if (k === "site") Object.assign(next, { location: "", rack: "", position: "" });
      if (k === "location") Object.assign(next, { rack: "", position: "" });
      if (k === "rack") next.position = "";
      return next;
    });

  // The references load from the first screen: the remembered location is shown there by name.
  const sites = useList("/api/v1/reference/sites");
  const locations = useList(loc.site ? `/api/v1/reference/locations?site=${loc.site}` : null);
  const racks = useList(loc.location ? `/api/v1/reference/racks?location=${loc.location}` : null);
  const types = useList("/api/v1/reference/device-types");
  const roles = useList("/api/v1/reference/device-roles");
  const prefixes = useList(step === "location" ? "/api/v1/reference/prefixes" : null);
  const tenants = useList(step === "location" ? "/api/v1/reference/tenants" : null);
  // One site, or one hall in it (the usual case on a datacenter floor): chosen already.
  useEffect(() => {
    if (sites.length === 1 && !loc.site) setField("site", String(sites[0].id));
  }, [sites]);
  useEffect(() => {
    if (locations.length === 1 && !loc.location) setField("location", String(locations[0].id));
  }, [locations]);

  // Read again when the flow comes back to the scan or the rack: the last server is in it now.
  const elevationStep = step === "mac" || step === "location";
  useEffect(() => {
    if (!loc.rack || !elevationStep) return;
    let live = true;
    api<Elevation>("GET", `/api/v1/reference/racks/${loc.rack}/elevation`)
      .then((a) => live && setElevation(a.ok ? a.body : null))
      .catch(() => live && setElevation(null));
    return () => {
      live = false;
    };
  }, [loc.rack, elevationStep]);

  const site = sites.find((s) => String(s.id) === loc.site);
  const location = locations.find((l) => String(l.id) === loc.location);
  const rack = racks.find((r) => String(r.id) === loc.rack);
  const type = types.find((t) => String(t.id) === loc.device_type);
  const height = type?.u_height ?? 1;
  const position = /^\d+$/.test(loc.position.trim()) ? Number(loc.position) : 0;
  const positionIssue = loc.position.trim() !== "" && position < 1;
  const rackElevation = elevation && String(elevation.rack.id) === loc.rack ? elevation : null;
  const conflicts = rackElevation && position ? slotConflicts(rackElevation, position, height) : [];
  const overTop = rack && position ? position + height - 1 > (rack.u_height ?? 0) : false;
  const preview = site && rack && position
    ? deviceName({ site: site.slug ?? site.name, rack: rack.name, position }, template)
    : "";
  const last = loc.rack ? lastUnit(loc.rack) : null;
  const suggested = rackElevation ? suggestPosition(rackElevation, height, last) : null;
  // No unit chosen yet for this rack: take the suggestion (shown, and changeable).
  useEffect(() => {
    if (!loc.position && suggested) {
      setLoc((l) => l.position ? l : { ...l, position: String(suggested) });
    }
  }, [suggested, loc.position]);

  const where = site && location && rack
    ? [site.name, location.name, rack.name, position ? `U${position}` : "U?"].join(" · ")
    : "";
  /** Clears the unit for the next server (the rest of the location stays). */
  const nextServer = () => setLoc((l) => ({ ...l, position: "" }));

  return {
    loc,
    setField,
    nextServer,
    lists: { sites, locations, racks, types, roles, prefixes, tenants },
    rack,
    height,
    position,
    positionIssue,
    rackElevation,
    conflicts,
    overTop,
    preview,
    last,
    suggested,
    where,
  };
}
