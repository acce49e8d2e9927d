// The shell: network info context, navigation, and the page for the current route.

import { useEffect } from "preact/hooks";
import { api } from "./api";
import { Nav } from "./components/nav";
import { ErrorBox } from "./components/common";
import { useAsync } from "./hooks";
import { DEFAULT_INFO, InfoContext, toNetworkInfo } from "./info";
import { useRoute, type Route } from "./router";
import { Activity } from "./pages/activity";
import { JobDetailPage } from "./pages/job-detail";
import { Jobs } from "./pages/jobs";
import { Overview } from "./pages/overview";
import { WorkerDetailPage } from "./pages/worker-detail";
import { Workers } from "./pages/workers";

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "overview":
      return <Overview />;
    case "jobs":
      return <Jobs />;
    case "job":
      return <JobDetailPage id={route.id} />;
    case "workers":
      return <Workers />;
    case "worker":
      return <WorkerDetailPage address={route.address} />;
    case "activity":
      return <Activity />;
    case "not-found":
      return <ErrorBox message={`No page at ${route.path}`} />;
  }
}

function title(route: Route): string {
  switch (route.page) {
    case "overview":
      return "Overview";
    case "jobs":
      return "Jobs";
    case "job":
      return `Job #${route.id}`;
    case "workers":
      return "Workers";
    case "worker":
      return `Worker ${route.address.slice(0, 10)}`;
    case "activity":
      return "Activity";
    case "not-found":
      return "Not found";
  }
}

export function App() {
  const route = useRoute();
  const info = useAsync((signal) => api.info(signal), []);
  const networkInfo = info.data ? toNetworkInfo(info.data) : DEFAULT_INFO;

  useEffect(() => {
    document.title = `${title(route)} · PolkaCompute`;
    window.scrollTo(0, 0);
  }, [route]);

  return (
    <InfoContext.Provider value={networkInfo}>
      <Nav route={route} />
      <main class="container">
        <Page route={route} />
      </main>
    </InfoContext.Provider>
  );
}
