import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scheduleFrameRates, type SessionLoad, trackingRate } from './frameRateSchedule';

const LIMITS = { fps: 25, minFps: 5, cpuBudget: 1.2, gpuBudget: 0.8 };
const cpu = (renderMsP50: number, renderedFps = 25): SessionLoad => ({ backend: 'cpu', renderMsP50, renderedFps });
const gpu = (renderMsP50: number, renderedFps = 25): SessionLoad => ({ backend: 'gpu', renderMsP50, renderedFps });

test('a hundred GPU sessions sharing a 5 ms tick keep their full rate and do not count against the CPU budget', () => {
  const sessions = [...Array.from({ length: 100 }, () => gpu(5)), cpu(20)];
  const rates = scheduleFrameRates(sessions, { cpu: 25, gpu: 25 }, LIMITS);
  assert.equal(rates.gpu.targetFps, 25);
  assert.equal(rates.gpu.load, 0.125);
  assert.equal(rates.cpu.load, 0.5);
  assert.equal(rates.cpu.targetFps, 25);
});

test('an overloaded CPU lowers only the CPU sessions, in proportion to the overload', () => {
  // Three render processes each busy 40 ms of every 40 ms frame: 3 busy against a budget of 1.2.
  const rates = scheduleFrameRates([cpu(40), cpu(40), cpu(40), gpu(5)], { cpu: 25, gpu: 25 }, LIMITS);
  assert.equal(rates.cpu.load, 3);
  assert.equal(rates.cpu.targetFps, 10);
  assert.equal(rates.gpu.targetFps, 25);
});

test('GPU ticks that no longer fit between frames lower the GPU sessions, never below the floor', () => {
  const rates = scheduleFrameRates([gpu(36), gpu(36)], { cpu: 25, gpu: 25 }, LIMITS);
  assert.equal(rates.gpu.load, 0.9);
  assert.equal(rates.gpu.targetFps, 22);
  const floored = scheduleFrameRates([gpu(2000, 1)], { cpu: 25, gpu: 6 }, LIMITS);
  assert.equal(floored.gpu.targetFps, 5);
});

test('a backend well below its budget recovers two frames per second at a time up to the configured rate, and one with no sessions keeps its rate', () => {
  const rates = scheduleFrameRates([cpu(5, 10)], { cpu: 10, gpu: 12 }, LIMITS);
  assert.equal(rates.cpu.targetFps, 12);
  assert.equal(rates.gpu.targetFps, 12);
  assert.equal(scheduleFrameRates([cpu(5, 24)], { cpu: 24, gpu: 25 }, LIMITS).cpu.targetFps, 25);
});

/** A session driven for 10 s whose renderer is busy all the time unless `renderBusyShare` says otherwise. */
const settled = (renderedFps: number, targetFps = 25, renderBusyShare = 1) => ({ targetFps, renderedFps, renderBusyShare, drivenMs: 10_000 });

test('a busy render that keeps up is told its target; one that falls short, what it renders and two more', () => {
  assert.equal(trackingRate(settled(25), 25), 25);
  assert.equal(trackingRate(settled(24), 25), 25);
  assert.equal(trackingRate(settled(16), 25), 18);
  assert.equal(trackingRate(settled(16), undefined), 18);
  assert.equal(trackingRate(settled(0), 18), 2, 'a driven session that renders nothing asks for 2 faces a second');
});

test('a change under 2 fps keeps the rate told, a return to the target does not wait', () => {
  assert.equal(trackingRate(settled(17), 18), 18);
  assert.equal(trackingRate(settled(15), 18), 18);
  assert.equal(trackingRate(settled(14), 18), 16);
  assert.equal(trackingRate(settled(22), 23), 23);
  assert.equal(trackingRate(settled(23), 24), 25);
});

test('until faces have driven it for 3 s (a start, a stall), a session keeps the rate told, within its target', () => {
  assert.equal(trackingRate({ targetFps: 25, renderedFps: 3, renderBusyShare: 1, drivenMs: 1000 }, undefined), 25);
  assert.equal(trackingRate({ targetFps: 25, renderedFps: 3, renderBusyShare: 1, drivenMs: 2999 }, 25), 25);
  assert.equal(trackingRate({ targetFps: 25, renderedFps: 0, renderBusyShare: 0, drivenMs: 0 }, 18), 18, 'stalled');
  assert.equal(trackingRate({ targetFps: 10, renderedFps: 0, renderBusyShare: 0, drivenMs: 0 }, 18), 10, 'the scheduler lowered the target');
  assert.equal(trackingRate(settled(9, 10), 18), 10, 'a target under the told rate is told at once');
});

test('a renderer that waits for faces asks for two more a second, up to its target, until it is busy', () => {
  // It renders each face once, so what it renders is what it is sent: only its idle time says it could draw more.
  assert.equal(trackingRate(settled(13, 25, 0.55), 15), 17);
  assert.equal(trackingRate(settled(15, 25, 0.7), 17), 19);
  assert.equal(trackingRate(settled(22, 25, 0.6), 24), 25);
  assert.equal(trackingRate(settled(5, 10, 0.1), 10), 10, 'never above the target');
  assert.equal(trackingRate(settled(16, 25, 0.79), undefined), 25, 'nothing told yet: the target');
  // Busy: what it renders decides again, down as well as up.
  assert.equal(trackingRate(settled(15, 25, 0.8), 21), 17);
  assert.equal(trackingRate(settled(19, 25, 0.95), 21), 21);
});
