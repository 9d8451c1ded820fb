/**
 * What the avatar's video shows behind the person (enableAvatar's `background`):
 * - blur (the default): the user's own room, the clean plate from their capture, blurred
 *   the way call apps blur backgrounds;
 * - room: the same room, sharp;
 * - colour: a flat colour, '#rrggbb'.
 * Avatars trained without plates show a neutral grey for blur and room.
 */
import { z } from 'zod';

export const HEX_COLOUR_PATTERN = /^#[0-9a-fA-F]{6}$/;

export const backgroundChoice = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('blur') }).strict(),
  z.object({ kind: z.literal('room') }).strict(),
  z.object({ kind: z.literal('colour'), rgb: z.string().regex(HEX_COLOUR_PATTERN, 'must be a colour written #rrggbb (e.g. #2a6f97)') }).strict(),
]);

export type BackgroundChoice = z.infer<typeof backgroundChoice>;

export const DEFAULT_BACKGROUND: BackgroundChoice = { kind: 'blur' };
