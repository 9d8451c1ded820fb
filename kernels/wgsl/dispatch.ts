// Dispatch sizes. A dimension holds at most 65535 workgroups (the WebGPU default limit),
// so large 1D work is laid out as rows of workgroups; shaders index it as
// id.x + id.y * num_workgroups.x * workgroupSize.

const maxPerDimension = 65535;

/** Workgroups (x, y) of `size` threads covering `n` items. */
export function grid2d(n: number, size: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / size));
  if (groups <= maxPerDimension) return [groups, 1];
  const rows = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / rows), rows];
}
