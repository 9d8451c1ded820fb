/**
 * The router's codecs: Opus for audio; VP8 first for video (every browser decodes
 * it, and our avatar encoder produces it); H.264 constrained baseline 42e01f as the
 * option that hardware decoders like (packetization-mode 1 is what browsers offer).
 */
import type { types } from 'mediasoup';

export const MEDIA_CODECS: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 800 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];
