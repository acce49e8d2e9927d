// Jobs: a filterable, pageable table that refreshes its first page on live events.

import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, JOB_STATUSES, type Job, type JobFilters } from "../api";
import { JobTable } from "../components/job-table";
import { ErrorBox, Loading } from "../components/common";
import { useAsync, useChainEvents, useDebounced, useThrottle } from "../hooks";

const PAGE_SIZE = 50;
const EVENT_REFRESH_MS = 1000;

interface Filters {
  status: string;
  requester: string;
  provider: string;
  runtime: string;
}

const NO_FILTERS: Filters = { status: "", requester: "", provider: "", runtime: "" };

function query(filters: Filters): JobFilters {
  return {
    status: filters.status,
    requester: filters.requester.trim(),
    provider: filters.provider.trim(),
    runtime: filters.runtime.trim(),
  };
}

export function Jobs() {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  // Typing in a text filter waits for a pause before querying.
  const applied = useDebounced(filters, 300);
  const first = useAsync((signal) => api.jobs({ ...query(applied), limit: PAGE_SIZE }, signal), [applied]);
  // Older pages fetched with "Load more"; kept across live refreshes of the first page.
  const [older, setOlder] = useState<Job[]>([]);
  const [olderDone, setOlderDone] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => {
    setOlder([]);
    setOlderDone(false);
    setMoreError(null);
  }, [applied]);

  const refresh = useThrottle(first.reload, EVENT_REFRESH_MS);
  useChainEvents((event) => {
    if (event.jobs.length > 0) refresh();
  });

  const firstRows = first.data ?? [];
  const oldestFirst = firstRows.length > 0 ? Math.min(...firstRows.map((j) => j.id)) : Infinity;
  const rows = [...firstRows, ...older.filter((j) => j.id < oldestFirst)];
  const hasMore = older.length > 0 ? !olderDone : firstRows.length === PAGE_SIZE;

  const loadMore = async () => {
    const last = rows[rows.length - 1];
    if (!last) return;
    setLoadingMore(true);
    try {
      const page = await api.jobs({ ...query(applied), before: last.id, limit: PAGE_SIZE });
      setOlder((prev) => [...prev, ...page]);
      setOlderDone(page.length < PAGE_SIZE);
      setMoreError(null);
    } catch (err) {
      setMoreError(errorMessage(err));
    } finally {
      setLoadingMore(false);
    }
  };

  const set = (key: keyof Filters) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setFilters((prev) => ({ ...prev, [key]: value }));
  };
  const filtered = Object.values(applied).some((v) => v.trim() !== "");

  return (
    <div class="page">
      <h1>Jobs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select data-testid="filter-status" value={filters.status} onChange={set("status")}>
            <option value="">any</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Requester
          <input data-testid="filter-requester" placeholder="0x…" value={filters.requester} onInput={set("requester")} spellcheck={false} />
        </label>
        <label>
          Provider
          <input data-testid="filter-provider" placeholder="0x…" value={filters.provider} onInput={set("provider")} spellcheck={false} />
        </label>
        <label>
          Runtime
          <input data-testid="filter-runtime" placeholder="wasi, python… or 0x…" value={filters.runtime} onInput={set("runtime")} spellcheck={false} />
        </label>
      </form>
      {first.error && <ErrorBox message={first.error} />}
      {first.data === null && !first.error ? (
        <Loading />
      ) : (
        first.data !== null && (
          <JobTable jobs={rows} testid="jobs-table" empty={filtered ? "No jobs match these filters" : "No jobs yet"} />
        )
      )}
      {moreError && <ErrorBox message={moreError} />}
      {hasMore && (
        <button type="button" class="button" data-testid="load-more" onClick={loadMore} disabled={loadingMore}>
          {loadingMore ? "Loading…" : "Load more"}
        </button>
      )}
    </div>
  );
}
