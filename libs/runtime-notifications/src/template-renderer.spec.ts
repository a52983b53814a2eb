import { PlinthException } from '@plinth/common';
import { renderTemplate } from './template-renderer';

describe('renderTemplate (sandboxed Liquid)', () => {
  const inapp = (title: string) => ({ email: null, webhook: null, inapp: { title } });

  it('renders variables and filters from the data', async () => {
    const r = await renderTemplate({ email: { subject: 'Hi {{ name }}', html: '<b>{{ name }}</b>' }, inapp: null, webhook: { payload: { a: ['{{ n | plus: 1 }}'] } } }, { name: '<Ann>', n: 1 });
    expect(r.email).toEqual({ subject: 'Hi <Ann>', text: '', html: '<b>&lt;Ann&gt;</b>' });
    expect(r.webhook).toEqual({ payload: { a: ['2'] } });
  });

  it('has no file system: include, render and layout are unknown tags', async () => {
    for (const tag of ['{% include "/etc/passwd" %}', '{% render "x" %}', '{% layout "x" %}']) {
      await expect(renderTemplate(inapp(tag), {})).rejects.toBeInstanceOf(PlinthException);
    }
  });

  it('reads only the data\'s own properties', async () => {
    const r = await renderTemplate(inapp('{{ s.constructor }}|{{ o.__proto__ }}|{{ o.hasOwnProperty }}|{{ o.a }}'), { s: 'x', o: { a: 1 } });
    expect(r.inapp?.title).toBe('|||1');
  });

  it('bounds render time, memory and output size', async () => {
    await expect(renderTemplate(inapp('{% for i in (1..n) %}{% for j in (1..n) %}x{% endfor %}{% endfor %}'), { n: 100_000 })).rejects.toBeInstanceOf(PlinthException);
    await expect(renderTemplate(inapp('{% for i in (1..600) %}x{% endfor %}'), {})).rejects.toThrow(/more than 500 characters/);
  });

  it('refuses unknown filters', async () => {
    await expect(renderTemplate(inapp('{{ x | shell }}'), {})).rejects.toThrow(/failed to render/);
  });
});
