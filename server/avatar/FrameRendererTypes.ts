/**
 * The avatar session's view of a renderer: the face state in, an RGBA frame out.
 * Implementations render off Node's event loop (a worker thread or native threads).
 */
import type { FaceState } from './DrivenFace';

export interface FrameRenderer {
  readonly width: number;
  readonly height: number;
  /**
   * Renders `face`; resolves with width*height*4 RGBA bytes that stay valid until
   * the next call (implementations reuse their buffers).
   */
  render(face: Readonly<FaceState>): Promise<Uint8Array>;
  close(): void;
}
