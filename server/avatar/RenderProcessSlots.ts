/**
 * The AvatarService's render processes, counted against its maxRenderProcesses: a
 * renderer from the factory holds a slot while it loads and, on the CPU, until it is
 * closed. A session of the GPU render host is not a process of its own (the pool caps
 * sessions per host), so its slot goes back once it is loaded. One that later moves to the
 * CPU (a lost device) runs a render process uncounted here, for the rest of its call.
 */
import { SignalingError } from '../signaling/SignalingError';
import type { RendererFactory, RenderView } from './AvatarServiceTypes';
import type { FrameRenderer } from './FrameRendererTypes';

export class RenderProcessSlots {
  readonly #create: RendererFactory;
  readonly #limit: number;
  #held = 0;

  constructor(create: RendererFactory, limit: number) {
    this.#create = create;
    this.#limit = limit;
  }

  /** Render processes open now, loads included. */
  get held(): number {
    return this.#held;
  }

  /** A renderer from the factory in a slot of its own ('render-process-limit' when none is free); closing it frees the slot. */
  async open(avatarId: string, view: RenderView, signal?: AbortSignal): Promise<FrameRenderer> {
    if (this.#held >= this.#limit) {
      throw new SignalingError('render-process-limit', `the server runs ${this.#held} render processes, its limit`);
    }
    this.#held += 1;
    let renderer: FrameRenderer;
    try {
      renderer = await this.#create(avatarId, view, signal);
    } catch (error) {
      this.#held -= 1;
      throw error;
    }
    let released = renderer.backend === 'gpu';
    if (released) this.#held -= 1;
    return {
      width: renderer.width,
      height: renderer.height,
      get pid() { return renderer.pid; },
      get backend() { return renderer.backend; },
      ...(renderer.fault ? { fault: renderer.fault } : {}),
      render: (face) => renderer.render(face),
      close: () => {
        if (!released) this.#held -= 1;
        released = true;
        renderer.close();
      },
    };
  }
}
