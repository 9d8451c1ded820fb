/** `GET /api/dev/token?room=&user=` (dev mode only): tokens for one user, as the server sends them. */
export interface DevTokenReply {
  room: string;
  /** The browser's user (kept in an HttpOnly cookie), or the `user` asked for. */
  user: string;
  /** Joins `room` (signaling `join`). */
  callToken: string;
  /** The onboarding HTTP API and its `/onboarding` progress channel. */
  onboardingToken: string;
}
