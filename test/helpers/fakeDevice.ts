/**
 * mediasoup-client in Node, as its own tests run it: the FakeHandler it ships
 * (no WebRTC: it makes RTP parameters and DTLS parameters from its fake
 * capabilities, and runs every signaling step a browser would) and fake tracks
 * (fake-mediastreamtrack, the package that FakeHandler itself uses for the
 * tracks it receives).
 */
import { FakeMediaStreamTrack } from 'fake-mediastreamtrack';
import * as fakeParameters from 'mediasoup-client/fakeParameters';
import { FakeHandler } from 'mediasoup-client/handlers/FakeHandler';
import type { types } from 'mediasoup-client';

/**
 * A fresh handler factory for `joinRoom({ handlerFactory })`: opus and VP8 as a
 * browser offers them, and the SCTP stream counts Chrome's handler reports
 * (1024 each; the fake's own 2048 is above what the server accepts).
 */
export function fakeHandlerFactory(options: { audioOnly?: boolean } = {}): types.HandlerFactory {
  return FakeHandler.createFactory({
    ...fakeParameters,
    // audioOnly: a device that decodes no video, so that the server refuses to send it any.
    generateNativeRtpCapabilities: () => {
      const capabilities = fakeParameters.generateNativeRtpCapabilities();
      if (options.audioOnly) capabilities.codecs = capabilities.codecs?.filter((codec) => codec.kind === 'audio');
      return capabilities;
    },
    generateNativeSctpCapabilities: () => ({ numStreams: { OS: 1024, MIS: 1024 } }),
  });
}

export function fakeTrack(kind: 'audio' | 'video'): MediaStreamTrack {
  return new FakeMediaStreamTrack({ kind }) as unknown as MediaStreamTrack;
}
