// Training curves as a PNG for people (pngjs only, no plotting library): two panels over
// elapsed seconds, training loss (log10 scale) and PSNR (training batches and held-out),
// with axis ranges written in a 3x5 pixel font. Written atomically.
import { writeFileAtomic } from '../atomicFile';
import { PNG } from 'pngjs';

export interface CurvePoint {
  readonly elapsedMs: number;
  readonly loss: number;
  /** Training-batch PSNR, dB. */
  readonly psnr: number;
  /** Held-out PSNR, dB. */
  readonly validationPsnr?: number;
}

type Rgb = readonly [number, number, number];

// 3x5 glyphs, rows top to bottom, '#' = ink.
const FONT: Record<string, string> = {
  0: '###,# #,# #,# #,###', 1: ' # ,## , # , # ,###', 2: '###,  #,###,#  ,###', 3: '###,  #,###,  #,###',
  4: '# #,# #,###,  #,  #', 5: '###,#  ,###,  #,###', 6: '###,#  ,###,# #,###', 7: '###,  #,  #,  #,  #',
  8: '###,# #,###,# #,###', 9: '###,# #,###,  #,###', '.': '   ,   ,   ,   , # ', '-': '   ,   ,###,   ,   ',
  ' ': '   ,   ,   ,   ,   ', e: '   ,###,## ,#  ,###', L: '#  ,#  ,#  ,#  ,###', O: '###,# #,# #,# #,###',
  S: '###,#  ,###,  #,###', P: '###,# #,###,#  ,#  ', N: '# #,###,###,# #,# #', R: '## ,# #,## ,# #,# #',
  D: '## ,# #,# #,# #,## ', B: '## ,# #,## ,# #,## ', T: '###, # , # , # , # ', V: '# #,# #,# #,# #, # ',
  A: '###,# #,###,# #,# #', I: '###, # , # , # ,###', G: '###,#  ,# #,# #,###',
};

class Canvas {
  readonly png: PNG;
  constructor(readonly w: number, readonly h: number) {
    this.png = new PNG({ width: w, height: h });
    this.png.data.fill(255);
  }
  dot(x: number, y: number, c: Rgb): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = 4 * (y * this.w + x);
    this.png.data[i] = c[0]; this.png.data[i + 1] = c[1]; this.png.data[i + 2] = c[2]; this.png.data[i + 3] = 255;
  }
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) this.dot(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n, c);
  }
  text(x: number, y: number, s: string, c: Rgb): void {
    [...s].forEach((ch, k) => {
      const rows = (FONT[ch] ?? FONT[ch.toUpperCase()] ?? FONT[' ']!).split(',');
      rows.forEach((row, r) => [...row].forEach((p, col) => {
        if (p === '#') for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) this.dot(x + 8 * k + 2 * col + a, y + 2 * r + b, c);
      }));
    });
  }
}

const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));

/** One panel: series of (x, y) drawn in [left, top, w, h] with min/max labels. */
function panel(cv: Canvas, box: [number, number, number, number], title: string, xMax: number, series: { pts: [number, number][]; color: Rgb }[], ylabel: (v: number) => string): void {
  const [L, T, W, H] = box, ys = series.flatMap((s) => s.pts.map((p) => p[1])).filter(Number.isFinite);
  let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const grey: Rgb = [200, 200, 200], ink: Rgb = [40, 40, 40];
  for (let g = 0; g <= 4; g++) cv.line(L, T + (H * g) / 4, L + W, T + (H * g) / 4, grey);
  cv.line(L, T, L, T + H, ink); cv.line(L, T + H, L + W, T + H, ink);
  cv.text(L, T - 16, title, ink);
  cv.text(4, T - 2, ylabel(hi), ink);
  cv.text(4, T + H - 8, ylabel(lo), ink);
  cv.text(L + W - 8 * (fmt(xMax).length + 2), T + H + 6, `${fmt(xMax)} s`, ink);
  cv.text(L, T + H + 6, '0', ink);
  for (const s of series) {
    const px = s.pts.filter((p) => Number.isFinite(p[1])).map(([x, y]) => [L + (W * x) / Math.max(xMax, 1e-9), T + H - (H * (y - lo)) / (hi - lo)] as const);
    for (let i = 1; i < px.length; i++) cv.line(px[i - 1]![0], px[i - 1]![1], px[i]![0], px[i]![1], s.color);
    if (px.length === 1) for (let a = -1; a <= 1; a++) cv.line(px[0]![0] - 1, px[0]![1] + a, px[0]![0] + 1, px[0]![1] + a, s.color);
  }
}

/** Draws loss (log10) and PSNR (train blue, held-out red) against seconds; returns the PNG bytes. */
export function plotTrainingCurves(points: readonly CurvePoint[], width = 640, height = 480): Buffer {
  const cv = new Canvas(width, height), xMax = Math.max(1e-3, ...points.map((p) => p.elapsedMs / 1000));
  const L = 80, W = width - L - 20, H = (height - 110) / 2;
  const sec = (p: CurvePoint) => p.elapsedMs / 1000;
  panel(cv, [L, 30, W, H], 'LOSS LOG10', xMax, [{ pts: points.map((p) => [sec(p), Math.log10(Math.max(p.loss, 1e-12))]), color: [30, 90, 200] }], (v) => fmt(v));
  panel(cv, [L, 30 + H + 60, W, H], 'PSNR DB TRAIN VAL', xMax, [
    { pts: points.map((p) => [sec(p), p.psnr]), color: [30, 90, 200] },
    { pts: points.filter((p) => p.validationPsnr !== undefined).map((p) => [sec(p), p.validationPsnr!]), color: [210, 40, 40] },
  ], (v) => fmt(v));
  return PNG.sync.write(cv.png);
}

export function writeTrainingCurves(path: string, points: readonly CurvePoint[]): void {
  writeFileAtomic(path, plotTrainingCurves(points));
}
