// A job's lifecycle: its chain events in order, each with a one-line summary.

import type { TimelineEvent } from "../api";
import { summarizeEvent } from "../events";
import { formatTime } from "../format";
import { useInfo } from "../info";
import { Empty, Hash } from "./common";

export function Timeline({ events }: { events: TimelineEvent[] }) {
  const { symbol } = useInfo();
  if (events.length === 0) return <Empty>No events yet</Empty>;
  return (
    <ol class="timeline" data-testid="timeline">
      {events.map((event, i) => (
        <li key={`${event.tx}-${i}`} class={`timeline-item event-${event.name}`} data-testid="timeline-item" data-event={event.name}>
          <div class="timeline-head">
            <strong>{event.name}</strong>
            <span class="muted">
              block {event.block} · {formatTime(event.time)} · tx <Hash value={event.tx} />
            </span>
          </div>
          <div class="timeline-summary">{summarizeEvent(event.name, event.args, symbol)}</div>
        </li>
      ))}
    </ol>
  );
}
