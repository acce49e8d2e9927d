// Top navigation: sections, network name and chain id, stream status, theme toggle.

import { useStreamLive } from "../hooks";
import { useInfo } from "../info";
import { href, type Route } from "../router";
import { toggleTheme } from "../theme";

const SECTIONS = [
  { key: "overview", label: "Overview", to: href.overview, pages: ["overview"] },
  { key: "jobs", label: "Jobs", to: href.jobs, pages: ["jobs", "job"] },
  { key: "workers", label: "Workers", to: href.workers, pages: ["workers", "worker"] },
  { key: "activity", label: "Activity", to: href.activity, pages: ["activity"] },
] as const;

export function Nav({ route }: { route: Route }) {
  const info = useInfo();
  const live = useStreamLive();
  return (
    <header class="topbar">
      <a class="brand" href={href.overview}>
        PolkaCompute
      </a>
      <nav class="sections" aria-label="Sections">
        {SECTIONS.map((s) => (
          <a
            key={s.key}
            href={s.to}
            data-testid={`nav-${s.key}`}
            aria-current={(s.pages as readonly string[]).includes(route.page) ? "page" : undefined}
          >
            {s.label}
          </a>
        ))}
      </nav>
      <div class="status">
        {info.network !== null && (
          <span class="network" title={`chain id ${info.chainId ?? "?"}`}>
            {info.network} <span class="muted">· {info.chainId ?? "?"}</span>
          </span>
        )}
        <span
          class={`dot ${live ? "dot-live" : "dot-down"}`}
          data-testid="stream-status"
          data-state={live ? "live" : "down"}
          title={live ? "Live: receiving chain events" : "Disconnected from the event stream"}
          role="status"
        >
          <span class="sr-only">{live ? "live" : "disconnected"}</span>
        </span>
        <button type="button" class="icon-button" data-testid="theme-toggle" onClick={toggleTheme} title="Toggle light/dark theme" aria-label="Toggle light/dark theme">
          ◐
        </button>
      </div>
    </header>
  );
}
