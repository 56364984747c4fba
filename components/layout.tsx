/** Server-only app shell: document head, navigation (Scan, Servers, Import, Drift), banners, scripts. */
import type { ComponentChildren } from "preact";

export type NavKey = "scan" | "servers" | "import" | "drift";

/** Everything the shell needs besides the page body. */
export interface LayoutProps {
  title: string;
  active?: NavKey;
  /** Stylesheet URL (hashed when built; the unbuilt fallback otherwise). */
  css: string;
  /** The entry modules of the page's islands (none when it has no islands). */
  scripts?: string[];
  /** Chunks to preload for the islands on the page. */
  preload?: string[];
  /** Banners such as "Demo mode" or "Authentication is disabled". */
  banners?: { kind: "demo" | "warn"; text: string }[];
  children: ComponentChildren;
}

const NAV: { key: NavKey; href: string; label: string; icon: string }[] = [
  { key: "scan", href: "/", label: "Scan", icon: "▦" },
  { key: "servers", href: "/servers", label: "Servers", icon: "☰" },
  { key: "import", href: "/import", label: "Import", icon: "⇪" },
  { key: "drift", href: "/drift", label: "Drift", icon: "⇄" },
];

/** The HTML document around a page. */
export function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
        <meta name="theme-color" content="#0f1419" />
        <meta name="color-scheme" content="dark" />
        <title>{props.title} · Onboarding</title>
        <link rel="manifest" href="/manifest.webmanifest" />
        {/* A raster icon: an SVG one is drawn as a document on the page's main thread as it loads. */}
        <link rel="icon" href="/static/icon-192.png" type="image/png" sizes="192x192" />
        <link rel="apple-touch-icon" href="/static/icon-192.png" />
        <link rel="stylesheet" href={props.css} />
        {props.preload?.map((href) => <link key={href} rel="modulepreload" href={href} />)}
      </head>
      <body>
        <header class="topbar">
          <a class="brand" href="/">Onboarding</a>
        </header>
        <div class="banners" data-testid="banners">
          {props.banners?.map((b) => (
            <p key={b.text} class={`banner banner-${b.kind}`} role="note">{b.text}</p>
          ))}
        </div>
        <main id="main">{props.children}</main>
        <nav class="tabbar" aria-label="Main">
          {NAV.map((n) => (
            <a
              key={n.key}
              href={n.href}
              class={n.key === props.active ? "tab active" : "tab"}
              aria-current={n.key === props.active ? "page" : undefined}
            >
              <span aria-hidden="true" class="tab-icon">{n.icon}</span>
              <span>{n.label}</span>
            </a>
          ))}
        </nav>
        {props.scripts?.map((src) => <script key={src} type="module" src={src} />)}
      </body>
    </html>
  );
}
