import { StorageException } from './storage.exception';

/** Largest output side. */
export const RENDER_MAX_DIMENSION = 2500;

export interface RenderOptions {
  width?: number;
  height?: number;
  resize: 'cover' | 'contain' | 'fill';
  quality: number;
  format: 'origin' | 'webp' | 'avif';
}

function dimension(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > RENDER_MAX_DIMENSION) throw StorageException.invalid(`${name} must be 1-${RENDER_MAX_DIMENSION}`);
  return Number(v);
}

/** The query parameters that choose a transformation. */
export const RENDER_PARAMS = ['width', 'height', 'resize', 'quality', 'format'] as const;

/** Storage's `transform` object of a sign request (`{width, height, resize, quality, format}`) → its options, or 400. */
export function transformOptions(v: unknown): RenderOptions {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw StorageException.invalid('transform must be an object');
  const q = new URLSearchParams();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (!(RENDER_PARAMS as readonly string[]).includes(k)) throw StorageException.invalid(`transform.${k.slice(0, 40)} is not a transformation option`);
    if (x !== undefined && x !== null) q.set(k, String(x));
  }
  return renderOptions(q);
}

/** `?width&height&resize&quality&format` as Storage's image transformation takes them, or 400. */
export function renderOptions(query: URLSearchParams): RenderOptions {
  const resize = query.get('resize') ?? 'cover';
  if (resize !== 'cover' && resize !== 'contain' && resize !== 'fill') throw StorageException.invalid('resize must be cover, contain or fill');
  const format = query.get('format') ?? 'origin';
  if (format !== 'origin' && format !== 'webp' && format !== 'avif') throw StorageException.invalid('format must be origin, webp or avif');
  const q = query.get('quality');
  if (q !== null && (!/^\d{1,3}$/.test(q) || Number(q) < 20 || Number(q) > 100)) throw StorageException.invalid('quality must be 20-100');
  return { width: dimension(query.get('width'), 'width'), height: dimension(query.get('height'), 'height'), resize, quality: q === null ? 80 : Number(q), format };
}

