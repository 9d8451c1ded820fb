/**
 * Debian's Chromium driven by playwright-core, with fake media devices. A video
 * file (y4m) may stand in for the camera; by default Chromium's own test pattern does.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.VOXFACE_CHROMIUM ?? '/usr/bin/chromium';

export interface LaunchOptions {
  /** A .y4m file played as the camera. */
  fakeVideoFile?: string;
}

export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: run 'bash scripts/setup.sh --tests'`);
  const args = [
    '--no-sandbox',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    // The machine's network is closed: keep Chromium from calling home.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ];
  if (options.fakeVideoFile) args.push(`--use-file-for-fake-video-capture=${options.fakeVideoFile}`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
}

/** Opens a page in its own context (its own cookies, its own peer) and collects console errors. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // MediaPipe's wasm prints its informational logs (e.g. "INFO: Created TensorFlow
    // Lite XNNPACK delegate for CPU.") on stderr, which Chromium reports as errors.
    if (message.type() === 'error' && !/^INFO: /.test(message.text())) errors.push(message.text());
  });
  await page.goto(url);
  return { page, errors };
}
