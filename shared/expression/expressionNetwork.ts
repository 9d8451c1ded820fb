/**
 * The encoder network's forward in plain TypeScript (float32 storage, float64 sums):
 * standardised input -> dense relu -> dense -> tanh. The browser's reference for its
 * ONNX session, and the tests' for the trainer's kernel forward and for onnxruntime.
 */
import type { ExpressionNetworkWeights } from './ExpressionTypes';

/** [n, codeSize] codes for [n, inputSize] standardised inputs. */
export function expressionCodes(net: ExpressionNetworkWeights, inputs: Float32Array, n: number): Float32Array {
  const { inputSize: D, hidden: H, codeSize: K } = net;
  if (inputs.length !== n * D) throw new RangeError(`expression network: ${inputs.length} input values, expected ${n} x ${D}`);
  const h = new Float32Array(H), out = new Float32Array(n * K);
  for (let r = 0; r < n; r++) {
    const x = inputs.subarray(r * D, (r + 1) * D);
    for (let j = 0; j < H; j++) {
      let s = net.b0[j]!;
      for (let i = 0; i < D; i++) s += net.w0[j * D + i]! * x[i]!;
      h[j] = s > 0 ? s : 0;
    }
    for (let k = 0; k < K; k++) {
      let s = net.b1[k]!;
      for (let j = 0; j < H; j++) s += net.w1[k * H + j]! * h[j]!;
      out[r * K + k] = Math.tanh(s);
    }
  }
  return out;
}
