/** Server-rendered pages of the PWA. */
import { Hono } from "hono";
import type { AppDeps } from "../main.ts";

export function pageRoutes(_deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html("<!doctype html><title>Onboarding</title><h1>Onboarding</h1>"));
  return app;
}
