/**
 * The right-hand panel: upload progress, then training progress (stage, bar,
 * step, held-out quality against the "usable" threshold, the final avatar's
 * expression fidelity, time left, the
 * newest preview render and the quality chart), then the join link.
 * The formatting helpers are pure (tested); ProgressView writes the DOM.
 */
import type { JobStage, TrainingProgress } from '../../shared/onboarding/TrainingJobTypes';
import type { OnboardingJob, PreviewEvent } from './OnboardingApi';
import { drawQualityChart } from './qualityChart';

export const STAGE_TEXT: Record<JobStage, string> = {
  queued: 'Waiting for a free trainer',
  loading: 'Loading your recording',
  training: 'Training your avatar',
  installing: 'Installing your avatar',
  done: 'Training finished',
  failed: 'Training failed',
  cancelled: 'Training was cancelled',
};

/**
 * Whether the avatar can be joined. A server with "usable early" says so; a
 * server without it installs the avatar only when the job is done.
 */
export function isUsable(job: OnboardingJob): boolean {
  return job.usable === true || job.state === 'done';
}

/** Share of the training budget spent, 0..1 (loading and saving are not in the budget). */
export function trainingFraction(progress: TrainingProgress): number {
  if (progress.stage === 'done') return 1;
  const total = progress.elapsedMs + progress.etaMs;
  return total > 0 ? Math.min(1, Math.max(0, progress.elapsedMs / total)) : 0;
}

/** "4 min 05 s", "35 s". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/**
 * Held-out PSNR (and the face's SSIM once a snapshot measured it) against the thresholds, e.g.
 * "24.1 dB, face SSIM 0.71 (usable from 22.0 dB and face SSIM 0.63; in the call: 23.5 dB)".
 */
export function qualityText(job: OnboardingJob): string {
  const psnr = job.progress.psnr;
  const face = typeof job.faceSsim === 'number' ? `, face SSIM ${job.faceSsim.toFixed(2)}` : '';
  const measured = psnr === null ? 'not measured yet' : `${psnr.toFixed(1)} dB${face}`;
  const faceBar = typeof job.usableFaceSsim === 'number' ? ` and face SSIM ${job.usableFaceSsim.toFixed(2)}` : '';
  const notes: string[] = [];
  if (typeof job.usablePsnr === 'number') notes.push(`usable from ${job.usablePsnr.toFixed(1)} dB${faceBar}`);
  if (typeof job.installedPsnr === 'number') notes.push(`in the call: ${job.installedPsnr.toFixed(1)} dB`);
  return notes.length ? `${measured} (${notes.join('; ')})` : measured;
}

/**
 * The final avatar's expression fidelity (docs/fidelity.md), e.g. "mouth 4.1 px from your
 * recording (a real frame of you: 3.2 px)"; null until a finished job has it.
 */
export function fidelityText(job: OnboardingJob): string | null {
  const f = job.fidelity;
  if (!f) return job.options.fidelity && (job.state === 'queued' || job.state === 'running') ? 'measured when training ends' : null;
  if ('error' in f) return `not measured: ${f.error}`;
  const real = f.nearestFrameMouthPx === null ? '' : ` (a real frame of you: ${f.nearestFrameMouthPx.toFixed(1)} px)`;
  return `mouth ${f.mouthPx.toFixed(1)} px from your recording${real}; `
    + `lips open to within ${f.lipOpeningPx.toFixed(1)} px, eyes ${f.eyesPx.toFixed(1)} px, over ${f.comparedFrames} frames`;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`onboard.html lacks #${id}`);
  return element as T;
};

export class ProgressView {
  readonly #panel = $<HTMLElement>('progress');
  readonly #uploadText = $<HTMLElement>('upload-text');
  readonly #uploadBar = $<HTMLProgressElement>('upload-progress');
  readonly #training = $<HTMLElement>('training');
  readonly #stage = $<HTMLElement>('stage-text');
  readonly #trainBar = $<HTMLProgressElement>('train-progress');
  readonly #step = $<HTMLElement>('step');
  readonly #psnr = $<HTMLElement>('psnr');
  readonly #fidelityTerm = $<HTMLElement>('fidelity-term');
  readonly #fidelity = $<HTMLElement>('fidelity');
  readonly #timeLeft = $<HTMLElement>('time-left');
  readonly #previewFigure = $<HTMLElement>('preview-figure');
  readonly #preview = $<HTMLImageElement>('preview');
  readonly #chart = $<HTMLCanvasElement>('quality-chart');
  readonly #join = $<HTMLElement>('join');
  readonly #background = $<HTMLSelectElement>('join-background');
  readonly #backgroundColour = $<HTMLInputElement>('join-background-colour');
  readonly #backgroundImage = $<HTMLInputElement>('join-background-image');
  /** The picture uploaded for the join link ('image:<id>' in its background parameter). */
  #backgroundImageId: string | null = null;
  #joinUrl: string | null = null;
  readonly #joinLink = $<HTMLAnchorElement>('join-link');
  readonly #joinNote = $<HTMLElement>('join-note');
  #previewUrl: string | null = null;

  /** `uploadPicture` stores a background picture for this user and resolves with its id. */
  constructor(uploadPicture?: (picture: Blob) => Promise<string>) {
    for (const control of [this.#background, this.#backgroundColour]) control.addEventListener('change', () => this.#linkJoin());
    this.#backgroundImage.addEventListener('change', () => {
      const picture = this.#backgroundImage.files?.[0];
      if (!picture || !uploadPicture) return;
      this.#joinNote.textContent = 'Uploading your picture…';
      uploadPicture(picture).then((id) => {
        this.#backgroundImageId = id;
        this.#joinNote.textContent = 'Your picture will show behind you.';
        this.#linkJoin();
      }, (error: Error) => { this.#joinNote.textContent = `The picture could not be used: ${error.message}`; });
    });
  }

  showUpload(uploaded: number, total: number, detail: string): void {
    this.#panel.hidden = false;
    this.#uploadText.textContent = `Uploaded ${uploaded} of ${total} frames${detail ? ` (${detail})` : ''}`;
    this.#uploadBar.value = total > 0 ? uploaded / total : 0;
  }

  showJob(job: OnboardingJob): void {
    this.#panel.hidden = false;
    this.#training.hidden = false;
    const { progress } = job;
    this.#stage.textContent = job.state === 'failed' && job.error ? `${STAGE_TEXT.failed}: ${job.error}` : STAGE_TEXT[progress.stage];
    this.#trainBar.value = trainingFraction(progress);
    this.#step.textContent = progress.step > 0 ? String(progress.step) : '–';
    this.#psnr.textContent = qualityText(job);
    const fidelity = fidelityText(job);
    this.#fidelityTerm.hidden = this.#fidelity.hidden = fidelity === null;
    this.#fidelity.textContent = fidelity ?? '';
    this.#timeLeft.textContent = progress.stage === 'done' ? 'none' : `about ${formatDuration(progress.etaMs)} of training`;
    if (job.state === 'done') this.#joinNote.textContent = 'Training is finished: this is the final version of your avatar.';
    drawQualityChart(this.#chart, job.quality ?? [], typeof job.usablePsnr === 'number' ? job.usablePsnr : null);
  }

  showPreview(preview: PreviewEvent): void {
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    const png = preview.png instanceof Blob ? preview.png : new Blob([preview.png as BlobPart], { type: 'image/png' });
    this.#previewUrl = URL.createObjectURL(png);
    this.#preview.src = this.#previewUrl;
    this.#preview.title = `step ${preview.step}${preview.psnr === null ? '' : `, ${preview.psnr.toFixed(1)} dB`}`;
    this.#previewFigure.hidden = false;
  }

  showJoin(url: string | null): void {
    this.#join.hidden = url === null;
    this.#joinUrl = url;
    this.#linkJoin();
  }

  /** The join link carries the background chosen beside it (the demo page reads `background`). */
  #linkJoin(): void {
    if (!this.#joinUrl) return;
    const url = new URL(this.#joinUrl, location.href), choice = this.#background.value;
    // A picture counts once uploaded; until then the link keeps the default (blur).
    const param = choice === 'colour' ? this.#backgroundColour.value
      : choice === 'image' ? (this.#backgroundImageId ? `image:${this.#backgroundImageId}` : 'blur') : choice;
    url.searchParams.set('background', param);
    this.#joinLink.href = url.toString();
    this.#backgroundColour.hidden = choice !== 'colour';
    this.#backgroundImage.hidden = choice !== 'image';
  }

  reset(): void {
    this.#panel.hidden = true;
    this.#training.hidden = true;
    this.#previewFigure.hidden = true;
    this.showJoin(null);
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.#previewUrl = null;
  }
}
