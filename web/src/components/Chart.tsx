import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface ChartProps {
  title: string;
  /** The series' names and colours (after the time axis). */
  series: { label: string; color: string }[];
  /** [unix seconds, ...one array per series]; null is a gap. */
  data: [number[], ...(number | null)[][]];
  unit?: string;
}

/** A live uPlot line chart that follows its container's width. */
export function Chart({ title, series, data, unit = "" }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const u = new uPlot({
      width: Math.max(200, el.clientWidth),
      height: 180,
      legend: { show: true, live: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" }, ticks: { stroke: "rgba(128,128,128,0.3)" }, values: (_u, vals) => vals.map((v) => new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false })) },
        { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" }, ticks: { stroke: "rgba(128,128,128,0.3)" }, size: 56, values: (_u, vals) => vals.map((v) => `${+v.toFixed(2)}${unit}`) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false, points: { show: false } }))],
    }, data as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    resize.observe(el);
    return () => { resize.disconnect(); u.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { plot.current?.setData(data as uPlot.AlignedData); }, [data]);
  return (
    <figure class="chart" aria-label={title} data-points={data[0].length}>
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" />
    </figure>
  );
}
