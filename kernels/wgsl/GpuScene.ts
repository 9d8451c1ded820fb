// An avatar's renderRays/densityAt scene resident on the GPU: what does not change during
// a call is uploaded once (appearance and the heads' weights in one packed buffer, the
// scene constants in a uniform), what a frame changes is written in place (the folded
// biases and background with queue.writeBuffer, the occupancy bits, and the baked
// offsets, which encodeBakeMotion writes on the GPU). The layouts are scene.wgsl's.
import type { RenderRaysScene } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import type { GpuSceneDims, GpuSceneFrame } from './GpuSceneTypes';

/**
 * The widest head the WGSL ops take: each thread holds a head's hidden layer (up to 16
 * vec4s, scene.wgsl), and the frame uniform has room for 64 biases per head. The
 * avatar's default width is 64.
 */
export const maxGpuHidden = 64;
const maxHidden4 = maxGpuHidden / 4;
/** Floats of scene.wgsl's FrameParams: background vec4, densB0 and colorB0 as 16 vec4s each. */
const frameFloats = 4 + 8 * maxHidden4;
/** Bytes of scene.wgsl's SceneParams: eight rows of four 32-bit values. */
const paramsBytes = 128;

/** Offsets of the weight blocks in the packed tensors buffer, in vec4s. */
interface TensorLayout {
  readonly densW0: number;
  readonly densW1: number;
  readonly colorW0: number;
  readonly colorView: number;
  readonly colorW1: number;
  readonly vec4s: number;
}

const vec4s = (n: number) => Math.ceil(n / 4);

function sizeArg(op: string, name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${op}: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

function lengthArg(op: string, name: string, a: ArrayLike<number>, expected: number, what: string): void {
  if (a.length !== expected) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${expected} (${what})`);
}

/** The scene's sizes, checked as the CPU op checks them, plus the GPU heads' width limit. */
export function gpuSceneDims(s: RenderRaysScene, op = 'GpuScene'): GpuSceneDims {
  const G = sizeArg(op, 'gridRes', s.gridRes, 1, 1024), B = sizeArg(op, 'offsetRes', s.offsetRes, 1, 1024);
  const A = sizeArg(op, 'appearanceRes', s.appearanceRes, 1, 1024), C = sizeArg(op, 'channels', s.channels, 1, 64);
  const F = sizeArg(op, 'frequencies', s.frequencies, 0, 16);
  const hidden = (name: string, v: number) => {
    if (Number.isInteger(v) && v > maxGpuHidden) throw new RangeError(`${op}: ${name} must be at most ${maxGpuHidden} on the GPU (each thread holds a head's hidden layer), got ${v}`);
    return sizeArg(op, name, v, 1, maxGpuHidden);
  };
  const Hd = hidden('densityHidden', s.densityHidden), Hc = hidden('colorHidden', s.colorHidden);
  sizeArg(op, 'maxSamples', s.maxSamples, 0, 1 << 20);
  const per = 1 + 2 * F, encA = 3 * C * per, encV = 3 * per;
  lengthArg(op, 'occupancy', s.occupancy, G * G * G, 'G^3');
  lengthArg(op, 'offsets', s.offsets, B * B * B * 3, 'B^3*3');
  lengthArg(op, 'appearance', s.appearance, A * A * A * C, 'A^3*C');
  lengthArg(op, 'densW0', s.densW0, Hd * encA, 'Hd*encA');
  lengthArg(op, 'densB0', s.densB0, Hd, 'Hd');
  lengthArg(op, 'densW1', s.densW1, Hd, 'Hd');
  lengthArg(op, 'colorW0', s.colorW0, Hc * (encA + encV), 'Hc*(encA+encV)');
  lengthArg(op, 'colorB0', s.colorB0, Hc, 'Hc');
  lengthArg(op, 'colorW1', s.colorW1, 3 * Hc, '3*Hc');
  lengthArg(op, 'colorB1', s.colorB1, 3, '3');
  lengthArg(op, 'background', s.background, 3, '3');
  for (const box of [s.motionBox, s.appearanceBox]) {
    lengthArg(op, 'box min', box.min, 3, '3');
    lengthArg(op, 'box max', box.max, 3, '3');
    for (let a = 0; a < 3; a++) if (!(box.max[a]! > box.min[a]!)) throw new RangeError(`${op}: boxes: max must exceed min on every axis`);
  }
  if (!(s.step > 0)) throw new RangeError(`${op}: step must be positive, got ${s.step}`);
  if (!(s.stepDensity >= 0)) throw new RangeError(`${op}: stepDensity must be non-negative, got ${s.stepDensity}`);
  return { G, B, A, C, F, Hd, Hc };
}

/** W [H, ld] columns c0 .. c0+n, transposed into out at vec4 `block`: column k's units h at (block + k*H4)*4 + h. */
function putColumns(out: Float32Array, block: number, W: Float32Array, H: number, ld: number, c0: number, n: number): void {
  const H4 = vec4s(H);
  for (let k = 0; k < n; k++) {
    const at = (block + k * H4) * 4;
    for (let h = 0; h < H; h++) out[at + h] = W[h * ld + c0 + k]!;
  }
}

function tensorLayout(d: GpuSceneDims): TensorLayout {
  const per = 1 + 2 * d.F, encA = 3 * d.C * per, encV = 3 * per, Hd4 = vec4s(d.Hd), Hc4 = vec4s(d.Hc);
  const densW0 = d.A * d.A * d.A * vec4s(d.C), densW1 = densW0 + encA * Hd4, colorW0 = densW1 + Hd4;
  const colorView = colorW0 + encA * Hc4, colorW1 = colorView + encV * Hc4;
  return { densW0, densW1, colorW0, colorView, colorW1, vec4s: colorW1 + 3 * Hc4 };
}

/** The scene's shape as the WGSL constants scene.wgsl expects first. */
function shapeWgsl(d: GpuSceneDims): string {
  const lines = [['C', d.C], ['C4', vec4s(d.C)], ['F', d.F], ['Hd4', vec4s(d.Hd)], ['Hc4', vec4s(d.Hc)]].map(([k, v]) => `const ${k} = ${v}u;`);
  return `// The scene's shape (GpuScene.shapeWgsl).\n${lines.join('\n')}\n`;
}

/** Appearance (channels padded to vec4s), then the heads' weights transposed (scene.wgsl's layout). */
function packTensors(s: RenderRaysScene, d: GpuSceneDims, layout: TensorLayout): Float32Array {
  const { A, C, Hd, Hc } = d, per = 1 + 2 * d.F, encA = 3 * C * per, encV = 3 * per, C4 = vec4s(C), Hc4 = vec4s(Hc);
  const tensors = new Float32Array(4 * layout.vec4s);
  for (let i = 0, cells = A * A * A; i < cells; i++) tensors.set(s.appearance.subarray(i * C, (i + 1) * C), i * C4 * 4);
  putColumns(tensors, layout.densW0, s.densW0, Hd, encA, 0, encA);
  tensors.set(s.densW1, layout.densW1 * 4);
  putColumns(tensors, layout.colorW0, s.colorW0, Hc, encA + encV, 0, encA);
  putColumns(tensors, layout.colorView, s.colorW0, Hc, encA + encV, encA, encV);
  for (let c = 0; c < 3; c++) tensors.set(s.colorW1.subarray(c * Hc, (c + 1) * Hc), (layout.colorW1 + c * Hc4) * 4);
  return tensors;
}

/** scene.wgsl's SceneParams. */
function packParams(s: RenderRaysScene, d: GpuSceneDims, layout: TensorLayout): Float32Array {
  const raw = new ArrayBuffer(paramsBytes), f = new Float32Array(raw), u = new Uint32Array(raw);
  const app = s.appearanceBox, motion = s.motionBox;
  for (let a = 0; a < 3; a++) {
    f[a] = app.min[a]!;
    f[4 + a] = app.max[a]!;
    // As the CPU op: 2.f / (max - min) in float.
    f[8 + a] = 2 / Math.fround(app.max[a]! - app.min[a]!);
    f[12 + a] = motion.min[a]!;
    f[16 + a] = 2 / Math.fround(motion.max[a]! - motion.min[a]!);
    f[20 + a] = s.colorB1[a]!;
  }
  u[3] = d.G; u[7] = d.B; u[11] = d.A; u[15] = s.maxSamples;
  f[19] = s.densB1;
  f[23] = s.step;
  f.set([s.stepDensity, s.tEps, s.weightEps], 24);
  u.set([layout.densW0, layout.densW1, layout.colorW0, layout.colorView, layout.colorW1], 27);
  return f;
}

export class GpuScene {
  readonly ctx: GpuContext;
  readonly label: string;
  readonly dims: GpuSceneDims;
  /**
   * WGSL constants of the scene's shape that scene.wgsl follows (C, C4, F, Hd4, Hc4): the
   * ops' sources start with it, so scenes of one shape share their pipelines.
   */
  readonly shapeWgsl: string;
  /** scene.wgsl SceneParams (uniform, written once). */
  readonly params: GPUBuffer;
  /** scene.wgsl FrameParams (uniform): background and folded biases, per frame. */
  readonly frame: GPUBuffer;
  /** Appearance (channels padded to vec4s) then the heads' weights, transposed (see scene.wgsl). */
  readonly tensors: GPUBuffer;
  /** [G^3] occupancy bits (cell i: bit i % 32 of u32 word i / 32), per frame. */
  readonly occupancy: GPUBuffer;
  /** [B,B,B,3] baked offsets over the motion box, per frame (encodeBakeMotion writes it in place). */
  readonly offsets: GPUBuffer;
  /** Stand-ins bound where a caller asks for no transmittance or stats. */
  readonly unusedTransmittance: GPUBuffer;
  readonly unusedStats: GPUBuffer;
  private readonly frameData = new Float32Array(frameFloats);
  private readonly occupancyWords: Uint32Array<ArrayBuffer>;
  private closed = false;

  /** Uploads `scene` (its per-frame parts as the first frame's); throws RangeError on a malformed scene. */
  static create(ctx: GpuContext, scene: RenderRaysScene, label = 'scene'): GpuScene {
    if (ctx.isClosed) throw new Error('InvalidStateError: GpuContext is closed');
    return new GpuScene(ctx, scene, gpuSceneDims(scene), label);
  }

  private constructor(ctx: GpuContext, s: RenderRaysScene, dims: GpuSceneDims, label: string) {
    this.ctx = ctx;
    this.label = label;
    this.dims = dims;
    const layout = tensorLayout(dims);
    const maxBytes = ctx.device.limits.maxStorageBufferBindingSize;
    if (16 * layout.vec4s > maxBytes) throw new RangeError(`GpuScene: appearance and weights take ${16 * layout.vec4s} bytes, more than this device binds (${maxBytes})`);
    this.shapeWgsl = shapeWgsl(dims);
    const { G, B } = dims;
    this.occupancyWords = new Uint32Array(Math.ceil((G * G * G) / 32));
    const name = (part: string) => `${label} ${part}`;
    this.params = ctx.uniform(name('params'), packParams(s, dims, layout));
    this.frame = ctx.uniform(name('frame'), this.frameData);
    this.tensors = ctx.upload(name('tensors (appearance, head weights)'), packTensors(s, dims, layout));
    this.occupancy = ctx.storage(name('occupancy bits'), 4 * this.occupancyWords.length);
    this.offsets = ctx.storage(name('offsets'), 4 * B * B * B * 3);
    this.unusedTransmittance = ctx.storage(name('unused transmittance'), 4);
    this.unusedStats = ctx.storage(name('unused stats'), 12);
    this.writeFrame(s);
    this.writeOccupancy(s.occupancy);
    this.writeOffsets(s.offsets);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The frame's folded biases and background (queue.writeBuffer: seen by work submitted after). */
  writeFrame(frame: GpuSceneFrame): void {
    this.assertOpen();
    const { Hd, Hc } = this.dims;
    lengthArg('GpuScene.writeFrame', 'densB0', frame.densB0, Hd, 'Hd');
    lengthArg('GpuScene.writeFrame', 'colorB0', frame.colorB0, Hc, 'Hc');
    lengthArg('GpuScene.writeFrame', 'background', frame.background, 3, '3');
    const d = this.frameData;
    d.fill(0);
    d.set(frame.background, 0);
    d.set(frame.densB0, 4);
    d.set(frame.colorB0, 4 + 4 * maxHidden4);
    this.ctx.device.queue.writeBuffer(this.frame, 0, d);
  }

  /** The frame's occupancy [G^3] (non-zero: occupied), packed to bits. */
  writeOccupancy(occupancy: Uint8Array): void {
    this.assertOpen();
    const G = this.dims.G, n = G * G * G, words = this.occupancyWords;
    lengthArg('GpuScene.writeOccupancy', 'occupancy', occupancy, n, 'G^3');
    words.fill(0);
    for (let i = 0; i < n; i++) if (occupancy[i]) words[i >>> 5]! |= 1 << (i & 31);
    this.ctx.device.queue.writeBuffer(this.occupancy, 0, words);
  }

  /** The frame's baked offsets [B^3*3] from the CPU (a GPU bake writes `offsets` directly instead). */
  writeOffsets(offsets: Float32Array): void {
    this.assertOpen();
    const B = this.dims.B;
    lengthArg('GpuScene.writeOffsets', 'offsets', offsets, B * B * B * 3, 'B^3*3');
    this.ctx.device.queue.writeBuffer(this.offsets, 0, offsets.buffer, offsets.byteOffset, offsets.byteLength);
  }

  assertOpen(): void {
    if (this.closed) throw new Error(`InvalidStateError: GpuScene ${this.label} is closed`);
  }

  /** Destroys the scene's buffers; idempotent. Work already submitted completes first (WebGPU defers the destruction). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const b of [this.params, this.frame, this.tensors, this.occupancy, this.offsets, this.unusedTransmittance, this.unusedStats]) b.destroy();
  }
}
