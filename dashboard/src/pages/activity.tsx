// Activity: the live feed of chain events, newest first, with filters and pause.

import { Fragment } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ChainEvent } from "../api";
import { Empty, Hash, JobLink, TableScroll } from "../components/common";
import { summarizeEvent } from "../events";
import { formatClock, formatTime } from "../format";
import { useChainEvents } from "../hooks";
import { useInfo } from "../info";
import { chainStream, RECENT_CAP } from "../stream";

/** Adds events (oldest first) to rows (newest first), skipping ones already shown; at most RECENT_CAP. */
function prepend(rows: ChainEvent[], incoming: readonly ChainEvent[]): ChainEvent[] {
  const newest = rows[0]?.id ?? -1;
  const fresh = incoming.filter((e) => e.id > newest).reverse();
  return fresh.length === 0 ? rows : [...fresh, ...rows].slice(0, RECENT_CAP);
}

function matches(event: ChainEvent, name: string, contract: string, job: string): boolean {
  if (name && !event.name.toLowerCase().includes(name.toLowerCase())) return false;
  if (contract && event.contract !== contract) return false;
  if (job && !event.jobs.includes(Number(job))) return false;
  return true;
}

export function Activity() {
  const { symbol } = useInfo();
  const [rows, setRows] = useState<ChainEvent[]>(() => prepend([], chainStream.recent()));
  const [paused, setPaused] = useState(false);
  const [buffered, setBuffered] = useState<ChainEvent[]>([]);
  const [name, setName] = useState("");
  const [contract, setContract] = useState("");
  const [job, setJob] = useState("");

  // Events arrive in bursts (the backlog, busy blocks): collect them and render once per frame.
  const pending = useRef<ChainEvent[]>([]);
  const frame = useRef<number | null>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  useEffect(() => {
    // Catch events that arrived between the first render and the subscription.
    setRows((prev) => prepend(prev, chainStream.recent()));
    return () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    };
  }, []);

  useChainEvents((event) => {
    pending.current.push(event);
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      const batch = pending.current;
      pending.current = [];
      if (pausedRef.current) setBuffered((prev) => [...prev, ...batch].slice(-RECENT_CAP));
      else setRows((prev) => prepend(prev, batch));
    });
  });

  const togglePause = () => {
    if (paused) {
      setRows((prev) => prepend(prev, buffered));
      setBuffered([]);
    }
    setPaused(!paused);
  };

  const names = useMemo(() => [...new Set(rows.map((r) => r.name))].sort(), [rows]);
  const contracts = useMemo(() => [...new Set(rows.map((r) => r.contract))].sort(), [rows]);
  const visible = rows.filter((r) => matches(r, name.trim(), contract, job.trim()));

  return (
    <div class="page">
      <h1>Activity</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Event
          <input
            data-testid="filter-event"
            list="event-names"
            placeholder="any"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            spellcheck={false}
          />
          <datalist id="event-names">
            {names.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </label>
        <label>
          Contract
          <select data-testid="filter-contract" value={contract} onChange={(e) => setContract(e.currentTarget.value)}>
            <option value="">any</option>
            {contracts.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Job
          <input
            data-testid="filter-job"
            inputMode="numeric"
            placeholder="id"
            value={job}
            onInput={(e) => setJob(e.currentTarget.value)}
          />
        </label>
        <div class="pause">
          <button type="button" class="button" data-testid="activity-pause" onClick={togglePause} aria-pressed={paused}>
            {paused ? "Resume" : "Pause"}
          </button>
          <span class="muted" data-testid="activity-buffered" aria-live="polite">
            {paused ? `${buffered.length} new while paused` : ""}
          </span>
        </div>
      </form>
      {visible.length === 0 ? (
        <Empty>{rows.length === 0 ? "No events yet — waiting for the chain" : "No events match these filters"}</Empty>
      ) : (
        <TableScroll>
          {/* On phones each row stacks into a card (styles.css, "stacked"); the explicit roles keep it a
              table for assistive technology, which drops table semantics once rows are not table rows. */}
          <table class="table stacked" data-testid="activity-table" role="table">
            <thead role="rowgroup">
              <tr role="row">
                <th role="columnheader">Time</th>
                <th role="columnheader" class="num">
                  Block
                </th>
                <th role="columnheader">Contract</th>
                <th role="columnheader">Event</th>
                <th role="columnheader">Jobs</th>
                <th role="columnheader">Details</th>
              </tr>
            </thead>
            <tbody role="rowgroup">
              {visible.map((event) => (
                <tr
                  key={event.id}
                  role="row"
                  data-testid="activity-row"
                  data-event={event.name}
                  data-jobs={event.jobs.join(",")}
                >
                  <td role="cell" class="cell-time nowrap" title={formatTime(event.time)}>
                    {formatClock(event.time)}
                  </td>
                  <td role="cell" class="cell-block num" data-label="block">
                    {event.block}
                  </td>
                  <td role="cell" class="cell-contract">
                    {event.contract}
                  </td>
                  <td role="cell" class="cell-event" data-testid="activity-event">
                    <strong>{event.name}</strong>
                  </td>
                  <td role="cell" class="cell-jobs nowrap">
                    {event.jobs.map((id, i) => (
                      <Fragment key={id}>
                        {i > 0 && " "}
                        <JobLink id={id} />
                      </Fragment>
                    ))}
                  </td>
                  <td role="cell" class="summary" title={`tx ${event.tx}`}>
                    {summarizeEvent(event.name, event.args, symbol) || <Hash value={event.tx} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </div>
  );
}
