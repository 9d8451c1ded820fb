/**
 * loadDataset across versions: version-1 datasets (no plates) still load; a
 * version-2 dataset's plates are checked (listed files exist, the entry is
 * well formed) with errors that name the file and field.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { plateIntrinsics } from '../../shared/dataset/camera';
import { DATASET_VERSION, FILES, type DatasetMeta } from '../../shared/dataset/format';
import { DatasetValidationError } from '../../shared/dataset/validate';
import { writeSyntheticDataset } from '../../test/helpers/syntheticDataset';
import { loadDataset } from './loadDataset';

const root = mkdtempSync(join(tmpdir(), 'voxface-load-dataset-'));
const dir = join(root, 'dataset');
let original: DatasetMeta;
after(() => rmSync(root, { recursive: true, force: true }));
before(() => {
  writeSyntheticDataset(dir, 4);
  original = JSON.parse(readFileSync(join(dir, FILES.meta), 'utf8')) as DatasetMeta;
});

const withMeta = (change: (meta: DatasetMeta) => object) => writeFileSync(join(dir, FILES.meta), JSON.stringify(change(structuredClone(original))));
const plates = (meta: DatasetMeta) => ({
  width: 320, height: 240, intrinsics: plateIntrinsics(meta.intrinsics, meta.crop, meta.source.width, meta.source.height, 320, 240),
  samples: 4, background: FILES.backgroundPlate, body: FILES.bodyPlate,
});

function refused(pattern: RegExp): void {
  assert.throws(() => loadDataset(dir), (error: unknown) => {
    assert.ok(error instanceof DatasetValidationError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

test('a version-1 dataset (no plates) still loads', () => {
  assert.equal(DATASET_VERSION, 2);
  withMeta((meta) => ({ ...meta, version: 1 }));
  assert.equal(loadDataset(dir).meta.version, 1);
  assert.equal(loadDataset(dir).meta.plates, undefined);
});

test('a version-2 dataset loads with its plates, and without them', () => {
  withMeta((meta) => meta);
  assert.equal(loadDataset(dir).meta.plates, undefined);
  mkdirSync(join(dir, FILES.plates), { recursive: true });
  writeFileSync(join(dir, FILES.backgroundPlate), 'png');
  writeFileSync(join(dir, FILES.bodyPlate), 'png');
  withMeta((meta) => ({ ...meta, plates: plates(meta) }));
  assert.equal(loadDataset(dir).meta.plates?.width, 320);
});

test('listed plates that are missing, malformed or on a version-1 dataset are refused', () => {
  rmSync(join(dir, FILES.bodyPlate));
  withMeta((meta) => ({ ...meta, plates: plates(meta) }));
  refused(/dataset\.json lists plates but plates\/body\.png is missing/);
  writeFileSync(join(dir, FILES.bodyPlate), 'png');
  withMeta((meta) => ({ ...meta, plates: { ...plates(meta), intrinsics: { ...plates(meta).intrinsics, width: 640 } } }));
  refused(/dataset\.json: plates\.intrinsics need positive fx, fy, finite cx, cy and the plates' size/);
  withMeta((meta) => ({ ...meta, plates: { ...plates(meta), body: '../elsewhere.png', samples: 0 } }));
  refused(/plates\.samples must be a positive integer.*plates\.background and plates\.body must be 'plates\/background\.png' and 'plates\/body\.png'/);
  withMeta((meta) => ({ ...meta, version: 1, plates: plates(meta) }));
  refused(/dataset\.json: plates came with dataset version 2; this says version 1/);
});
