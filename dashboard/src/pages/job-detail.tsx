// One job: facts, lifecycle timeline, assignees, escrow flows, and result verification.

import { api, type JobDetail } from "../api";
import { Amount, ErrorBox, Hash, Loading, StatusBadge, TableScroll, WorkerLink } from "../components/common";
import { EscrowFlows } from "../components/escrow-flows";
import { Timeline } from "../components/timeline";
import { VerifyResult } from "../components/verify-result";
import { formatNumber, formatTime, jobLatency } from "../format";
import { useAsync, useChainEvents, useThrottle } from "../hooks";
import { href } from "../router";

const EVENT_REFRESH_MS = 1000;

/** Looks an address up in a `{address: value}` map regardless of checksum casing. */
function byAddress<T>(map: Record<string, T> | undefined, address: string): T | undefined {
  if (!map) return undefined;
  if (address in map) return map[address];
  const lower = address.toLowerCase();
  for (const [key, value] of Object.entries(map)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

function Facts({ job }: { job: JobDetail }) {
  return (
    <dl class="facts">
      <dt>Requester</dt>
      <dd class="mono break">{job.requester}</dd>
      <dt>Runtime</dt>
      <dd data-testid="job-runtime">
        {job.runtime_name && <div class="runtime-name">{job.runtime_name}</div>}
        <div class="mono break">{job.runtime}</div>
      </dd>
      <dt>Replicas / quorum</dt>
      <dd>
        {job.replicas} / {job.quorum}
      </dd>
      <dt>Submitted</dt>
      <dd>
        block {job.submitted_block} · {formatTime(job.submitted_time)}
      </dd>
      <dt>Ended</dt>
      <dd>{job.ended_block === null ? "—" : `block ${job.ended_block} · ${formatTime(job.ended_time)}`}</dd>
      <dt>Latency</dt>
      <dd>{jobLatency(job)}</dd>
      <dt>Gas used</dt>
      <dd>{formatNumber(job.gas_used)}</dd>
      <dt>Result digest</dt>
      <dd class="mono break">{job.result_digest ?? "—"}</dd>
      <dt>Result CID</dt>
      <dd class="mono break">{job.result_cid ?? "—"}</dd>
    </dl>
  );
}

function Assignees({ job }: { job: JobDetail }) {
  if (job.assignees.length === 0) {
    return (
      <p class="empty" data-testid="assignees-table">
        No workers assigned yet
      </p>
    );
  }
  const expected = job.result_digest?.toLowerCase();
  return (
    <TableScroll>
      <table class="table" data-testid="assignees-table">
        <thead>
          <tr>
            <th>Worker</th>
            <th class="num">Price</th>
            <th>Outcome</th>
            <th>Revealed digest</th>
            <th class="num">Paid</th>
            <th class="num">Slashed</th>
          </tr>
        </thead>
        <tbody>
          {job.assignees.map((worker) => {
            const revealed = byAddress(job.revealed, worker);
            const outcome = byAddress(job.outcomes, worker);
            const price = byAddress(job.prices, worker);
            const paid = byAddress(job.paid, worker);
            const slashed = byAddress(job.slashed, worker);
            const agrees = revealed !== undefined && expected !== undefined && revealed.toLowerCase() === expected;
            return (
              <tr key={worker} data-address={worker}>
                <td>
                  <WorkerLink address={worker} />
                </td>
                <td class="num nowrap">{price === undefined ? "—" : <Amount wei={price} />}</td>
                <td>{outcome ? <span class={`outcome outcome-${outcome}`}>{outcome.replace(/_/g, " ")}</span> : "—"}</td>
                <td class="nowrap">
                  <Hash value={revealed} />
                  {agrees && (
                    <span class="ok" title="Matches the finalized result digest">
                      {" "}
                      ✓
                    </span>
                  )}
                </td>
                <td class="num nowrap">{paid === undefined ? "—" : <Amount wei={paid} />}</td>
                <td class="num nowrap">{slashed === undefined ? "—" : <Amount wei={slashed} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}

export function JobDetailPage({ id }: { id: number }) {
  const job = useAsync((signal) => api.job(id, signal), [id]);
  const refresh = useThrottle(job.reload, EVENT_REFRESH_MS);
  useChainEvents((event) => {
    if (event.jobs.includes(id)) refresh();
  });

  if (!job.data) {
    return (
      <div class="page">
        <p>
          <a href={href.jobs}>← Jobs</a>
        </p>
        <h1>Job #{id}</h1>
        {job.error ? <ErrorBox message={job.error} /> : <Loading />}
      </div>
    );
  }
  const data = job.data;
  return (
    <div class="page" data-testid="job-detail" data-job-id={data.id}>
      <p>
        <a href={href.jobs}>← Jobs</a>
      </p>
      <h1 class="title-row">
        Job #{data.id} <StatusBadge status={data.status} testid="job-status" />
      </h1>
      {job.error && <ErrorBox message={`Refresh failed: ${job.error}`} />}
      <section class="panel">
        <Facts job={data} />
        {data.result_digest !== null && <VerifyResult jobId={data.id} digest={data.result_digest} />}
      </section>
      <div class="columns">
        <section>
          <h2>Timeline</h2>
          <Timeline events={data.timeline ?? []} />
        </section>
        <section>
          <h2>Assignees</h2>
          <Assignees job={data} />
          <h2>Escrow flows</h2>
          <EscrowFlows timeline={data.timeline ?? []} />
        </section>
      </div>
    </div>
  );
}
