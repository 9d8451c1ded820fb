import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartScale, type ChartArea } from './qualityChart';

const area: ChartArea = { width: 360, height: 150, padding: { left: 30, right: 10, top: 10, bottom: 20 } };
const plot = { left: 30, right: 350, top: 10, bottom: 130 };

test('points and the threshold land inside the plot area, higher PSNR drawn higher', () => {
  const points = [{ elapsedMs: 0, psnr: 14.2 }, { elapsedMs: 90_000, psnr: 21.5 }, { elapsedMs: 150_000, psnr: 25.8 }];
  const scale = chartScale(points, 22, area);
  for (const value of [...points.map((p) => p.psnr), 22]) {
    const y = scale.y(value);
    assert.ok(y > plot.top && y < plot.bottom, `${value} dB at y ${y} is inside, with headroom`);
  }
  assert.ok(scale.y(25.8) < scale.y(22) && scale.y(22) < scale.y(14.2));
  assert.equal(scale.psnrMin, 13);
  assert.equal(scale.psnrMax, 27);
  assert.equal(scale.x(0), plot.left);
  assert.equal(scale.x(scale.minutes * 60_000), plot.right);
  assert.equal(scale.y(scale.psnrMax), plot.top);
  assert.equal(scale.y(scale.psnrMin), plot.bottom);
});

test('the time axis spans whole minutes, at least one', () => {
  assert.equal(chartScale([], null, area).minutes, 1);
  assert.equal(chartScale([{ elapsedMs: 20_000, psnr: 18 }], null, area).minutes, 1);
  assert.equal(chartScale([{ elapsedMs: 60_001, psnr: 18 }], null, area).minutes, 2);
  const scale = chartScale([{ elapsedMs: 270_000, psnr: 18 }], null, area);
  assert.equal(scale.minutes, 5);
  assert.equal(scale.x(150_000), (plot.left + plot.right) / 2);
});

test('a flat or empty series still gets a range of at least 6 dB and finite positions', () => {
  const flat = chartScale([{ elapsedMs: 0, psnr: 20 }, { elapsedMs: 30_000, psnr: 20 }], null, area);
  assert.ok(flat.psnrMax - flat.psnrMin >= 6);
  assert.ok(flat.psnrMin < 20 && flat.psnrMax > 20);
  const empty = chartScale([], 24, area);
  assert.ok(empty.psnrMax - empty.psnrMin >= 6);
  assert.ok(Number.isFinite(empty.y(24)) && empty.y(24) > plot.top && empty.y(24) < plot.bottom);
});

test('values beyond the axes are clamped to the plot edges', () => {
  const scale = chartScale([{ elapsedMs: 60_000, psnr: 20 }], null, area);
  assert.equal(scale.y(100), plot.top);
  assert.equal(scale.y(-5), plot.bottom);
  assert.equal(scale.x(10 * 60_000), plot.right);
  assert.equal(scale.x(-1000), plot.left);
});
