import { allowAll } from './catalog';
import { ctx } from './postgrest.fixtures';
import { finishRead, finishWrite, planDelete, planInsert, planRead, planUpdate } from './postgrest';

const admin = ctx(allowAll);
const read = (query: string, headers: Record<string, string> = {}) => planRead(admin, 'posts', { query: new URLSearchParams(query), headers });

describe(finishRead.name, () => {
  it('200 with Content-Range when everything fits or no count was asked', () => {
    expect(finishRead(read(''), { body: '[{"id":1}]', n: 1, total: null })).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Content-Range': '0-0/*' },
      body: '[{"id":1}]',
    });
    expect(finishRead(read('', { prefer: 'count=exact' }), { body: '[]', n: 0, total: '0' })).toMatchObject({ status: 200, headers: { 'Content-Range': '*/0', 'Preference-Applied': 'count=exact' } });
  });
  it('206 when the known total exceeds the page', () => {
    expect(finishRead(read('offset=10&limit=10', { prefer: 'count=exact' }), { body: '[]', n: 10, total: '45' })).toMatchObject({ status: 206, headers: { 'Content-Range': '10-19/45' } });
  });
  it('416 PGRST103 for an offset past the total', () => {
    expect(() => finishRead(read('offset=50', { prefer: 'count=exact' }), { body: '[]', n: 0, total: '45' })).toThrow(
      expect.objectContaining({ status: 416, code: 'PGRST103', details: 'An offset of 50 was requested, but there are only 45 rows.' }),
    );
  });
  it('single object: the element itself, or PGRST116 406 for 0 or many rows', () => {
    const single = read('', { accept: 'application/vnd.pgrst.object+json' });
    expect(finishRead(single, { body: '{"id":1}', n: 1, total: null })).toMatchObject({ status: 200, body: '{"id":1}', headers: { 'Content-Type': 'application/vnd.pgrst.object+json; charset=utf-8' } });
    expect(() => finishRead(single, { body: null, n: 0, total: null })).toThrow(expect.objectContaining({ status: 406, code: 'PGRST116', details: 'The result contains 0 rows' }));
    expect(() => finishRead(single, { body: '{}', n: 2, total: null })).toThrow(expect.objectContaining({ details: 'The result contains 2 rows' }));
  });
});

describe(finishWrite.name, () => {
  const q = (prefer?: string, accept?: string) => ({ query: {}, headers: { ...(prefer ? { prefer } : {}), ...(accept ? { accept } : {}) } });
  it('insert: 201, body only with representation, */count', () => {
    expect(finishWrite(planInsert(admin, 'posts', q(), {}), { body: null, n: 1, guard: 0 })).toMatchObject({ status: 201, body: null, headers: { 'Content-Range': '*/*' } });
    expect(finishWrite(planInsert(admin, 'posts', q('return=representation,count=exact'), {}), { body: '[{"id":1}]', n: 1, guard: 0 })).toMatchObject({
      status: 201,
      body: '[{"id":1}]',
      headers: { 'Content-Range': '*/1' },
    });
  });
  it('update/delete: 204 minimal, 200 with representation', () => {
    expect(finishWrite(planUpdate(admin, 'posts', q(), { title: 'x' }), { body: null, n: 3 })).toMatchObject({ status: 204, body: null, headers: { 'Content-Range': '0-2/*' } });
    expect(finishWrite(planDelete(admin, 'posts', q('return=representation')), { body: '[]', n: 0 })).toMatchObject({ status: 200, body: '[]', headers: { 'Content-Range': '*/*' } });
  });
  it('single-object writes throw PGRST116 (the caller rolls back) unless exactly one row', () => {
    const plan = planUpdate(admin, 'posts', q('return=representation', 'application/vnd.pgrst.object+json'), { title: 'x' });
    expect(() => finishWrite(plan, { body: null, n: 2 })).toThrow(expect.objectContaining({ code: 'PGRST116' }));
    expect(finishWrite(plan, { body: '{"id":1}', n: 1 }).body).toBe('{"id":1}');
  });
  it('a tripped guard is a policy violation', () => {
    expect(() => finishWrite(planInsert(admin, 'posts', q(), {}), { body: null, n: 1, guard: 1 })).toThrow(expect.objectContaining({ code: '42501' }));
  });
});
