/**
 * Puts server-made video into a mediasoup room as an ordinary producer: RGBA
 * frames in, an ffmpeg encoder (VP8 by default, H.264 as an option) sending RTP to
 * a PlainTransport (comedia, RTCP muxed), and a video producer whose appData says
 * whose video it is, so receivers consume it like any camera.
 *
 * Frames that arrive while the encoder's stdin is still full are dropped (the
 * newest frame wins; latency never builds up). An encoder that dies is restarted
 * with a new transport and producer, and `encoderRestarted` says so.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import { TypedEmitter } from '../../shared/TypedEmitter';
import { Logger } from '../Logger';
import { encoderArgs, producerCodec, type AvatarCodec } from './encoderArgs';

const logger = new Logger('VideoInjector');

export interface VideoInjectorOptions {
  router: types.Router;
  listenIp?: string;
  width: number;
  height: number;
  fps: number;
  codec?: AvatarCodec;
  bitrateKbps?: number;
  keyframeIntervalSeconds?: number;
  /** Producer appData (for example { peerId, source: 'avatar' }). */
  appData: Record<string, unknown>;
  ffmpegPath?: string;
  /** Restarts allowed before giving up (a crash loop must not spin forever). */
  maxRestarts?: number;
}

export interface VideoInjectorEvents {
  [key: string]: unknown;
  /** A new producer replaced the previous one after an encoder restart. */
  producerReplaced: { previous: types.Producer; producer: types.Producer };
  encoderExited: { code: number | null; signal: string | null; restarting: boolean; stderr: string };
  closed: { reason: 'closed' | 'encoder-failed' | 'router-closed' };
}

export interface VideoInjectorStats {
  framesIn: number;
  framesDropped: number;
  encoderRestarts: number;
}

const PAYLOAD_TYPE = { VP8: 101, H264: 102 } as const;

/** ffmpeg processes alive, all injectors together (the server caps them). */
let runningEncoders = 0;

export class VideoInjector extends TypedEmitter<VideoInjectorEvents> {
  /** Encoder (ffmpeg) processes running now, every injector's. */
  static get runningEncoders(): number {
    return runningEncoders;
  }

  readonly width: number;
  readonly height: number;
  readonly #options: Required<Omit<VideoInjectorOptions, 'router'>> & { router: types.Router };
  #transport!: types.PlainTransport;
  #producer!: types.Producer;
  #encoder?: ChildProcessWithoutNullStreams;
  #writable = false;
  /**
   * The newest frame pushed while ffmpeg was still reading the one before (a 640x360 frame
   * is 900 KB, more than the pipe holds): written when the pipe drains. Dropping it instead
   * lost the rendered frame that came just after a repeat, until the next repeat sent it.
   */
  #pending?: Buffer;
  #closed = false;
  #stats: VideoInjectorStats = { framesIn: 0, framesDropped: 0, encoderRestarts: 0 };

  private constructor(options: VideoInjectorOptions) {
    super();
    if (!Number.isInteger(options.width) || !Number.isInteger(options.height) || options.width < 16 || options.height < 16
      || options.width % 2 || options.height % 2 || options.width > 1920 || options.height > 1920) {
      throw new RangeError('width and height must be even integers in [16, 1920]');
    }
    if (!(options.fps >= 1 && options.fps <= 60)) throw new RangeError('fps must be in [1, 60]');
    this.width = options.width;
    this.height = options.height;
    // An option given as undefined (a caller passing its own optional setting through) keeps the default.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as VideoInjectorOptions;
    this.#options = {
      listenIp: '127.0.0.1', codec: 'VP8', bitrateKbps: 600, keyframeIntervalSeconds: 2, ffmpegPath: 'ffmpeg', maxRestarts: 5, ...given,
    };
  }

  static async create(options: VideoInjectorOptions): Promise<VideoInjector> {
    const injector = new VideoInjector(options);
    await injector.#start();
    options.router.observer.once('close', () => injector.#close('router-closed'));
    return injector;
  }

  get producer(): types.Producer {
    return this.#producer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The running encoder's process id (diagnostics and fault-injection tests). */
  get encoderPid(): number | undefined {
    return this.#encoder?.pid;
  }

  stats(): VideoInjectorStats {
    return { ...this.#stats };
  }

  /** Hands one RGBA frame (width*height*4 bytes) to the encoder; false when it was dropped. */
  pushFrame(rgba: Uint8Array): boolean {
    if (rgba.length !== this.width * this.height * 4) {
      throw new RangeError(`frame must be ${this.width * this.height * 4} bytes, got ${rgba.length}`);
    }
    if (this.#closed) return false;
    this.#stats.framesIn += 1;
    const encoder = this.#encoder;
    if (!encoder) {
      this.#stats.framesDropped += 1;
      return false;
    }
    // ffmpeg may read the buffer after we return: give it its own copy.
    const frame = Buffer.from(rgba);
    if (!this.#writable) {
      // The newest waits; one that waited and was never written is dropped.
      if (this.#pending) this.#stats.framesDropped += 1;
      this.#pending = frame;
      return true;
    }
    this.#writable = encoder.stdin.write(frame);
    return true;
  }

  close(): void {
    this.#close('closed');
  }

  async #start(): Promise<void> {
    const o = this.#options;
    const transport = await o.router.createPlainTransport({
      listenIp: { ip: o.listenIp }, rtcpMux: true, comedia: true, appData: { purpose: 'avatar-video' },
    });
    const payloadType = PAYLOAD_TYPE[o.codec];
    const ssrc = randomInt(1, 2 ** 31 - 1);
    let producer: types.Producer;
    try {
      producer = await transport.produce({
        kind: 'video',
        rtpParameters: { codecs: [producerCodec({ codec: o.codec, payloadType })], encodings: [{ ssrc }] },
        appData: o.appData,
      });
    } catch (error) {
      transport.close();
      throw error;
    }
    const previous = this.#producer;
    const previousTransport = this.#transport;
    this.#transport = transport;
    this.#producer = producer;
    this.#spawnEncoder(payloadType, ssrc, transport.tuple.localPort);
    if (previous) {
      previousTransport.close();
      this.emit('producerReplaced', { previous, producer });
    }
  }

  #spawnEncoder(payloadType: number, ssrc: number, rtpPort: number): void {
    const o = this.#options;
    const args = encoderArgs({
      width: this.width, height: this.height, fps: o.fps, codec: o.codec, bitrateKbps: o.bitrateKbps,
      keyframeIntervalSeconds: o.keyframeIntervalSeconds, payloadType, ssrc, rtpPort,
    });
    const encoder = spawn(o.ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // Counted from spawn to exit ('close' follows 'exit' even for a process that never ran).
    runningEncoders += 1;
    encoder.once('close', () => { runningEncoders -= 1; });
    this.#encoder = encoder;
    this.#writable = true;
    let stderr = '';
    encoder.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
    encoder.stdout.resume();
    encoder.stdin.on('drain', () => {
      if (this.#encoder !== encoder) return;
      const pending = this.#pending;
      this.#pending = undefined;
      this.#writable = pending ? encoder.stdin.write(pending) : true;
    });
    encoder.stdin.on('error', () => { /* EPIPE when the encoder dies: the exit handler deals with it */ });
    encoder.on('error', (error) => { stderr += error.message; });
    encoder.on('close', (code, signal) => {
      if (this.#encoder !== encoder) return;
      this.#encoder = undefined;
      this.#writable = false;
      if (this.#pending) this.#stats.framesDropped += 1;
      this.#pending = undefined;
      if (this.#closed) return;
      const restarting = this.#stats.encoderRestarts < o.maxRestarts;
      logger.warn(`encoder exited (code ${code}, signal ${signal})${restarting ? ': restarting' : ': giving up'} ${stderr.trim()}`);
      this.emit('encoderExited', { code, signal, restarting, stderr });
      if (!restarting) {
        this.#close('encoder-failed');
        return;
      }
      this.#stats.encoderRestarts += 1;
      setTimeout(() => {
        if (!this.#closed) this.#start().catch((error: unknown) => {
          logger.error(`encoder restart failed: ${String(error)}`);
          this.#close('encoder-failed');
        });
      }, 200);
    });
  }

  #close(reason: 'closed' | 'encoder-failed' | 'router-closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    const encoder = this.#encoder;
    this.#encoder = undefined;
    if (encoder) {
      encoder.stdin.end();
      encoder.kill('SIGKILL');
    }
    if (!this.#transport.closed) this.#transport.close();
    this.emit('closed', { reason });
    this.removeAllListeners();
  }
}
