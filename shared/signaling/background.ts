/**
 * What the avatar's video shows behind the person (enableAvatar's `background`):
 * - blur (the default): the user's own room, the clean plate from their capture, blurred
 *   the way call apps blur backgrounds;
 * - room: the same room, sharp;
 * - colour: a flat colour, '#rrggbb';
 * - image: a picture the user uploaded (PUT /api/backgrounds answers its id; docs/engine.md).
 * Avatars trained without plates show a neutral grey for blur and room.
 */
import { z } from 'zod';

export const HEX_COLOUR_PATTERN = /^#[0-9a-fA-F]{6}$/;
/** An uploaded background image's id (16 lowercase hex digits, chosen by the server). */
export const BACKGROUND_IMAGE_ID_PATTERN = /^[0-9a-f]{16}$/;

/** The choices that need nothing stored (the server's render processes take these as they are). */
export const blurChoice = z.object({ kind: z.literal('blur') }).strict();
export const roomChoice = z.object({ kind: z.literal('room') }).strict();
export const colourChoice = z.object({ kind: z.literal('colour'), rgb: z.string().regex(HEX_COLOUR_PATTERN, 'must be a colour written #rrggbb (e.g. #2a6f97)') }).strict();
export const backgroundImageId = z.string().regex(BACKGROUND_IMAGE_ID_PATTERN, 'must be an uploaded background\'s id (16 hex digits)');

export const backgroundChoice = z.discriminatedUnion('kind', [
  blurChoice, roomChoice, colourChoice, z.object({ kind: z.literal('image'), id: backgroundImageId }).strict(),
]);

export type BackgroundChoice = z.infer<typeof backgroundChoice>;

export const DEFAULT_BACKGROUND: BackgroundChoice = { kind: 'blur' };

/** The choice as a URL parameter value ('blur', 'room', '#rrggbb' or 'image:<id>'), as the demo page reads it. */
export function backgroundParam(choice: BackgroundChoice): string {
  if (choice.kind === 'colour') return choice.rgb;
  if (choice.kind === 'image') return `image:${choice.id}`;
  return choice.kind;
}

/** A URL parameter value back to a choice; undefined when it names none. */
export function backgroundFromParam(value: string | null | undefined): BackgroundChoice | undefined {
  if (value === 'blur' || value === 'room') return { kind: value };
  if (value && HEX_COLOUR_PATTERN.test(value)) return { kind: 'colour', rgb: value.toLowerCase() };
  const id = value?.startsWith('image:') ? value.slice(6) : undefined;
  if (id && BACKGROUND_IMAGE_ID_PATTERN.test(id)) return { kind: 'image', id };
  return undefined;
}
