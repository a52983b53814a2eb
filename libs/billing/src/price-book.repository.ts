import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MeterPrice, PriceVersion } from './price-book';

const TTL_MS = 60_000;

interface Row {
  plan_id: string;
  version: number;
  effective_from: Date;
  currency: string;
  base_fee_minor: string;
  meters: Record<string, MeterPrice>;
}

/** Data access for control.price_book (append-only versions), cached briefly. */
@Injectable()
export class PriceBookRepository {
  private cache: { versions: PriceVersion[]; until: number } | undefined;

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async all(): Promise<PriceVersion[]> {
    const now = Date.now();
    if (this.cache && this.cache.until > now) return this.cache.versions;
    const rows = (await this.db.query(
      `SELECT plan_id, version, effective_from, currency, base_fee_minor, meters FROM control.price_book ORDER BY plan_id, version`,
    )) as Row[];
    const versions = rows.map((r) => ({ ...r, base_fee_minor: Number(r.base_fee_minor), effective_from: new Date(r.effective_from) }));
    this.cache = { versions, until: now + TTL_MS };
    return versions;
  }

  /** The version of a plan that prices a period starting at `periodStart` (null: the plan has no prices). */
  async versionAt(planId: string, periodStart: Date): Promise<PriceVersion | null> {
    const candidates = (await this.all()).filter((v) => v.plan_id === planId && v.effective_from.getTime() <= periodStart.getTime());
    return candidates.sort((a, b) => b.version - a.version)[0] ?? null;
  }

  /** Appends a version (the caller checked `effective_from` lies after every open period). */
  async insert(v: Omit<PriceVersion, 'version'>): Promise<PriceVersion> {
    const rows = (await this.db.query(
      `INSERT INTO control.price_book (plan_id, version, effective_from, currency, base_fee_minor, meters)
       SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5 FROM control.price_book WHERE plan_id = $1
       RETURNING version`,
      [v.plan_id, v.effective_from, v.currency, v.base_fee_minor, JSON.stringify(v.meters)],
    )) as Array<{ version: number }>;
    this.cache = undefined;
    return { ...v, version: rows[0].version };
  }

  forget(): void {
    this.cache = undefined;
  }
}
