/**
 * MediaPipe's tasks post usage logs (task type, timings) to odml.pa.googleapis.com
 * once a minute from every page and worker that runs one. Voxface pages talk only
 * to their own server, so those requests are answered here, locally, with a 204:
 * MediaPipe's logger treats any status but 200 as a failed send and stops for good
 * (one call per task, no network traffic, no console error).
 */
export const MEDIAPIPE_TELEMETRY_HOST = 'odml.pa.googleapis.com';

let installed = false;

/** Whether `input` (a fetch argument) goes to MediaPipe's telemetry endpoint. */
export function isMediaPipeTelemetry(input: RequestInfo | URL): boolean {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(url, 'http://localhost/').hostname === MEDIAPIPE_TELEMETRY_HOST;
  } catch {
    return false;
  }
}

/** Idempotent; call before creating any MediaPipe task in this realm (window or worker). */
export function blockMediaPipeTelemetry(): void {
  if (installed || typeof globalThis.fetch !== 'function') return;
  installed = true;
  const realFetch = globalThis.fetch.bind(globalThis);
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
    isMediaPipeTelemetry(input) ? Promise.resolve(new Response(null, { status: 204 })) : realFetch(input, init);
}
