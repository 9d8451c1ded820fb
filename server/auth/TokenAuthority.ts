/**
 * This server's tokens: its secret and audience, so that callers mint and verify
 * by purpose (a call in a room, onboarding) without handling either.
 */
import {
  mintAccessToken, verifyAccessToken, type CallClaims, type OnboardingClaims, type TokenCheck,
} from './AccessToken';

export interface CallTokenOptions {
  /** A fixed peer id; absent: each connection gets its own. */
  peer?: string;
  ttlSeconds?: number;
}

export class TokenAuthority {
  readonly #secret: Buffer;
  readonly audience: string;
  readonly defaultTtlSeconds: number;

  constructor(secret: Buffer, audience: string, defaultTtlSeconds: number) {
    this.#secret = secret;
    this.audience = audience;
    this.defaultTtlSeconds = defaultTtlSeconds;
  }

  mintCall(room: string, user: string, options: CallTokenOptions = {}): string {
    return mintAccessToken(this.#secret, {
      scope: 'call', aud: this.audience, sub: user, room, ...(options.peer === undefined ? {} : { peer: options.peer }),
      exp: this.#expiry(options.ttlSeconds),
    });
  }

  mintOnboarding(user: string, ttlSeconds?: number): string {
    return mintAccessToken(this.#secret, { scope: 'onboarding', aud: this.audience, sub: user, exp: this.#expiry(ttlSeconds) });
  }

  verifyCall(token: string, room: string): TokenCheck<CallClaims> {
    return verifyAccessToken(this.#secret, token, { audience: this.audience, scope: 'call', room });
  }

  verifyOnboarding(token: string): TokenCheck<OnboardingClaims> {
    return verifyAccessToken(this.#secret, token, { audience: this.audience, scope: 'onboarding' });
  }

  #expiry(ttlSeconds = this.defaultTtlSeconds): number {
    return Math.floor(Date.now() / 1000) + ttlSeconds;
  }
}
