import { describe, expect, it } from 'vitest';
import { parseJsonObject, sendBody, type SendDraft } from './notifications';

const draft = (over: Partial<SendDraft>): SendDraft => ({ target: 'email', to: 'ada@example.com', template: '', title: '', body: '', data: '', channels: [], ...over });

describe('notification sends', () => {
  it('reads JSON objects, and says what is wrong with anything else', () => {
    expect(parseJsonObject('')).toEqual({ value: null });
    expect(parseJsonObject('{"a":1}')).toEqual({ value: { a: 1 } });
    expect(parseJsonObject('[1]')).toEqual({ problem: 'must be a JSON object' });
    expect(parseJsonObject('{')).toEqual({ problem: 'is not valid JSON' });
  });

  it('builds a template send with data and channels', () => {
    expect(sendBody(draft({ template: 'welcome', data: '{"name":"Ada"}', channels: ['email'] }))).toEqual({
      body: { to: { email: 'ada@example.com' }, template: 'welcome', data: { name: 'Ada' }, channels: ['email'] },
    });
  });

  it('builds a plain-content send to a topic, leaving out empty parts', () => {
    expect(sendBody(draft({ target: 'topic', to: ' news ', title: 'Hi' }))).toEqual({ body: { to: { topic: 'news' }, content: { title: 'Hi' } } });
  });

  it('reports problems under the paths the API uses', () => {
    expect(sendBody(draft({ target: 'user_id', to: '', data: '{' }))).toEqual({
      problems: { data: 'Data is not valid JSON', 'to.user_id': 'Say who gets it', content: 'Give a title or body, or pick a template' },
    });
  });
});
