/** Server-rendered pages of the PWA (app shell + islands) and the static files they need. */
import { Hono } from "hono";
import type { Context } from "hono";
import type { VNode } from "preact";
import type { AppDeps, User } from "../app_types.ts";
import { Layout, type NavKey } from "../components/layout.tsx";
import {
  type AssetManifest,
  Island,
  loadIslands,
  readAssetManifest,
  renderWithIslands,
} from "../components/islands.tsx";
import { staticRoutes } from "./static.ts";

await loadIslands();

/** Options for tests: where the build output and static files are. */
export interface PageOptions {
  staticRoot?: string;
}

/** Pages, static files, the manifest and the service worker. */
export function pageRoutes(deps: AppDeps, options: PageOptions = {}): Hono {
  const staticRoot = options.staticRoot ?? "static";
  const assets = readAssetManifest(`${staticRoot}/build/manifest.json`);
  if (!assets) {
    deps.log.warn(
      "static/build/manifest.json is missing: pages render without islands; run `deno task build`",
    );
  }
  const banners: { kind: "demo" | "warn"; text: string }[] = [];
  if (deps.demo) {
    const what = typeof deps.demo === "string"
      ? deps.demo
      : "simulated Netbox, OpenBao, Kea and Metal3";
    banners.push({ kind: "demo", text: `Demo mode: ${what}` });
  }
  if (!deps.config.OIDC_ISSUER) {
    banners.push({ kind: "warn", text: "Authentication is disabled" });
  }

  const render = (
    c: Context,
    title: string,
    active: NavKey | undefined,
    body: VNode,
    status: 200 | 404 = 200,
  ) =>
    c.html(renderPage(assets, { title, active, banners, body }), status, {
      "cache-control": "no-cache",
    });

  // Only admins decommission when auth is on (the API enforces it; the page just hides the button).
  const canDecommission = (c: Context) =>
    !deps.authEnabled || Boolean((c.get("user" as never) as User | undefined)?.admin);

  const app = new Hono();
  app.route("/", staticRoutes({ root: staticRoot, assets }));
  const scanProps = {
    wasmUrl: assets?.wasm ?? "",
    template: deps.config.DEVICE_NAME_TEMPLATE,
    outboxKey: deps.outboxKey?.publicJwk ?? null,
    netboxUrl: deps.config.NETBOX_URL ?? "",
  };
  app.get("/", (c) => render(c, "Scan", "scan", <Island name="ScanFlow" props={scanProps} />));
  app.get("/servers", (c) => render(c, "Servers", "servers", <Island name="ServerList" />));
  app.get("/servers/:id", (c) =>
    render(
      c,
      "Server",
      "servers",
      <Island
        name="ServerDetail"
        props={{
          id: c.req.param("id"),
          canDecommission: canDecommission(c),
          wasmUrl: scanProps.wasmUrl,
          netboxUrl: scanProps.netboxUrl,
        }}
      />,
    ));
  app.get("/import", (c) => render(c, "Import", "import", <Island name="ImportPanel" />));
  app.get(
    "/drift",
    (c) =>
      render(
        c,
        "Drift",
        "drift",
        <Island name="Drift" props={{ demo: Boolean(deps.makeDrift) }} />,
      ),
  );
  // A mistyped page in the browser gets a page back; API clients keep the JSON 404.
  app.get("*", (c) => {
    if (c.req.path.startsWith("/api/") || !c.req.header("accept")?.includes("text/html")) {
      return c.notFound();
    }
    return render(
      c,
      "Not found",
      undefined,
      <section class="card">
        <h1>Not found</h1>
        <p>
          There is no page at <span class="value">{c.req.path}</span>. <a href="/">Scan a server</a>
          {" "}
          or <a href="/servers">see the servers</a>.
        </p>
      </section>,
      404,
    );
  });
  return app;
}

/** Renders a page in the shell; scripts are added only for the islands the page has. */
export function renderPage(
  assets: AssetManifest | null,
  page: {
    title: string;
    active?: NavKey;
    banners: { kind: "demo" | "warn"; text: string }[];
    body: VNode;
  },
): string {
  const inner = renderWithIslands(page.body);
  const bundles = assets ? inner.islands.map((n) => assets.islands[n] ?? []) : [];
  const scripts = [...new Set(bundles.map((b) => b[0]).filter(Boolean))];
  const preload = [...new Set(bundles.flatMap((b) => b.slice(1)))];
  const shell = renderWithIslands(
    <Layout
      title={page.title}
      active={page.active}
      css={assets?.css ?? "/static/app.css"}
      scripts={scripts}
      preload={preload}
      banners={page.banners}
    >
      <div
        class="page"
        // deno-lint-ignore react-no-danger -- our own rendered body, rendered first to learn its islands.
        dangerouslySetInnerHTML={{ __html: inner.html }}
      />
    </Layout>,
  );
  return "<!doctype html>" + shell.html;
}
