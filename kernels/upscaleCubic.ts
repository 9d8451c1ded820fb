/**
 * The parameter of the cubic convolution (Keys' kernel) that LIVE's upscale uses, on the CPU
 * (server/engine/FastUpscale.ts) and in the GPU's compositeFrame (kernels/wgsl/compositeFrame.ts
 * writes it into the shader's source), so both draw the same frame from one number. -0.5
 * (Catmull-Rom) is the only value that reproduces a straight line; more negative values
 * sharpen, at the price of more ringing beside a hard edge (at most 7.4% of the step's height
 * at -0.5, 11.1% at -0.75, 14.8% at -1). Why -0.75: docs/picture.md, "A sharper cubic".
 */
export const CUBIC_A = -0.75;
