/* Parse Server Cloud Code for functions.bench.ts: the same two handlers as the bench's Plinth functions. */
/* global Parse */
Parse.Cloud.define('hello', () => ({ hello: 'world' }));
Parse.Cloud.define('read', async (req) => {
  const q = new Parse.Query('Item');
  q.equalTo('id', Number(req.params.id));
  const rows = await q.find();
  return rows.map((r) => ({ id: r.get('id'), name: r.get('name') }));
});
