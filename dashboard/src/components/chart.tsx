// A uPlot chart that follows its container's width and the colour theme.

import { useEffect, useRef } from "preact/hooks";
import type uPlot from "uplot";
import { createChart, resizeChart, type ChartData, type ChartSpec } from "../charts";
import { onThemeChange } from "../theme";

interface Props {
  testid: string;
  title: string;
  spec: ChartSpec;
  data: ChartData;
}

export function Chart({ testid, title, spec, data }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  // The latest props, for rebuilding after a theme change without re-running the effect.
  const latest = useRef({ spec, data });
  latest.current = { spec, data };
  const empty = data[0].length === 0;

  useEffect(() => {
    const el = host.current;
    if (!el || empty) return;
    const build = () => {
      chart.current?.destroy();
      chart.current = createChart(el, latest.current.spec, latest.current.data);
    };
    build();
    const observer = new ResizeObserver(() => {
      if (chart.current) resizeChart(chart.current, el.clientWidth, latest.current.spec.height);
    });
    observer.observe(el);
    const stopTheme = onThemeChange(build);
    return () => {
      stopTheme();
      observer.disconnect();
      chart.current?.destroy();
      chart.current = null;
    };
    // Rebuilt only when the shape of the chart changes; data updates go through setData below.
  }, [empty, spec.lines.length]);

  useEffect(() => {
    chart.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <section class="panel chart" data-testid={testid}>
      <h3>{title}</h3>
      {empty ? <p class="empty chart-empty">No data yet</p> : <div class="chart-host" ref={host} />}
    </section>
  );
}
