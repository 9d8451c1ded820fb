import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './RateLimiter';

test('a burst is allowed and the next request is refused', () => {
  const limiter = new RateLimiter(10, 5, 0);
  for (let i = 0; i < 5; i++) assert.equal(limiter.tryTake(0), true);
  assert.equal(limiter.tryTake(0), false);
});

test('tokens refill at the configured rate', () => {
  const limiter = new RateLimiter(10, 5, 0);
  for (let i = 0; i < 5; i++) limiter.tryTake(0);
  assert.equal(limiter.tryTake(50), false, 'half a token after 50 ms');
  assert.equal(limiter.tryTake(100), true, 'a whole token after 100 ms');
  assert.equal(limiter.tryTake(100), false);
});
