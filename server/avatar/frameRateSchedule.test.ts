import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scheduleFrameRates, type SessionLoad } from './frameRateSchedule';

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
