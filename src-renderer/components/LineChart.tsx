// A small SVG line chart for the performance graphs: one or two series over a fixed time
// window, gaps where a value is unknown, a y-axis scaled to the data (or a fixed maximum).
import type { ReactNode } from 'react';

export interface ChartSeries {
  readonly label: string;
  readonly className: string;
  /** x: seconds relative to now (≤ 0); y: null = unknown (a gap). */
  readonly points: readonly { readonly x: number; readonly y: number | null }[];
}

export interface LineChartProps {
  readonly title: ReactNode;
  readonly series: readonly ChartSeries[];
  readonly windowSeconds: number;
  /** Fixed top of the y axis (e.g. 100 % per core × cores); else the data's maximum. */
  readonly yMax?: number;
  readonly formatY: (y: number) => string;
  /** What a screen reader hears: the latest values. */
  readonly summary: string;
}

const W = 320;
const H = 110;
const PAD_L = 4;
const PAD_B = 4;

function toXY(p: { x: number; y: number }, windowSeconds: number, yMax: number): [number, number] {
  return [
    PAD_L + ((p.x + windowSeconds) / windowSeconds) * (W - PAD_L),
    H - PAD_B - (Math.min(p.y, yMax) / yMax) * (H - PAD_B - 6),
  ];
}

function paths(points: ChartSeries['points'], windowSeconds: number, yMax: number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.y === null) {
      pen = false;
      continue;
    }
    const [x, y] = toXY({ x: p.x, y: p.y }, windowSeconds, yMax);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)} `;
    pen = true;
  }
  return d.trim();
}

/** The newest known point of a series (drawn as a dot: a lone first sample has no line yet). */
function newest(points: ChartSeries['points']): { x: number; y: number } | null {
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i]!;
    if (p.y !== null) return { x: p.x, y: p.y };
  }
  return null;
}

export function LineChart(p: LineChartProps) {
  const dataMax = Math.max(0, ...p.series.flatMap((s) => s.points.map((pt) => pt.y ?? 0)));
  const yMax = p.yMax ?? (dataMax > 0 ? dataMax * 1.15 : 1);
  return (
    <figure className="chart">
      <figcaption>
        <span className="chart-title">{p.title}</span>
        <span className="chart-legend">
          {p.series.map((s) => (
            <span key={s.label} className={`legend ${s.className}`}>
              {s.label}
            </span>
          ))}
        </span>
      </figcaption>
      <div className="chart-body">
        <div className="chart-scale" aria-hidden="true">
          <span>{p.formatY(yMax)}</span>
          <span>{p.formatY(0)}</span>
        </div>
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={p.summary} preserveAspectRatio="none">
          {[0.25, 0.5, 0.75].map((f) => (
            <line key={f} x1={PAD_L} x2={W} y1={(H - PAD_B) * f} y2={(H - PAD_B) * f} className="grid" />
          ))}
          <line x1={PAD_L} x2={W} y1={H - PAD_B} y2={H - PAD_B} className="axis" />
          {p.series.map((s) => {
            const last = newest(s.points);
            const [cx, cy] = last ? toXY(last, p.windowSeconds, yMax) : [0, 0];
            return (
              <g key={s.label} className={s.className}>
                <path d={paths(s.points, p.windowSeconds, yMax)} className={`line ${s.className}`} />
                {/* A zero-length round-capped stroke: stays round although the chart stretches. */}
                {last && <path d={`M${cx.toFixed(1)},${cy.toFixed(1)} h0`} className={`dot ${s.className}`} />}
              </g>
            );
          })}
        </svg>
      </div>
    </figure>
  );
}
