import { PlinthException } from '@plinth/common';
import { Permissions } from './abilities';

describe(Permissions.name, () => {
  const orgA = '00000000-0000-4000-8000-00000000000a';
  const orgB = '00000000-0000-4000-8000-00000000000b';

  it('grants owners everything in their org only', () => {
    const p = new Permissions('u', [{ orgId: orgA, role: 'owner' }]);
    expect(p.can('delete', 'Project', orgA)).toBe(true);
    expect(p.can('read', 'Project', orgB)).toBe(false);
  });

  it('lets viewers read but not change', () => {
    const p = new Permissions('u', [{ orgId: orgA, role: 'viewer' }]);
    expect(p.can('read', 'Project', orgA)).toBe(true);
    expect(p.can('create', 'Project', orgA)).toBe(false);
    expect(p.can('read', 'AuditLog', orgA)).toBe(false);
  });

  it('lets developers manage keys but not delete projects or read the audit log', () => {
    const p = new Permissions('u', [{ orgId: orgA, role: 'developer' }]);
    expect(p.can('create', 'ApiKey', orgA)).toBe(true);
    expect(p.can('delete', 'Project', orgA)).toBe(false);
    expect(p.can('read', 'AuditLog', orgA)).toBe(false);
  });

  it('answers 404 to non-members and 403 to members without the permission', () => {
    const p = new Permissions('u', [{ orgId: orgA, role: 'billing' }]);
    expect(() => p.assert('read', 'Project', orgB, 'Project')).toThrow(PlinthException);
    try {
      p.assert('read', 'Project', orgB, 'Project');
    } catch (e) {
      expect((e as PlinthException).status).toBe(404);
    }
    try {
      p.assert('create', 'Project', orgA, 'Project');
    } catch (e) {
      expect((e as PlinthException).status).toBe(403);
    }
    expect(() => p.assert('read', 'Project', orgA, 'Project')).not.toThrow();
  });
});
