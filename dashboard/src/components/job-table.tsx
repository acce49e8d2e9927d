// The jobs table, used on the Jobs page and a worker's page. Rows open the job.

import type { Job } from "../api";
import { formatNumber, formatTime, jobLatency, shortHex, sumWei } from "../format";
import { href, navigate } from "../router";
import { Amount, Empty, JobLink, Runtime, StatusBadge, TableScroll } from "./common";

interface Props {
  jobs: Job[];
  testid: string;
  empty: string;
}

export function JobTable({ jobs, testid, empty }: Props) {
  if (jobs.length === 0) return <Empty>{empty}</Empty>;
  return (
    <TableScroll>
      <table class="table clickable" data-testid={testid}>
        <thead>
          <tr>
            <th>Job</th>
            <th>Status</th>
            <th>Runtime</th>
            <th class="num">Replicas</th>
            <th>Requester</th>
            <th>Submitted</th>
            <th>Latency</th>
            <th class="num">Gas</th>
            <th class="num">Paid</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr
              key={job.id}
              data-testid="job-row"
              data-job-id={job.id}
              tabIndex={0}
              onClick={() => navigate(href.job(job.id))}
              onKeyDown={(e) => {
                if (e.key === "Enter") navigate(href.job(job.id));
              }}
            >
              <td>
                <JobLink id={job.id} />
              </td>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td>
                <Runtime id={job.runtime} name={job.runtime_name} testid="job-runtime" />
              </td>
              <td class="num">
                {job.replicas}/{job.quorum}
              </td>
              <td class="mono" title={job.requester}>
                {shortHex(job.requester)}
              </td>
              <td class="nowrap">{formatTime(job.submitted_time)}</td>
              <td class="nowrap">{jobLatency(job)}</td>
              <td class="num">{formatNumber(job.gas_used)}</td>
              <td class="num nowrap">
                <Amount wei={sumWei(job.paid ?? {})} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
