import { runtimeFetch } from './rest';

/** The notifications page's logic: JSON fields, the test-send body, and the send itself. */
export const SEND_CHANNELS = ['inapp', 'email', 'push', 'webhook'] as const;
export type SendChannel = (typeof SEND_CHANNELS)[number];

/** Text that must be a JSON object (template data, a webhook payload); empty is `{}`/none. */
export function parseJsonObject(text: string): { value: Record<string, unknown> | null } | { problem: string } {
  const t = text.trim();
  if (!t) return { value: null };
  try {
    const v: unknown = JSON.parse(t);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { problem: 'must be a JSON object' };
    return { value: v as Record<string, unknown> };
  } catch {
    return { problem: 'is not valid JSON' };
  }
}

export interface SendDraft {
  target: 'user_id' | 'email' | 'topic';
  to: string;
  /** A template name, or '' to send `title`/`body` as they are. */
  template: string;
  title: string;
  body: string;
  data: string;
  channels: SendChannel[];
}

/** The `POST /send` body for a draft, or the problems the page shows beside its fields (paths as the API's). */
export function sendBody(d: SendDraft): { body: Record<string, unknown> } | { problems: Record<string, string> } {
  const problems: Record<string, string> = {};
  const data = parseJsonObject(d.data);
  if ('problem' in data) problems.data = `Data ${data.problem}`;
  if (!d.to.trim()) problems[`to.${d.target}`] = 'Say who gets it';
  if (!d.template && !d.title.trim() && !d.body.trim()) problems.content = 'Give a title or body, or pick a template';
  if (Object.keys(problems).length) return { problems };
  return {
    body: {
      to: { [d.target]: d.to.trim() },
      ...(d.template ? { template: d.template } : { content: { ...(d.title.trim() ? { title: d.title } : {}), ...(d.body.trim() ? { body: d.body } : {}) } }),
      ...('value' in data && data.value ? { data: data.value } : {}),
      ...(d.channels.length ? { channels: d.channels } : {}),
    },
  };
}

export interface SendResult {
  id: string;
  status: string;
  channels: string[];
  duplicate?: boolean;
}

/** A send through the project's notifications API, with the console's key (scope `notifications:send`). */
export async function sendNotification(ref: string, body: Record<string, unknown>): Promise<SendResult> {
  const res = await runtimeFetch(ref, 'notifications', 'send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as SendResult;
}
