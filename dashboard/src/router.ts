// Hash routing (`#/jobs/12`): the server only has to serve index.html at `/`.

import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "overview" }
  | { page: "jobs" }
  | { page: "job"; id: number }
  | { page: "workers" }
  | { page: "worker"; address: string }
  | { page: "activity" }
  | { page: "not-found"; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/\/+$/, "") || "/";
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [section, param, ...rest] = parts;
  if (rest.length === 0) {
    if (section === undefined) return { page: "overview" };
    if (section === "jobs" && param === undefined) return { page: "jobs" };
    if (section === "jobs" && param !== undefined && /^\d+$/.test(param)) return { page: "job", id: Number(param) };
    if (section === "workers" && param === undefined) return { page: "workers" };
    if (section === "workers" && param !== undefined) return { page: "worker", address: param };
    if (section === "activity" && param === undefined) return { page: "activity" };
  }
  return { page: "not-found", path };
}

export const href = {
  overview: "#/",
  jobs: "#/jobs",
  job: (id: number | string) => `#/jobs/${id}`,
  workers: "#/workers",
  worker: (address: string) => `#/workers/${encodeURIComponent(address)}`,
  activity: "#/activity",
};

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
