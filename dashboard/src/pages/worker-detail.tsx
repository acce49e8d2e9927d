// One worker: balances, peer address, reputation history, slashes and recent jobs.

import { useMemo } from "preact/hooks";
import { api, type ProviderDetail } from "../api";
import { capabilityNames } from "../capabilities";
import type { ChartData, ChartSpec } from "../charts";
import { Chart } from "../components/chart";
import { Amount, Empty, ErrorBox, JobLink, Loading, TableScroll } from "../components/common";
import { JobTable } from "../components/job-table";
import { ReputationBar } from "../components/reputation-bar";
import { bytes32Text } from "../events";
import { formatNumber, formatReputation, formatTime, sameAddress } from "../format";
import { useAsync, useChainEvents, useThrottle } from "../hooks";
import { href } from "../router";

const EVENT_REFRESH_MS = 2000;

const REPUTATION_SPEC: ChartSpec = {
  // x is the block height: times can repeat within a block, and devnets mine in bursts.
  time: false,
  xLabel: "block",
  height: 200,
  yRange: [0, 100],
  format: (v) => `${formatNumber(v, 2)} %`,
  // Reputation holds its value until the next change.
  stepped: true,
  lines: [{ label: "reputation", colorVar: "--series-1" }],
};

function Balances({ p }: { p: ProviderDetail }) {
  return (
    <dl class="facts">
      <dt>Address</dt>
      <dd class="mono break">{p.address}</dd>
      <dt>Status</dt>
      <dd>
        <span class={`badge badge-${p.status}`}>{p.status}</span>
      </dd>
      <dt>Reputation</dt>
      <dd>
        <ReputationBar bps={p.reputation} />
      </dd>
      <dt>Stake</dt>
      <dd>
        <Amount wei={p.stake} />
      </dd>
      <dt>Locked</dt>
      <dd>
        <Amount wei={p.locked} />
      </dd>
      <dt>Unbonding</dt>
      <dd>
        <Amount wei={p.unbonding} />
      </dd>
      <dt>Earned</dt>
      <dd>
        <Amount wei={p.earned} />
      </dd>
      <dt>Slashed</dt>
      <dd>
        <Amount wei={p.slashed} />
      </dd>
      <dt>Region</dt>
      <dd>{p.region || "—"}</dd>
      <dt>Capabilities</dt>
      <dd>{capabilityNames(p.capabilities)}</dd>
      <dt>Peer</dt>
      <dd class="mono break">{p.peer_id || "—"}</dd>
    </dl>
  );
}

function ReputationHistory({ p }: { p: ProviderDetail }) {
  const history = p.reputation_history ?? [];
  const data = useMemo<ChartData>(() => [history.map((h) => h.block), history.map((h) => h.reputation / 100)], [history]);
  if (history.length === 0) return <Empty>No reputation changes yet</Empty>;
  return (
    <>
      <Chart testid="reputation-chart" title="Reputation by block" spec={REPUTATION_SPEC} data={data} />
      <TableScroll>
        <table class="table" data-testid="reputation-table">
          <thead>
            <tr>
              <th class="num">Block</th>
              <th>Time</th>
              <th>Job</th>
              <th>Reputation</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {[...history].reverse().map((h, i) => (
              <tr key={`${h.block}-${i}`}>
                <td class="num">{h.block}</td>
                <td class="nowrap">{formatTime(h.time)}</td>
                <td>{h.job_id ? <JobLink id={h.job_id} /> : "—"}</td>
                <td class="num">{formatReputation(h.reputation)}</td>
                <td>{bytes32Text(h.reason)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </>
  );
}

function Slashes({ p }: { p: ProviderDetail }) {
  const slashes = p.slashes ?? [];
  if (slashes.length === 0) return <Empty>Never slashed</Empty>;
  return (
    <TableScroll>
      <table class="table" data-testid="slashes-table">
        <thead>
          <tr>
            <th class="num">Block</th>
            <th>Time</th>
            <th>Job</th>
            <th class="num">Amount</th>
          </tr>
        </thead>
        <tbody>
          {slashes.map((s, i) => (
            <tr key={`${s.block}-${i}`}>
              <td class="num">{s.block}</td>
              <td class="nowrap">{formatTime(s.time)}</td>
              <td>{s.job_id ? <JobLink id={s.job_id} /> : "—"}</td>
              <td class="num nowrap">
                <Amount wei={s.amount} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

export function WorkerDetailPage({ address }: { address: string }) {
  const provider = useAsync((signal) => api.provider(address, signal), [address]);
  const refresh = useThrottle(provider.reload, EVENT_REFRESH_MS);
  useChainEvents((event) => {
    // Job events don't name the worker in `jobs`; look for the address among the arguments.
    if (JSON.stringify(event.args).toLowerCase().includes(address.toLowerCase())) refresh();
  });

  const back = (
    <p>
      <a href={href.workers}>← Workers</a>
    </p>
  );
  if (!provider.data) {
    return (
      <div class="page">
        {back}
        <h1>Worker</h1>
        {provider.error ? <ErrorBox message={provider.error} /> : <Loading />}
      </div>
    );
  }
  const p = provider.data;
  return (
    <div class="page" data-testid="worker-detail" data-address={p.address}>
      {back}
      <h1 class="break">
        Worker <span class="mono">{p.address}</span>
      </h1>
      {provider.error && <ErrorBox message={`Refresh failed: ${provider.error}`} />}
      {!sameAddress(p.address, address) && <p class="muted">Showing {p.address}</p>}
      <div class="columns">
        <section class="panel">
          <Balances p={p} />
        </section>
        <section>
          <h2>Reputation</h2>
          <ReputationHistory p={p} />
        </section>
      </div>
      <h2>Slashes</h2>
      <Slashes p={p} />
      <h2>Recent jobs</h2>
      <JobTable jobs={p.recent_jobs ?? []} testid="worker-jobs-table" empty="No jobs yet" />
    </div>
  );
}
