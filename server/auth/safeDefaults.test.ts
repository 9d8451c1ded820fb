/**
 * Dev mode (anyone may mint tokens) only when asked for or on loopback; a server
 * other machines can reach refuses to start without a secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isLoopbackHost, loadConfig } from '../config';

const SECRET = 'a-production-secret-0123456789';

test('the embedded defaults serve loopback in dev mode, with the admin listener on loopback too', () => {
  const config = loadConfig({});
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.devMode, true);
  assert.equal(config.tokenAudience, 'voxface');
  assert.equal(config.adminHost, '127.0.0.1');
  assert.equal(config.adminPort, 3001);
  assert.equal(config.metricsToken, undefined);
});

test('a host other machines can reach without VOXFACE_SECRET is refused with a TypeError naming the variables', () => {
  for (const host of ['0.0.0.0', '::', '192.168.1.20', 'voxface.example.com', '128.0.0.1']) {
    assert.throws(() => loadConfig({ VOXFACE_HOST: host }), {
      name: 'TypeError',
      message: `VOXFACE_SECRET is not set and VOXFACE_HOST=${host} is not a loopback address: set VOXFACE_SECRET `
        + '(at least 16 characters) to serve other machines, or VOXFACE_DEV=1 for dev mode (anyone may mint tokens)',
    }, host);
  }
});

test('loopback hosts without a secret run in dev mode', () => {
  for (const host of ['127.0.0.1', '127.3.2.1', '::1', '0:0:0:0:0:0:0:1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(host), true, host);
    assert.equal(loadConfig({ VOXFACE_HOST: host }).devMode, true, host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'localhost.example.com', '::ffff:10.0.0.1']) assert.equal(isLoopbackHost(host), false, host);
});

test('VOXFACE_DEV=1 asks for dev mode on any host, and keeps a given secret', () => {
  const open = loadConfig({ VOXFACE_HOST: '0.0.0.0', VOXFACE_DEV: '1' });
  assert.equal(open.devMode, true);
  assert.equal(open.tokenSecret.length, 32, 'a generated secret');
  const withSecret = loadConfig({ VOXFACE_HOST: '0.0.0.0', VOXFACE_DEV: '1', VOXFACE_SECRET: SECRET });
  assert.equal(withSecret.devMode, true);
  assert.equal(withSecret.tokenSecret.toString(), SECRET);
});

test('with VOXFACE_SECRET the server is not in dev mode, on any host', () => {
  for (const host of ['0.0.0.0', '127.0.0.1']) {
    const config = loadConfig({ VOXFACE_HOST: host, VOXFACE_SECRET: SECRET });
    assert.equal(config.devMode, false, host);
    assert.equal(config.tokenSecret.toString(), SECRET);
  }
});

test('the token audience, admin listener and metrics token are configurable, and checked', () => {
  const config = loadConfig({ VOXFACE_TOKEN_AUDIENCE: 'calls.example.com', VOXFACE_ADMIN_HOST: '10.0.0.5', VOXFACE_ADMIN_PORT: '9464', VOXFACE_METRICS_TOKEN: 'scrape-token-0123456789' });
  assert.equal(config.tokenAudience, 'calls.example.com');
  assert.equal(config.adminHost, '10.0.0.5');
  assert.equal(config.adminPort, 9464);
  assert.equal(config.metricsToken, 'scrape-token-0123456789');
  assert.equal(loadConfig({ VOXFACE_ADMIN_PORT: 'off' }).adminPort, undefined);
  assert.throws(() => loadConfig({ VOXFACE_METRICS_TOKEN: 'short' }), { name: 'TypeError', message: 'VOXFACE_METRICS_TOKEN must be at least 16 characters' });
  assert.throws(() => loadConfig({ VOXFACE_ADMIN_PORT: 'nine' }), { name: 'TypeError', message: "VOXFACE_ADMIN_PORT must be an integer in [0, 65535], got 'nine'" });
});

test('the server refuses to start on a public host without a secret: one clear line, exit status 1', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, VOXFACE_HOST: '0.0.0.0' };
  delete env.VOXFACE_SECRET;
  delete env.VOXFACE_DEV;
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 1, run.stderr);
  assert.equal(run.stderr.trim(), 'voxface: VOXFACE_SECRET is not set and VOXFACE_HOST=0.0.0.0 is not a loopback address: set VOXFACE_SECRET '
    + '(at least 16 characters) to serve other machines, or VOXFACE_DEV=1 for dev mode (anyone may mint tokens)');
  assert.equal(run.stdout, '', 'nothing started');
});
