// Floaters: small blobs of density the avatar learnt away from the person (from mask edges
// and background pixels early in training). Nothing in the training views pushes them out,
// and live they show as dark specks over the background (the onboarding-budget pinkwall
// avatar: one connected component of 7073 occupied cells, then 27 of 2-26 cells above and
// around the hair). The live renderer only marches occupied cells, so dropping a blob from
// the occupancy drops it from the picture; the person is one large component (face, hair,
// ears and neck touch), and a component under `minShare` of the largest is not part of it.
// 26-connected, as the dilation that follows reaches the same neighbours.
//
// It runs on every frame's merged map, so it labels runs of occupied cells along x, not
// cells: a run touches a run of one of the four earlier neighbouring rows when their x
// ranges overlap or meet diagonally, and union-find joins them (0.05 ms a frame for the
// pinkwall avatar's ~600 runs, where a cell flood fill took 0.6 ms).

/** Components below this share of the largest are dropped (0.02: a 7000-cell head keeps blobs of 140 cells and more). */
export const FLOATER_SHARE = 0.02;

/** The rows (dy, dz) before a row in scan order (z major, then y) that hold 26-neighbours of its cells. */
const EARLIER_ROWS: readonly (readonly [number, number])[] = [[-1, 0], [-1, -1], [0, -1], [1, -1]];

export class FloaterFilter {
  readonly G: number;
  readonly minShare: number;
  /** Runs [start, end) of occupied cells: their row, union-find parent and component size at the root. */
  private readonly runStart: Int32Array;
  private readonly runEnd: Int32Array;
  private readonly runRow: Int32Array;
  private readonly parent: Int32Array;
  private readonly size: Int32Array;
  /** Each row's runs: rowRuns[row] .. rowRuns[row + 1]. */
  private readonly rowRuns: Int32Array;

  constructor(G: number, minShare = FLOATER_SHARE) {
    if (!(Number.isInteger(G) && G >= 1)) throw new RangeError(`FloaterFilter: G must be a positive integer, got ${G}`);
    if (!(minShare >= 0 && minShare <= 1)) throw new RangeError(`FloaterFilter: minShare must be in [0, 1], got ${minShare}`);
    this.G = G;
    this.minShare = minShare;
    const maxRuns = G * G * Math.ceil(G / 2);
    this.runStart = new Int32Array(maxRuns);
    this.runEnd = new Int32Array(maxRuns);
    this.runRow = new Int32Array(maxRuns);
    this.parent = new Int32Array(maxRuns);
    this.size = new Int32Array(maxRuns);
    this.rowRuns = new Int32Array(G * G + 1);
  }

  /**
   * Clears, in `raw` (a G^3 map, index (z*G+y)*G+x), the occupied cells of components smaller
   * than minShare of the largest; returns how many cells it cleared.
   */
  filter(raw: Uint8Array): number {
    const { G, runStart, runEnd, runRow, parent, size, rowRuns } = this;
    if (raw.length !== G * G * G) throw new RangeError(`FloaterFilter: expected ${G * G * G} cells, got ${raw.length}`);
    let runs = 0;
    for (let row = 0; row < G * G; row++) {
      rowRuns[row] = runs;
      const base = row * G;
      for (let x = 0; x < G; x++) {
        if (!raw[base + x]) continue;
        const start = x;
        while (x < G && raw[base + x]) x++;
        runStart[runs] = start;
        runEnd[runs] = x;
        runRow[runs] = row;
        parent[runs] = runs;
        size[runs] = x - start;
        runs++;
      }
    }
    rowRuns[G * G] = runs;
    if (runs < 2) return 0;
    for (let row = 0; row < G * G; row++) {
      const y = row % G, z = (row - y) / G;
      for (const [dy, dz] of EARLIER_ROWS) {
        const ny = y + dy, nz = z + dz;
        if (ny < 0 || ny >= G || nz < 0) continue;
        const other = nz * G + ny;
        // Both rows' runs are sorted by x: walk them together, joining runs whose ranges
        // overlap or meet diagonally (x ranges one cell apart at most).
        let a = rowRuns[row]!, b = rowRuns[other]!;
        const aEnd = rowRuns[row + 1]!, bEnd = rowRuns[other + 1]!;
        while (a < aEnd && b < bEnd) {
          if (runStart[a]! <= runEnd[b]! && runStart[b]! <= runEnd[a]!) this.union(a, b);
          if (runEnd[a]! < runEnd[b]!) a++;
          else b++;
        }
      }
    }
    let largest = 0;
    for (let r = 0; r < runs; r++) if (parent[r] === r) largest = Math.max(largest, size[r]!);
    const keep = this.minShare * largest;
    let cleared = 0;
    for (let r = 0; r < runs; r++) {
      if (size[this.find(r)]! >= keep) continue;
      raw.fill(0, runRow[r]! * G + runStart[r]!, runRow[r]! * G + runEnd[r]!);
      cleared += runEnd[r]! - runStart[r]!;
    }
    return cleared;
  }

  private find(r: number): number {
    const parent = this.parent;
    while (parent[r] !== r) {
      parent[r] = parent[parent[r]!]!;
      r = parent[r]!;
    }
    return r;
  }

  private union(a: number, b: number): void {
    let ra = this.find(a), rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra]! < this.size[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra]! += this.size[rb]!;
  }
}
