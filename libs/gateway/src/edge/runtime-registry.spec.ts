import { PlinthException, WireException } from '@plinth/common';
import { ErrorDialects } from './error-dialects';
import { EdgeRoute, MalformedPath, RuntimeRegistry } from './runtime-registry';

const route = (methods: EdgeRoute['methods'], path: string): EdgeRoute => ({ methods, path, body: 'none', handler: () => undefined });

describe(RuntimeRegistry.name, () => {
  const dialects = new ErrorDialects();
  const sut = new RuntimeRegistry(dialects);
  const root = route(['GET'], '/');
  const table = route(['GET', 'HEAD'], '/:table');
  const user = route(['GET'], '/admin/users/:id');
  const jwks = route(['GET'], '/.well-known/jwks.json');
  const object = route(['GET'], '/object/:bucket/*');
  sut.register({ name: 'rest', routes: [root, table] });
  sut.register({ name: 'auth', routes: [user, jwks], dialect: { render: (e) => new WireException(e.status, { msg: e.message }) } });
  sut.register({ name: 'storage', routes: [object] });

  it('matches literal segments, :params and a trailing catch-all, ignoring a trailing slash', () => {
    expect(sut.match('rest', 'GET', '')).toEqual({ route: root, params: {} });
    expect(sut.match('rest', 'GET', '/')).toEqual({ route: root, params: {} });
    expect(sut.match('rest', 'HEAD', '/todos/')).toEqual({ route: table, params: { table: 'todos' } });
    expect(sut.match('auth', 'GET', '/admin/users/42')).toEqual({ route: user, params: { id: '42' } });
    expect(sut.match('auth', 'GET', '/.well-known/jwks.json')?.route).toBe(jwks);
    expect(sut.match('auth', 'HEAD', '/.well-known/jwks.json')?.route).toBe(jwks);
    expect(sut.match('storage', 'GET', '/object/avatars/a/b%20c.png')).toEqual({ route: object, params: { bucket: 'avatars', '*': 'a/b c.png' } });
  });

  it('decodes parameters, and refuses a malformed one', () => {
    expect(sut.match('rest', 'GET', '/my%20table')?.params).toEqual({ table: 'my table' });
    expect(() => sut.match('rest', 'GET', '/bad%zz')).toThrow(MalformedPath);
  });

  it('matches nothing for another method, an extra or empty segment, or an unregistered runtime', () => {
    expect(sut.match('rest', 'POST', '/todos')).toBeUndefined();
    expect(sut.match('rest', 'GET', '/todos/extra')).toBeUndefined();
    expect(sut.match('rest', 'GET', '//todos')).toBeUndefined();
    expect(sut.match('auth', 'GET', '/admin/users')).toBeUndefined();
    expect(sut.match('functions', 'GET', '/')).toBeUndefined();
    expect(sut.match('rest', 'GET', '/(.*)')?.params).toEqual({ table: '(.*)' }); // a parameter, never a pattern
  });

  it('refuses a runtime registered twice', () => {
    expect(() => sut.register({ name: 'rest', routes: [] })).toThrow(/twice/);
  });

  it("registers the runtime's dialect: its errors in that shape, others in Plinth's", () => {
    const at = { method: 'GET', path: '/p/x/auth/v1/nowhere' };
    expect(dialects.render('auth', PlinthException.notFound('Route'), at)).toEqual({ status: 404, body: { msg: 'Route not found' }, headers: {} });
    expect(dialects.render('rest', PlinthException.notFound('Route'), at)).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'Route not found' } } });
    expect(dialects.render(undefined, new WireException(418, { own: true }), at)).toEqual({ status: 418, body: { own: true } });
  });
});
