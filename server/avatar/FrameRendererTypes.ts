/**
 * The avatar session's view of a renderer: the face state in, an RGBA frame out.
 * Implementations render off Node's event loop (a render process, or native threads).
 */
import type { FaceState } from './DrivenFace';

/** Why a renderer can render no more (its process died). */
export interface RendererFault {
  reason: 'renderer-crashed';
  /** For people: which process, and how it ended (a signal or an exit code). */
  message: string;
}

export interface FrameRenderer {
  readonly width: number;
  readonly height: number;
  /**
   * Renders `face`; resolves with width*height*4 RGBA bytes that stay valid until
   * the next call (implementations reuse their buffers). A renderer that faulted
   * rejects with an Error whose `fault` says why.
   */
  render(face: Readonly<FaceState>): Promise<Uint8Array>;
  close(): void;
  /** What draws the frames now ('cpu' or 'gpu'; a GPU lost mid-call turns it to 'cpu'); absent when unknown. */
  readonly backend?: 'cpu' | 'gpu';
  /** The render process (diagnostics and fault-injection tests); absent when rendering in-process. */
  readonly pid?: number;
  /** Settles when the renderer faults (never for one that is closed first, or cannot fault). */
  readonly fault?: Promise<RendererFault>;
}

/** The fault a render error carries, if it came from a renderer that faulted. */
export function faultOf(error: unknown): RendererFault | undefined {
  const fault = (error as { fault?: RendererFault } | undefined)?.fault;
  return fault && typeof fault.reason === 'string' ? fault : undefined;
}
