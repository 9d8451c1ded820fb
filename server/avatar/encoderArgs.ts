/**
 * ffmpeg command lines for the avatar video: raw RGBA frames on stdin, encoded for
 * real time (no look-ahead, no B-frames, one thread), sent as RTP to a mediasoup
 * PlainTransport. ffmpeg ignores RTCP, so PLIs are not answered: a bounded
 * keyframe interval lets a new receiver start within that interval. A new encoder
 * (a session's start, an encoder restart, an avatar moved off a lost render node) has
 * receivers that start consuming it within its first seconds, after its first
 * keyframe went by: it sends a keyframe every STARTUP_KEYFRAME_SECONDS for its first
 * STARTUP_SECONDS. The interval counts frames, and a loaded machine sends fewer than
 * the rate: at 8 fps (measured on a 2-core machine with two browsers) a 2 s interval
 * of 50 frames was 6 s, and a receiver that missed the first keyframe of a render
 * node's replacement waited 4.1 s for the next.
 */
export type AvatarCodec = 'VP8' | 'H264';

export interface EncoderSettings {
  width: number;
  height: number;
  fps: number;
  codec: AvatarCodec;
  bitrateKbps: number;
  keyframeIntervalSeconds: number;
  payloadType: number;
  ssrc: number;
  rtpPort: number;
}

/** What mediasoup's producer must declare for the stream ffmpeg sends. */
export function producerCodec(settings: Pick<EncoderSettings, 'codec' | 'payloadType'>) {
  return settings.codec === 'VP8'
    ? { mimeType: 'video/VP8', payloadType: settings.payloadType, clockRate: 90000, parameters: {}, rtcpFeedback: [] }
    : {
        mimeType: 'video/H264',
        payloadType: settings.payloadType,
        clockRate: 90000,
        // Constrained baseline level 3.1, as libx264 emits with -profile:v baseline.
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
        rtcpFeedback: [],
      };
}

/** Keyframes every this many seconds (of the stream's own time) during an encoder's first STARTUP_SECONDS. */
export const STARTUP_KEYFRAME_SECONDS = 0.5;
export const STARTUP_SECONDS = 4;

/** The resolution of the frames' times (their arrival), per second. */
export const INPUT_CLOCK_HZ = 1000;

export function encoderArgs(s: EncoderSettings): string[] {
  const gop = Math.max(1, Math.round(s.fps * s.keyframeIntervalSeconds));
  const codecArgs = s.codec === 'VP8'
    ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0', '-auto-alt-ref', '0',
      '-error-resilient', '1', '-b:v', `${s.bitrateKbps}k`, '-maxrate', `${s.bitrateKbps}k`, '-bufsize', `${Math.round(s.bitrateKbps / 2)}k`]
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1',
      // x264 budgets bits per frame by the frame rate it is told, which is otherwise the input's
      // millisecond clock below (18 kbps of 600 at 1000 "fps"); libvpx budgets by the frames' times.
      '-x264-params', `fps=${s.fps}`,
      '-b:v', `${s.bitrateKbps}k`, '-maxrate', `${s.bitrateKbps}k`, '-bufsize', `${Math.round(s.bitrateKbps / 2)}k`];
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    // Frames are stamped with their arrival time, so a dropped frame leaves a gap rather than speeding up time.
    // No '-fflags nobuffer': with it ffmpeg 5.1 dropped the first frame (read while it probed
    // the input, then not kept), so a new encoder's first frame never went out.
    // The stamps are in milliseconds (a 1000 "fps" input clock): rendered frames come when they
    // are done, off the output's tick grid, and at its 1/25 s resolution two frames within one
    // tick got one time and ffmpeg dropped one (19 of 100 frames pushed 60 and 20 ms apart).
    // '-fpsprobesize 0': no frame rate guessed from the first frames' times (the rate is
    // given): guessing it at this clock held frames back and lost some.
    '-fpsprobesize', '0',
    '-f', 'rawvideo', '-pix_fmt', 'rgba', '-video_size', `${s.width}x${s.height}`, '-framerate', String(INPUT_CLOCK_HZ),
    '-use_wallclock_as_timestamps', '1', '-i', 'pipe:0',
    '-an', ...codecArgs, '-g', String(gop), '-keyint_min', String(gop),
    '-force_key_frames', `expr:lt(t,${STARTUP_SECONDS})*gte(t,n_forced*${STARTUP_KEYFRAME_SECONDS})`,
    '-threads', '1', '-pix_fmt', 'yuv420p',
    '-fps_mode', 'passthrough', '-flush_packets', '1',
    '-f', 'rtp', '-payload_type', String(s.payloadType), '-ssrc', String(s.ssrc),
    `rtp://127.0.0.1:${s.rtpPort}?rtcp_port=${s.rtpPort}&pkt_size=1200`,
  ];
}
