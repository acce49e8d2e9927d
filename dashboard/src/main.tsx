import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { api } from "./api";
import { App } from "./app";
import { chainStream } from "./stream";
import { initTheme } from "./theme";

/** How many past events the stream replays on load, so the Activity page starts with a backlog. */
const BACKLOG = 100;

initTheme();
const root = document.getElementById("app");
if (root) render(<App />, root);

// Stats tell how many events exist; without them, start live-only.
api.stats().then(
  (stats) => chainStream.start(Math.max(0, stats.last_event_id - BACKLOG)),
  () => chainStream.start(null),
);
