/**
 * Writes estimated plates into a dataset being built (DatasetWriter: the whole
 * folder is renamed into place only when complete, so the PNGs are atomic
 * with the rest) and returns dataset.json's `plates` entry.
 */
import { plateIntrinsics } from '../../../shared/dataset/camera';
import { FILES, type CropWindow, type Intrinsics, type PlatesMeta } from '../../../shared/dataset/format';
import type { DatasetWriter } from '../DatasetWriter';
import { encodeRgbaPng, encodeRgbPngFromRgba } from '../png';
import type { Plates } from './PlateEstimator';

/** `crop` and `cropK` as in dataset.json; the source's size is the frame the crop is in. */
export function writePlates(writer: DatasetWriter, plates: Plates, cropK: Intrinsics, crop: CropWindow, sourceWidth: number, sourceHeight: number): PlatesMeta {
  writer.writeExtra(FILES.backgroundPlate, encodeRgbPngFromRgba(plates.background, plates.width, plates.height));
  writer.writeExtra(FILES.bodyPlate, encodeRgbaPng(plates.body, plates.width, plates.height));
  return {
    width: plates.width,
    height: plates.height,
    intrinsics: plateIntrinsics(cropK, crop, sourceWidth, sourceHeight, plates.width, plates.height),
    samples: plates.samples,
    background: FILES.backgroundPlate,
    body: FILES.bodyPlate,
  };
}
