import { structureExcess } from './plan-fit.service';

describe(structureExcess.name, () => {
  const projects = [
    { id: 'p2', ref: 'bbbb' },
    { id: 'p1', ref: 'aaaa' },
  ];

  it('lists projects over the tables limit by ref, then tables over the columns limit by ref and name', () => {
    const tables = [
      { projectId: 'p2', name: 'x', columns: 2 },
      { projectId: 'p2', name: 'y', columns: 9 },
      { projectId: 'p2', name: 'z', columns: 1 },
      { projectId: 'p1', name: 'wide', columns: 5 },
      { projectId: 'p1', name: 'a', columns: 1 },
      { projectId: 'p1', name: 'b', columns: 1 },
    ];
    expect(structureExcess(projects, tables, 2, 4)).toEqual([
      { limit: 'tables_per_project', max: 2, current: 3, project: 'aaaa' },
      { limit: 'tables_per_project', max: 2, current: 3, project: 'bbbb' },
      { limit: 'columns_per_table', max: 4, current: 5, project: 'aaaa', table: 'wide' },
      { limit: 'columns_per_table', max: 4, current: 9, project: 'bbbb', table: 'y' },
    ]);
  });

  it('is empty at the limits exactly', () => {
    expect(structureExcess(projects, [{ projectId: 'p1', name: 't', columns: 4 }], 1, 4)).toEqual([]);
  });

  it("ignores tables of projects that aren't listed (deleted ones)", () => {
    const tables = [
      { projectId: 'gone', name: 'a', columns: 50 },
      { projectId: 'gone', name: 'b', columns: 50 },
    ];
    expect(structureExcess(projects, tables, 1, 4)).toEqual([]);
  });
});
