// Workers: registered providers, sortable by reputation, earnings or stake.

import { useState } from "preact/hooks";
import { api, type ProviderSort } from "../api";
import { capabilityNames } from "../capabilities";
import { Amount, Empty, ErrorBox, Loading, TableScroll, WorkerLink } from "../components/common";
import { ReputationBar } from "../components/reputation-bar";
import { useAsync, useChainEvents, useInterval, useThrottle } from "../hooks";
import { href, navigate } from "../router";

const SORTS: { key: ProviderSort; label: string }[] = [
  { key: "reputation", label: "Reputation" },
  { key: "earned", label: "Earned" },
  { key: "stake", label: "Stake" },
];
const REFRESH_MS = 10000;
const EVENT_REFRESH_MS = 2000;

export function Workers() {
  const [sort, setSort] = useState<ProviderSort>("reputation");
  const providers = useAsync((signal) => api.providers(sort, signal), [sort]);
  useInterval(providers.reload, REFRESH_MS);
  const refresh = useThrottle(providers.reload, EVENT_REFRESH_MS);
  // Most events touch some provider's stake, lock, reputation or earnings.
  useChainEvents(refresh);

  return (
    <div class="page">
      <h1>Workers</h1>
      <div class="segmented" role="group" aria-label="Sort by">
        {SORTS.map((s) => (
          <button
            key={s.key}
            type="button"
            data-testid={`sort-${s.key}`}
            aria-pressed={sort === s.key}
            onClick={() => setSort(s.key)}
          >
            {s.label}
          </button>
        ))}
      </div>
      {providers.error && <ErrorBox message={providers.error} />}
      {providers.data === null ? (
        !providers.error && <Loading />
      ) : providers.data.length === 0 ? (
        <Empty>No workers registered yet</Empty>
      ) : (
        <TableScroll>
          <table class="table clickable" data-testid="workers-table">
            <thead>
              <tr>
                <th>Address</th>
                <th>Status</th>
                <th>Reputation</th>
                <th class="num">Stake</th>
                <th class="num">Locked</th>
                <th class="num">Earned</th>
                <th class="num">Slashed</th>
                <th>Region</th>
                <th>Capabilities</th>
              </tr>
            </thead>
            <tbody>
              {providers.data.map((p) => (
                <tr
                  key={p.address}
                  data-testid="worker-row"
                  data-address={p.address}
                  tabIndex={0}
                  onClick={() => navigate(href.worker(p.address))}
                  onKeyDown={(e) => {
                    if (e.key === "Enter") navigate(href.worker(p.address));
                  }}
                >
                  <td>
                    <WorkerLink address={p.address} />
                  </td>
                  <td>
                    <span class={`badge badge-${p.status}`}>{p.status}</span>
                  </td>
                  <td>
                    <ReputationBar bps={p.reputation} />
                  </td>
                  <td class="num nowrap">
                    <Amount wei={p.stake} />
                  </td>
                  <td class="num nowrap">
                    <Amount wei={p.locked} />
                  </td>
                  <td class="num nowrap">
                    <Amount wei={p.earned} />
                  </td>
                  <td class="num nowrap">
                    <Amount wei={p.slashed} />
                  </td>
                  <td>{p.region || "—"}</td>
                  <td>{capabilityNames(p.capabilities)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </div>
  );
}
