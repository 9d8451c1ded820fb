// Column-block copies between row-major [N, width] matrices: the model concatenates
// feature blocks before dense layers and splits their input gradients afterwards.

/** dst[:, dstStart:dstStart+count] = src[:, srcStart:srcStart+count]. */
export function copyCols(
  src: Float32Array, srcWidth: number, srcStart: number,
  dst: Float32Array, dstWidth: number, dstStart: number,
  count: number, rows: number,
): void {
  for (let r = 0; r < rows; r++) {
    const s = r * srcWidth + srcStart, d = r * dstWidth + dstStart;
    for (let k = 0; k < count; k++) dst[d + k] = src[s + k]!;
  }
}

/** dst[:, dstStart:dstStart+count] += src[:, srcStart:srcStart+count]. */
export function addCols(
  src: Float32Array, srcWidth: number, srcStart: number,
  dst: Float32Array, dstWidth: number, dstStart: number,
  count: number, rows: number,
): void {
  for (let r = 0; r < rows; r++) {
    const s = r * srcWidth + srcStart, d = r * dstWidth + dstStart;
    for (let k = 0; k < count; k++) dst[d + k]! += src[s + k]!;
  }
}

/** Every row of dst[:, start:start+v.length] = v. */
export function fillCols(v: ArrayLike<number>, dst: Float32Array, width: number, start: number, rows: number): void {
  const c = v.length;
  for (let r = 0; r < rows; r++) {
    const d = r * width + start;
    for (let k = 0; k < c; k++) dst[d + k] = v[k]!;
  }
}

/** Columns [start, start+count) of a row-major [rows, cols] matrix, as a new [rows, count] one. */
export function sliceCols(w: Float32Array, rows: number, cols: number, start: number, count: number): Float32Array {
  const out = new Float32Array(rows * count);
  copyCols(w, cols, start, out, count, 0, count, rows);
  return out;
}
