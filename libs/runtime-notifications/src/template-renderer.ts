import { Liquid } from 'liquidjs';
import { PlinthException } from '@plinth/common';
import type { TemplateRow } from './templates.repository';

/** Bounds of one render: parse input, render time and string allocation (liquidjs' own limits), and output size. */
const LIMITS = { parseLimit: 200_000, renderLimit: 250, memoryLimit: 4_000_000 };
const OUTPUT_MAX = { subject: 500, text: 50_000, html: 200_000, title: 500, body: 10_000, payloadString: 10_000 };

/**
 * Liquid for customer-written templates, sandboxed: no file system (an empty in-memory template map, and the
 * include/render/layout tags removed), only the data's own properties (no prototype walks), unknown filters refused,
 * and every render bounded in time and memory. HTML parts escape every output by default.
 */
function sandboxed(html: boolean): Liquid {
  const liquid = new Liquid({
    templates: {},
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    dynamicPartials: false,
    relativeReference: false,
    ...(html ? { outputEscape: 'escape' as const } : {}),
    ...LIMITS,
  });
  for (const tag of ['include', 'render', 'layout']) delete (liquid.tags as Record<string, unknown>)[tag];
  return liquid;
}

const text = sandboxed(false);
const html = sandboxed(true);

export interface Rendered {
  email: { subject: string; text: string; html: string | null } | null;
  inapp: { title: string | null; body: string | null } | null;
  webhook: { payload: Record<string, unknown> } | null;
}

async function one(liquid: Liquid, source: string, data: Record<string, unknown>, part: string, max: number): Promise<string> {
  let out: string;
  try {
    out = String(await liquid.parseAndRender(source, data));
  } catch (e) {
    throw PlinthException.badRequest(`Template ${part} failed to render: ${(e as Error).message.split('\n')[0].slice(0, 300)}`, { part });
  }
  if (out.length > max) throw PlinthException.badRequest(`Template ${part} rendered to more than ${max} characters`, { part });
  return out;
}

async function payload(v: unknown, data: Record<string, unknown>, path: string): Promise<unknown> {
  if (typeof v === 'string') return one(text, v, data, path, OUTPUT_MAX.payloadString);
  if (Array.isArray(v)) return Promise.all(v.map((x, i) => payload(x, data, `${path}[${i}]`)));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await payload(x, data, `${path}.${k}`);
    return out;
  }
  return v;
}

/** Renders every part of `t` with `data` (its top-level keys are the variables); a bad template or output is a 400. */
export async function renderTemplate(t: Pick<TemplateRow, 'email' | 'inapp' | 'webhook'>, data: Record<string, unknown>): Promise<Rendered> {
  const scope = { ...data };
  const email = t.email
    ? {
        subject: (await one(text, t.email.subject, scope, 'email.subject', OUTPUT_MAX.subject)).replace(/[\r\n]+/g, ' '),
        text: t.email.text !== undefined ? await one(text, t.email.text, scope, 'email.text', OUTPUT_MAX.text) : '',
        html: t.email.html !== undefined ? await one(html, t.email.html, scope, 'email.html', OUTPUT_MAX.html) : null,
      }
    : null;
  const inapp = t.inapp
    ? {
        title: t.inapp.title !== undefined ? await one(text, t.inapp.title, scope, 'inapp.title', OUTPUT_MAX.title) : null,
        body: t.inapp.body !== undefined ? await one(text, t.inapp.body, scope, 'inapp.body', OUTPUT_MAX.body) : null,
      }
    : null;
  const webhook = t.webhook ? { payload: (await payload(t.webhook.payload, scope, 'webhook.payload')) as Record<string, unknown> } : null;
  return { email, inapp, webhook };
}

/** The digest a send of `t` joins: its key rendered with the send's data ('' when the template names none). */
export async function renderDigestKey(t: { digest: { key?: string } | null }, data: Record<string, unknown>): Promise<string> {
  return t.digest?.key ? one(text, t.digest.key, { ...data }, 'digest.key', 200) : '';
}
