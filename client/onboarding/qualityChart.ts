/**
 * A small canvas chart of held-out PSNR over training time, with the
 * "usable" threshold as a line, so the newcomer sees their avatar approach it.
 * chartScale() is pure (tested); drawQualityChart() paints it.
 */
export interface ChartPoint {
  elapsedMs: number;
  psnr: number;
}

export interface ChartArea {
  width: number;
  height: number;
  /** Room for the axis labels: left, right, top, bottom, pixels. */
  padding: { left: number; right: number; top: number; bottom: number };
}

export interface ChartScale {
  /** The x axis spans 0..minutes (whole minutes, at least 1). */
  minutes: number;
  /** The y axis spans psnrMin..psnrMax dB (whole dB). */
  psnrMin: number;
  psnrMax: number;
  x: (elapsedMs: number) => number;
  y: (psnr: number) => number;
}

/** Headroom above and below the data, dB, so that the line never touches the frame. */
const PSNR_MARGIN_DB = 1;
/** The y axis spans at least this many dB: early noise should not fill the chart. */
const MIN_PSNR_SPAN_DB = 6;

export function chartScale(points: readonly ChartPoint[], threshold: number | null, area: ChartArea): ChartScale {
  const values = points.map((p) => p.psnr).filter(Number.isFinite);
  if (threshold !== null && Number.isFinite(threshold)) values.push(threshold);
  let low = values.length ? Math.floor(Math.min(...values) - PSNR_MARGIN_DB) : 10;
  let high = values.length ? Math.ceil(Math.max(...values) + PSNR_MARGIN_DB) : 10 + MIN_PSNR_SPAN_DB;
  if (high - low < MIN_PSNR_SPAN_DB) {
    const grow = MIN_PSNR_SPAN_DB - (high - low);
    low -= Math.floor(grow / 2);
    high += Math.ceil(grow / 2);
  }
  const lastMs = points.reduce((max, p) => Math.max(max, p.elapsedMs), 0);
  const minutes = Math.max(1, Math.ceil(lastMs / 60_000));
  const { width, height, padding } = area;
  const plotWidth = width - padding.left - padding.right;
  const plotHeight = height - padding.top - padding.bottom;
  return {
    minutes,
    psnrMin: low,
    psnrMax: high,
    x: (elapsedMs) => padding.left + (Math.min(Math.max(elapsedMs, 0), minutes * 60_000) / (minutes * 60_000)) * plotWidth,
    // Canvas y grows downwards: higher PSNR is drawn higher up.
    y: (psnr) => padding.top + (1 - (Math.min(Math.max(psnr, low), high) - low) / (high - low)) * plotHeight,
  };
}

const AREA_PADDING = { left: 34, right: 8, top: 8, bottom: 20 };

export function drawQualityChart(canvas: HTMLCanvasElement, points: readonly ChartPoint[], threshold: number | null): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  const area: ChartArea = { width: canvas.width, height: canvas.height, padding: AREA_PADDING };
  const scale = chartScale(points, threshold, area);
  const bottom = area.height - AREA_PADDING.bottom;
  context.clearRect(0, 0, area.width, area.height);
  context.font = '10px system-ui, sans-serif';
  context.fillStyle = '#9a9aa8';
  context.strokeStyle = '#3a3a48';
  context.lineWidth = 1;
  // Axes with their end labels: dB on the left, minutes along the bottom.
  context.beginPath();
  context.moveTo(AREA_PADDING.left, AREA_PADDING.top);
  context.lineTo(AREA_PADDING.left, bottom);
  context.lineTo(area.width - AREA_PADDING.right, bottom);
  context.stroke();
  context.textAlign = 'right';
  context.fillText(`${scale.psnrMax} dB`, AREA_PADDING.left - 3, AREA_PADDING.top + 8);
  context.fillText(`${scale.psnrMin}`, AREA_PADDING.left - 3, bottom);
  context.textAlign = 'center';
  for (let minute = 0; minute <= scale.minutes; minute += Math.max(1, Math.ceil(scale.minutes / 6))) {
    context.fillText(`${minute}m`, scale.x(minute * 60_000), area.height - 6);
  }
  if (threshold !== null && Number.isFinite(threshold)) {
    context.strokeStyle = '#7ddc8a';
    context.setLineDash([4, 3]);
    context.beginPath();
    context.moveTo(AREA_PADDING.left, scale.y(threshold));
    context.lineTo(area.width - AREA_PADDING.right, scale.y(threshold));
    context.stroke();
    context.setLineDash([]);
  }
  if (points.length === 0) return;
  context.strokeStyle = '#4b6bfb';
  context.fillStyle = '#4b6bfb';
  context.lineWidth = 2;
  context.beginPath();
  points.forEach((p, i) => {
    if (i === 0) context.moveTo(scale.x(p.elapsedMs), scale.y(p.psnr));
    else context.lineTo(scale.x(p.elapsedMs), scale.y(p.psnr));
  });
  context.stroke();
  const last = points[points.length - 1]!;
  context.beginPath();
  context.arc(scale.x(last.elapsedMs), scale.y(last.psnr), 3, 0, Math.PI * 2);
  context.fill();
}
