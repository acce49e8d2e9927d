// Thin wrapper over uPlot: line charts of series that share one x axis, coloured from the
// theme's CSS variables (a canvas can't use them directly, so charts are rebuilt on theme change).

import uPlot from "uplot";
import { cssVar } from "./theme";

export interface LineSpec {
  label: string;
  /** A CSS custom property holding the line colour, e.g. `--series-1`. */
  colorVar: string;
}

export interface ChartSpec {
  lines: LineSpec[];
  /** Formats y values for the axis and the legend. */
  format: (value: number) => string;
  /** x values are unix seconds (else plain numbers, e.g. block heights). */
  time: boolean;
  /** x axis label when it is not time. */
  xLabel?: string;
  height: number;
  /** Draw steps (a value holds until the next point) instead of straight segments. */
  stepped?: boolean;
  /** Fixed y range (e.g. 0..100 for percentages); otherwise auto from 0. */
  yRange?: [number, number];
}

/** x values then one array per line; null leaves a gap. */
export type ChartData = [number[], ...(number | null)[][]];

export function createChart(target: HTMLElement, spec: ChartSpec, data: ChartData): uPlot {
  const text = cssVar("--fg-muted");
  const grid = cssVar("--grid");
  const axis = (label?: string): uPlot.Axis => ({
    stroke: text,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
    ...(label ? { label } : {}),
  });
  const yRange = spec.yRange;
  const stepped = spec.stepped ? uPlot.paths.stepped?.({ align: 1 }) : undefined;
  const options: uPlot.Options = {
    width: Math.max(target.clientWidth, 200),
    height: spec.height,
    scales: {
      x: { time: spec.time },
      // Counts and amounts read best from zero; a flat series would otherwise fill the chart.
      y: {
        range: yRange
          ? () => yRange
          : (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1],
      },
    },
    axes: [
      axis(spec.time ? undefined : spec.xLabel),
      // Wide enough for the longest label ("750,000"): a fixed width clips large values.
      { ...axis(), size: axisWidth, values: (_u, ticks) => ticks.map((v) => spec.format(v)) },
    ],
    series: [
      spec.time ? { value: (_u, v) => (v === null ? "—" : new Date(v * 1000).toLocaleTimeString()) } : { label: spec.xLabel ?? "x" },
      ...spec.lines.map((line, i): uPlot.Series => ({
        label: line.label,
        stroke: cssVar(line.colorVar),
        width: 2,
        spanGaps: false,
        ...(stepped ? { paths: stepped } : {}),
        // Sparse series (a minute with one finalized job) are lone dots: a line needs two points.
        points: { show: (data[i + 1] ?? []).filter((v) => v !== null).length < 40 },
        value: (_u, v) => (v === null ? "—" : spec.format(v)),
      })),
    ],
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(options, data as uPlot.AlignedData, target);
}

function axisWidth(_u: uPlot, values: string[] | null): number {
  const longest = Math.max(0, ...(values ?? []).map((v) => v.length));
  return Math.max(40, longest * 7 + 24);
}

export function resizeChart(chart: uPlot, width: number, height: number): void {
  if (width > 0 && (chart.width !== width || chart.height !== height)) chart.setSize({ width, height });
}
