// Overview: network totals from /api/stats and per-minute charts from /api/series (last hour by default).

import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import { api, NATIVE_TOKEN, type Series, type Stats } from "../api";
import type { ChartData, ChartSpec } from "../charts";
import { Chart } from "../components/chart";
import { ErrorBox, Loading } from "../components/common";
import { formatAmount, formatCompact, formatDuration, formatNumber, formatPercent, formatUnits, shortHex, weiToFloat } from "../format";
import { useAsync, useChainEvents, useInterval, useThrottle } from "../hooks";
import { useInfo } from "../info";

const REFRESH_MS = 5000;
const EVENT_REFRESH_MS = 2000;
// The chart windows offered (one point per minute of chain time; the API allows up to a day).
const RANGES: readonly [number, string][] = [[15, "15 minutes"], [60, "hour"], [360, "6 hours"], [1440, "24 hours"]];

function Metric({ id, label, children, sub }: { id: string; label: string; children: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="panel metric" data-testid={`metric-${id}`}>
      <div class="metric-label">{label}</div>
      <div class="metric-value">{children}</div>
      {sub !== undefined && <div class="metric-sub">{sub}</div>}
    </div>
  );
}

function Metrics({ stats, symbol }: { stats: Stats; symbol: string }) {
  const byStatus = Object.entries(stats.by_status)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status.toLowerCase()}`)
    .join(" · ");
  const tokens = Object.entries(stats.escrowed);
  const native = stats.escrowed[NATIVE_TOKEN] ?? "0";
  const others = tokens.filter(([token]) => token !== NATIVE_TOKEN);
  const latency = (p: "p50" | "p90") =>
    stats.latency_blocks[p] === null ? "—" : `${formatNumber(stats.latency_blocks[p], 1)} blk · ${formatDuration(stats.latency_s[p])}`;
  return (
    <div class="metrics">
      <Metric id="jobs" label="Jobs" sub={byStatus || "none yet"}>
        {formatNumber(stats.jobs)}
      </Metric>
      <Metric id="jobs-per-minute" label="Jobs / min">
        {formatNumber(stats.jobs_per_minute, 2)}
      </Metric>
      <Metric id="success-rate" label="Success rate">
        {formatPercent(stats.success_rate)}
      </Metric>
      <Metric id="latency" label="Latency p50" sub={`p90 ${latency("p90")}`}>
        {latency("p50")}
      </Metric>
      <Metric id="gas-per-job" label="Gas per job">
        {formatNumber(stats.gas_per_job)}
      </Metric>
      <Metric id="active-workers" label="Active workers">
        {formatNumber(stats.active_workers)}
      </Metric>
      <Metric
        id="escrowed"
        label="Value escrowed"
        sub={others.length > 0 ? others.map(([token, wei]) => `${formatUnits(wei)} @${shortHex(token)}`).join(" · ") : undefined}
      >
        {formatAmount(native, symbol)}
      </Metric>
      <Metric id="events" label="Events indexed">
        {formatNumber(stats.events)}
      </Metric>
      <Metric id="last-block" label="Last block">
        {formatNumber(stats.last_block)}
      </Metric>
    </div>
  );
}

const fmt = (digits: number) => (v: number) => formatNumber(v, digits);

function Charts({ series, symbol }: { series: Series; symbol: string }) {
  const { points } = series;
  // Buckets may be wider than a minute; charts show per-minute rates.
  const perMinute = 60 / (series.bucket_s || 60);
  const data = useMemo(() => {
    const t = points.map((p) => p.t);
    const col = (f: (p: (typeof points)[number]) => number | null): ChartData => [t, points.map(f)];
    return {
      jobs: [
        t,
        points.map((p) => p.submitted * perMinute),
        points.map((p) => p.finalized * perMinute),
        points.map((p) => p.failed * perMinute),
      ] as ChartData,
      success: col((p) => (p.success_rate === null ? null : p.success_rate * 100)),
      latency: col((p) => p.latency_s_p50),
      gas: col((p) => p.gas_per_job),
      workers: col((p) => p.active_workers),
      escrowed: col((p) => weiToFloat(p.escrowed[NATIVE_TOKEN] ?? "0")),
    };
  }, [points, perMinute]);

  const specs = useMemo(() => chartSpecs(symbol), [symbol]);
  return (
    <div class="charts">
      <Chart testid="chart-jobs" title="Jobs per minute" spec={specs.jobs} data={data.jobs} />
      <Chart testid="chart-success-rate" title="Success rate" spec={specs.success} data={data.success} />
      <Chart testid="chart-latency" title="Latency p50" spec={specs.latency} data={data.latency} />
      <Chart testid="chart-gas" title="Gas per job" spec={specs.gas} data={data.gas} />
      <Chart testid="chart-workers" title="Active workers" spec={specs.workers} data={data.workers} />
      <Chart testid="chart-escrowed" title={`Value escrowed (${symbol})`} spec={specs.escrowed} data={data.escrowed} />
    </div>
  );
}

function chartSpecs(symbol: string): Record<"jobs" | "success" | "latency" | "gas" | "workers" | "escrowed", ChartSpec> {
  const base = { time: true, height: 180 };
  return {
    jobs: {
      ...base,
      format: fmt(1),
      lines: [
        { label: "submitted", colorVar: "--series-1" },
        { label: "finalized", colorVar: "--series-2" },
        { label: "failed", colorVar: "--series-3" },
      ],
    },
    success: { ...base, format: (v) => `${formatNumber(v, 1)} %`, yRange: [0, 100], lines: [{ label: "success", colorVar: "--series-2" }] },
    latency: { ...base, format: (v) => `${formatNumber(v, 1)} s`, lines: [{ label: "p50", colorVar: "--series-4" }] },
    gas: { ...base, format: formatCompact, lines: [{ label: "gas / job", colorVar: "--series-5" }] },
    workers: { ...base, format: fmt(0), lines: [{ label: "workers", colorVar: "--series-1" }] },
    escrowed: { ...base, format: (v) => `${formatNumber(v, 4)}`, lines: [{ label: symbol, colorVar: "--series-4" }] },
  };
}

export function Overview() {
  const { symbol } = useInfo();
  const stats = useAsync((signal) => api.stats(signal), []);
  const [minutes, setMinutes] = useState(60);
  const series = useAsync((signal) => api.series(minutes, signal), [minutes]);
  const refresh = () => {
    stats.reload();
    series.reload();
  };
  useInterval(refresh, REFRESH_MS);
  const refreshSoon = useThrottle(refresh, EVENT_REFRESH_MS);
  useChainEvents(refreshSoon);

  return (
    <div class="page">
      <h1>Overview</h1>
      {stats.data ? <Metrics stats={stats.data} symbol={symbol} /> : stats.error ? <ErrorBox message={`Stats unavailable: ${stats.error}`} /> : <Loading />}
      <h2 class="range">
        <label>
          Last{" "}
          <select data-testid="series-range" value={minutes} onChange={(e) => setMinutes(Number(e.currentTarget.value))}>
            {RANGES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </h2>
      {series.data ? (
        <Charts series={series.data} symbol={symbol} />
      ) : series.error ? (
        <ErrorBox message={`Time series unavailable: ${series.error}`} />
      ) : (
        <Loading />
      )}
    </div>
  );
}
