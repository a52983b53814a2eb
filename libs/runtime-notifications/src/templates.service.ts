import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditService } from '@plinth/audit';
import { Clock, PlinthException } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import type { Principal } from '@plinth/identity';
import { ProjectsService } from '@plinth/tenancy';
import type { CreateTemplateInput, PreviewTemplateInput, UpdateTemplateInput } from './notifications.dto';
import { ChangeCapture } from './change-capture';
import { Rendered, renderDigestKey, renderTemplate } from './template-renderer';
import { TemplateRow, TemplatesRepository } from './templates.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TemplateView {
  id: string;
  name: string;
  description: string;
  email: TemplateRow['email'];
  inapp: TemplateRow['inapp'];
  webhook: TemplateRow['webhook'];
  digest: TemplateRow['digest'];
  triggers: TemplateRow['triggers'];
  created_at: string;
  updated_at: string;
}

const view = (t: TemplateRow): TemplateView => ({
  id: t.id,
  name: t.name,
  description: t.description,
  email: t.email,
  inapp: t.inapp,
  webhook: t.webhook,
  digest: t.digest ?? null,
  triggers: t.triggers ?? [],
  created_at: new Date(t.created_at).toISOString(),
  updated_at: new Date(t.updated_at).toISOString(),
});

/**
 * A project's notification templates, for console users (developers and above change them; any member reads).
 * Every part is checked by rendering it with empty data when saved, so a template that can't parse is refused then,
 * not at send time.
 */
@Injectable()
export class TemplatesService {
  constructor(
    private readonly tx: ControlTransactions,
    private readonly projects: ProjectsService,
    private readonly repo: TemplatesRepository,
    private readonly audit: AuditService,
    private readonly capture: ChangeCapture,
    private readonly clock: Clock,
  ) {}

  /** What a saved template must satisfy beyond its parts rendering: a digest batches emails, so it needs one. */
  private async check(row: TemplateRow): Promise<void> {
    if (row.digest && !row.email) throw PlinthException.badRequest('A digest batches emails: the template needs an email part', { field: 'digest' });
    await renderTemplate(row, {});
    await renderDigestKey(row, {});
  }

  private async project(p: Principal, ref: string, action: 'read' | 'update') {
    const project = await this.projects.get(p, ref);
    if (action === 'update') p.permissions.assert('update', 'Project', project.org_id, 'Project');
    return project;
  }

  private async template(projectId: string, id: string): Promise<TemplateRow> {
    const t = UUID.test(id) ? await this.repo.get(projectId, id) : null;
    if (!t) throw PlinthException.notFound('Template');
    return t;
  }

  async create(p: Principal, ref: string, input: CreateTemplateInput): Promise<TemplateView> {
    const project = await this.project(p, ref, 'update');
    const now = this.clock.now();
    const row: TemplateRow = { id: randomUUID(), project_id: project.id, name: input.name, description: input.description ?? '', email: input.email ?? null, inapp: input.inapp ?? null, webhook: input.webhook ?? null, digest: input.digest ?? null, triggers: input.triggers ?? [], created_at: now, updated_at: now };
    await this.check(row);
    await this.tx.run(async (m) => {
      if (!(await this.repo.insert(m, row))) throw PlinthException.conflict(`A template named ${input.name} already exists in this project`);
      // Its trigger events are captured from now on, in this transaction (as a webhook subscription does).
      if (row.triggers.length) await this.capture.ensure(m, { id: project.id, ref: project.ref }, row.triggers.map((x) => x.event));
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'notification_template.create', targetType: 'notification_template', targetId: row.id, details: { ref, name: row.name } });
    });
    return view(row);
  }

  async list(p: Principal, ref: string): Promise<TemplateView[]> {
    const project = await this.project(p, ref, 'read');
    return (await this.repo.list(project.id)).map(view);
  }

  async get(p: Principal, ref: string, id: string): Promise<TemplateView> {
    const project = await this.project(p, ref, 'read');
    return view(await this.template(project.id, id));
  }

  async update(p: Principal, ref: string, id: string, input: UpdateTemplateInput): Promise<TemplateView> {
    const project = await this.project(p, ref, 'update');
    const current = await this.template(project.id, id);
    const next: TemplateRow = {
      ...current,
      name: input.name ?? current.name,
      description: input.description ?? current.description,
      email: input.email === undefined ? current.email : input.email,
      inapp: input.inapp === undefined ? current.inapp : input.inapp,
      webhook: input.webhook === undefined ? current.webhook : input.webhook,
      digest: input.digest === undefined ? current.digest : input.digest,
      triggers: input.triggers ?? current.triggers ?? [],
      updated_at: this.clock.now(),
    };
    if (!next.email && !next.inapp && !next.webhook) throw PlinthException.badRequest('A template keeps at least one of email, inapp, webhook');
    await this.check(next);
    const saved = await this.tx.run(async (m) => {
      const r = await this.repo.update(m, next);
      if (r === 'conflict') throw PlinthException.conflict(`A template named ${next.name} already exists in this project`);
      if (!r) throw PlinthException.notFound('Template');
      if (next.triggers.length) await this.capture.ensure(m, { id: project.id, ref: project.ref }, next.triggers.map((x) => x.event));
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'notification_template.update', targetType: 'notification_template', targetId: id, details: { ref, changed: Object.keys(input).sort() } });
      return r;
    });
    return view(saved);
  }

  async remove(p: Principal, ref: string, id: string): Promise<void> {
    const project = await this.project(p, ref, 'update');
    await this.template(project.id, id);
    await this.tx.run(async (m) => {
      if (!(await this.repo.delete(m, project.id, id))) throw PlinthException.notFound('Template');
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'notification_template.delete', targetType: 'notification_template', targetId: id, details: { ref } });
    });
  }

  async preview(p: Principal, ref: string, id: string, input: PreviewTemplateInput): Promise<Rendered> {
    const project = await this.project(p, ref, 'read');
    return renderTemplate(await this.template(project.id, id), input.data);
  }

  /** The project's template called `name` rendered with `data`, for a send (404 when it has none of that name). */
  async renderForSend(projectId: string, name: string, data: Record<string, unknown>): Promise<Rendered & { name: string; digest?: { window_seconds: number; key: string } }> {
    const t = await this.repo.byName(projectId, name);
    if (!t) throw PlinthException.notFound(`Template ${name}`);
    const rendered = { name: t.name, ...(await renderTemplate(t, data)) };
    return t.digest ? { ...rendered, digest: { window_seconds: t.digest.window_seconds, key: await renderDigestKey(t, data) } } : rendered;
  }
}
