/** The Auth → Users page's logic: a user's state in words, ban lengths, and the pager's range. */
export interface EndUserLike {
  email?: string;
  email_confirmed_at?: string;
  banned_until?: string;
  is_anonymous?: boolean;
}

export type EndUserStatus = 'banned' | 'unconfirmed' | 'anonymous' | 'active';

export function endUserStatus(u: EndUserLike, now = Date.now()): EndUserStatus {
  if (u.banned_until && Date.parse(u.banned_until) > now) return 'banned';
  if (u.is_anonymous) return 'anonymous';
  if (!u.email_confirmed_at) return 'unconfirmed';
  return 'active';
}

/** Ban lengths offered, as the API's `ban_duration` (Go durations; 100 years for "for good"). */
export const BAN_DURATIONS: Array<{ value: string; label: string }> = [
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '1 day' },
  { value: '168h', label: '1 week' },
  { value: '720h', label: '30 days' },
  { value: '876000h', label: 'For good' },
];

/** "21–40 of 57", and whether there are pages either side. */
export function pageRange(page: number, perPage: number, shown: number, total: number): { label: string; hasPrev: boolean; hasNext: boolean } {
  const from = (page - 1) * perPage + 1;
  return {
    label: shown ? `${from}–${from + shown - 1} of ${total}` : total ? `none on this page (${total} in all)` : '',
    hasPrev: page > 1,
    hasNext: page * perPage < total,
  };
}
